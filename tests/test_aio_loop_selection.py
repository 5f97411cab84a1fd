"""Each documented way of choosing fastsel.aio's loop gives fastsel's loop:
fastsel.aio.run(), asyncio.run/asyncio.Runner with loop_factory, the event
loop policy (with asyncio's subprocesses working under it), uvicorn --loop,
hypercorn, and gunicorn with fastsel.aio.GunicornWebWorker.

Each runs in a child process per implementation (FASTSEL_IMPL), as fastsel.aio
binds its implementation on import. The servers listen on 127.0.0.1; a
framework that is not installed skips its test (pip install fastsel[frameworks]).
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import fastsel

TESTS = os.path.dirname(os.path.abspath(__file__))
# Where fastsel is imported from: this checkout, or an installed copy.
FASTSEL_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastsel.__file__)))


def child_env(impl):
    path = os.pathsep.join([FASTSEL_PARENT, TESTS, os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, FASTSEL_IMPL=impl.IMPLEMENTATION, PYTHONPATH=path)


def run_python(code, impl, *args):
    """Run code in a child on implementation impl; return what it printed as JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          env=child_env(impl), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ------------------------------------------------------- asyncio's own idioms

IDIOM_CHILD = """
    import asyncio, json, sys, warnings
    import fastsel, fastsel.aio

    async def main():
        # asyncio's subprocesses need the policy's child watcher up to 3.13.
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print('hi')", stdout=asyncio.subprocess.PIPE)
        out, _ = await child.communicate()
        loop = type(asyncio.get_running_loop())
        return [f"{loop.__module__}.{loop.__qualname__}", fastsel.IMPLEMENTATION,
                out.decode().strip(), child.returncode]

    idiom = sys.argv[1]
    if idiom == "fastsel.aio.run":
        result = fastsel.aio.run(main())
    elif idiom == "asyncio.run":
        result = asyncio.run(main(), loop_factory=fastsel.aio.new_event_loop)
    elif idiom == "asyncio.Runner":
        with asyncio.Runner(loop_factory=fastsel.aio.new_event_loop) as runner:
            result = runner.run(main())
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.14+
            asyncio.set_event_loop_policy(fastsel.aio.EventLoopPolicy())
        result = asyncio.run(main())
    print(json.dumps(result))
"""

SINCE = {"asyncio.run": (3, 12), "asyncio.Runner": (3, 11)}


@pytest.mark.parametrize("idiom", ["fastsel.aio.run", "asyncio.run", "asyncio.Runner",
                                   "policy"])
def test_idiom_runs_subprocess_on_fastsel_loop(impl, idiom):
    since = SINCE.get(idiom, (3, 9))
    if sys.version_info < since:
        pytest.skip(f"{idiom} takes no loop_factory before Python {since[0]}.{since[1]}")
    assert run_python(IDIOM_CHILD, impl, idiom) == [
        "fastsel.aio.EventLoop", impl.IMPLEMENTATION, "hi", 0]


POLICY_CHILD = """
    import asyncio, json, warnings
    import fastsel.aio

    def warned(log, operation, action):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = action()
        log[operation] = [(w.category.__name__, w.filename) for w in caught]
        return result

    def use(read_policy_class):
        log = {}
        cls = warned(log, "read the name", read_policy_class)
        policy = warned(log, "instantiate", cls)
        warned(log, "set_event_loop_policy", lambda: asyncio.set_event_loop_policy(policy))
        warned(log, "get_event_loop_policy", asyncio.get_event_loop_policy)
        loop = warned(log, "new_event_loop", asyncio.new_event_loop)
        warned(log, "set_event_loop", lambda: asyncio.set_event_loop(loop))
        warned(log, "get_event_loop", asyncio.get_event_loop)
        if hasattr(policy, "get_child_watcher"):  # up to 3.13
            warned(log, "get_child_watcher", policy.get_child_watcher)
        asyncio.set_event_loop(None)
        loop.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_event_loop_policy(None)
        return log, cls, type(loop)

    theirs, their_class, _ = use(lambda: asyncio.DefaultEventLoopPolicy)
    ours, our_class, loop_class = use(lambda: fastsel.aio.EventLoopPolicy)
    print(json.dumps({"theirs": theirs, "ours": ours,
                      "subclass": issubclass(our_class, their_class),
                      "loop": loop_class is fastsel.aio.EventLoop}))
"""


