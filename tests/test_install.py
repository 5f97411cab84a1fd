"""fastsel.install() / uninstall(): the stdlib's selector users go through
fastsel, also modules imported after install(), and everything comes back."""
import asyncio
import multiprocessing.connection
import os
import selectors
import socket
import socketserver
import subprocess
import sys
import textwrap
import threading

import pytest

import fastsel
from fastsel import _install

STDLIB = {name: getattr(selectors, name) for name in _install.SELECTOR_NAMES
          if hasattr(selectors, name)}
BOUND = {
    (module, attr): getattr(sys.modules[module], attr)
    for module, attr in _install.BOUND_AT_IMPORT.items()
    if module in sys.modules and hasattr(sys.modules[module], attr)
}


def assert_stdlib_restored():
    for name, cls in STDLIB.items():
        assert getattr(selectors, name) is cls, name
    for (module, attr), cls in BOUND.items():
        assert getattr(sys.modules[module], attr) is cls, (module, attr)


@pytest.fixture
def installed():
    fastsel.install()
    yield
    fastsel.uninstall()
    assert_stdlib_restored()


def test_install_swaps_every_selector_name(installed):
    for name in STDLIB:
        if hasattr(fastsel, name):
            assert getattr(selectors, name) is getattr(fastsel, name), name
    assert subprocess._PopenSelector is fastsel.PollSelector
    assert socketserver._ServerSelector is fastsel.PollSelector
    assert multiprocessing.connection._WaitSelector is fastsel.PollSelector
    assert _install.installed()


def test_install_twice_and_uninstall_twice_are_harmless():
    fastsel.install()
    fastsel.install()
    assert selectors.DefaultSelector is fastsel.DefaultSelector
    assert subprocess._PopenSelector is fastsel.PollSelector
    fastsel.uninstall()
    assert_stdlib_restored()
    fastsel.uninstall()
    assert_stdlib_restored()
    assert not _install.installed()


def test_uninstall_leaves_a_later_replacement_alone():
    class Theirs(selectors.SelectSelector):
        pass

    fastsel.install()
    socketserver._ServerSelector = Theirs
    selectors.PollSelector = Theirs
    fastsel.uninstall()
    try:
        assert socketserver._ServerSelector is Theirs
        assert selectors.PollSelector is Theirs
        assert subprocess._PopenSelector is STDLIB["PollSelector"]
    finally:
        socketserver._ServerSelector = STDLIB["PollSelector"]
        selectors.PollSelector = STDLIB["PollSelector"]
    assert_stdlib_restored()


# ------------------------------------------------ the stdlib really uses it

@pytest.fixture
def spies(monkeypatch):
    """fastsel's classes replaced by subclasses that record their use, then
    installed: whatever the stdlib instantiates shows up in `used`."""
    used = []
    for name in ("DefaultSelector", "PollSelector"):
        base = getattr(fastsel, name)

        class Spy(base):
            def __init__(self, *args, _name=name, **kwargs):
                super().__init__(*args, **kwargs)
                used.append(_name)

        monkeypatch.setattr(fastsel, name, Spy)
    fastsel.install()
    yield used
    fastsel.uninstall()
    assert_stdlib_restored()


def test_socketserver_serves_through_fastsel(spies):
    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.sendall(self.request.recv(100))

    with socketserver.TCPServer(("127.0.0.1", 0), Echo) as server:
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            with socket.create_connection(server.server_address, timeout=10) as c:
                c.sendall(b"hello")
                assert c.recv(100) == b"hello"
        finally:
            server.shutdown()
            thread.join()
    assert "PollSelector" in spies


def test_subprocess_communicate_through_fastsel(spies):
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read()[::-1])"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = proc.communicate(b"abc", timeout=30)
    assert out == b"cba"
    assert "PollSelector" in spies


def test_subprocess_communicate_timeout_through_fastsel(spies):
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; print('x', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.communicate(timeout=0.3)
    finally:
        proc.kill()
        out, _ = proc.communicate(timeout=30)
    assert out == b"x\n"
    assert spies.count("PollSelector") >= 1


def test_multiprocessing_wait_through_fastsel(spies):
    a, b = multiprocessing.connection.Pipe()
    with a, b:
        b.send(1)
        assert multiprocessing.connection.wait([a], timeout=5) == [a]
    assert "PollSelector" in spies


def test_asyncio_run_through_fastsel(spies):
    async def main():
        return type(asyncio.get_running_loop()._selector)

    selector_type = asyncio.run(main())
    assert issubclass(selector_type, fastsel.DefaultSelector.__mro__[1])
    assert "DefaultSelector" in spies


# ------------------------------------- modules imported after install()

AFTER_INSTALL = textwrap.dedent("""
    import selectors, sys
    stdlib_poll = selectors.PollSelector
    import fastsel
    fastsel.install()
    import subprocess, socketserver, multiprocessing.connection
    modules = [(subprocess, "_PopenSelector"), (socketserver, "_ServerSelector"),
               (multiprocessing.connection, "_WaitSelector")]
    if sys.version_info < (3, 13):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import telnetlib
        modules.append((telnetlib, "_TelnetSelector"))
    for module, attr in modules:
        assert getattr(module, attr) is fastsel.PollSelector, (module, attr)
    assert selectors.DefaultSelector is fastsel.DefaultSelector
    fastsel.uninstall()
    for module, attr in modules:
        assert getattr(module, attr) is stdlib_poll, (module, attr)
    assert selectors.PollSelector is stdlib_poll
    assert selectors.DefaultSelector.__module__ == "selectors"
    print(fastsel.IMPLEMENTATION, len(modules))
""")


@pytest.mark.parametrize("kind", ["c", "python"])
def test_modules_imported_after_install(kind, request):
    from conftest import compiled_opted_out

    if kind == "c" and compiled_opted_out(request.config):
        pytest.skip("compiled implementation opted out")
    env = dict(os.environ, FASTSEL_IMPL=kind)
    out = subprocess.run([sys.executable, "-c", AFTER_INSTALL], env=env,
                         check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.split()[0] == kind