def test_policy_is_asyncios_default_and_warns_as_it_does(impl):
    """fastsel.aio.EventLoopPolicy is asyncio's default policy with fastsel's
    loop, and every use of it warns exactly where asyncio's warns (3.14+
    deprecates policies: reading the name, getting and setting a policy)."""
    seen = run_python(POLICY_CHILD, impl)
    assert seen["subclass"] and seen["loop"]
    assert seen["ours"] == seen["theirs"]
    if sys.version_info >= (3, 14):
        assert seen["ours"]["read the name"] == [["DeprecationWarning", "<string>"]]


def test_policy_deprecated_only_from_3_14(impl):
    code = """
        import json, warnings
        warnings.simplefilter("error", DeprecationWarning)
        try:
            from fastsel.aio import EventLoopPolicy
        except DeprecationWarning as warning:
            print(json.dumps(str(warning)))
        else:
            print(json.dumps(None))
    """
    message = run_python(code, impl)
    if sys.version_info >= (3, 14):
        assert message.startswith("'fastsel.aio.EventLoopPolicy' is deprecated")
    else:
        assert message is None


# ------------------------------------------------------------------- servers

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answer_of_server(command, port, impl, tmp_path):
    """Start the server command, GET / from it on 127.0.0.1:port once it
    listens, stop it; return the body."""
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=child_env(impl),
                                  cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/")
                response = connection.getresponse()
                assert response.status == 200, log_path.read_text()
                return response.read().decode()
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            finally:
                connection.close()
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def require(module, minimum=None):
    """Import a framework or skip: they are optional (fastsel[frameworks])."""
    found = pytest.importorskip(
        module, reason=f"{module} is not installed (pip install fastsel[frameworks])")
    if minimum:
        from importlib.metadata import version

        installed = tuple(int(part) for part in version(module).split(".")[:2])
        if installed < minimum:
            pytest.skip(f"{module} {version(module)} installed; {minimum} takes a loop factory")
    return found


def test_uvicorn_loop_option(impl, tmp_path):
    require("uvicorn", minimum=(0, 36))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--loop", "fastsel.aio:new_event_loop",
               "--host", "127.0.0.1", "--port", str(port), "--lifespan", "on",
               "loop_selection_apps:asgi_app"]
    assert answer_of_server(command, port, impl, tmp_path) == (
        f"fastsel.aio.EventLoop {impl.IMPLEMENTATION}")


@pytest.mark.parametrize("idiom", ["asyncio.run", "fastsel.aio.run"])
def test_hypercorn_serve(impl, tmp_path, idiom):
    require("hypercorn")
    if idiom == "asyncio.run" and sys.version_info < (3, 12):
        pytest.skip("asyncio.run takes no loop_factory before Python 3.12")
    port = free_port()
    command = [sys.executable, os.path.join(TESTS, "loop_selection_apps.py"),
               "hypercorn", idiom, str(port)]
    assert answer_of_server(command, port, impl, tmp_path) == (
        f"fastsel.aio.EventLoop {impl.IMPLEMENTATION}")


def test_gunicorn_aiohttp_worker(impl, tmp_path):
    require("gunicorn")
    require("aiohttp")
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--worker-class",
               "fastsel.aio.GunicornWebWorker", "--bind", f"127.0.0.1:{port}",
               "--workers", "1", "loop_selection_apps:aiohttp_app()"]
    answer = answer_of_server(command, port, impl, tmp_path)
    served_by, policy = answer.split(" policy from ")
    assert served_by == f"fastsel.aio.EventLoop {impl.IMPLEMENTATION}"
    assert not policy.startswith("fastsel")
