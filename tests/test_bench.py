"""Smoke tests of the benchmark: every variant runs a few iterations at tiny
sizes and the results are well formed. Nothing here asserts a timing.

Variants that wait for APIs still being written (dispatch(), fastsel.Loop,
fastsel.aio.EventLoop) run against small stand-ins defined below, so the code
that will measure them is exercised now.
"""
import asyncio
import collections
import json
import os
import selectors
import shutil
import signal
import sys
import types

import pytest

from bench import __main__ as cli
from bench import floor, loops, micro, report, runner, servers
from fastsel import _impl

pytestmark = pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="needs epoll")


@pytest.fixture(autouse=True)
def deadline():
    """A hung server loop fails the test instead of hanging the run."""
    def expired(signum, frame):
        raise TimeoutError("benchmark smoke test took over 120 s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


class DispatchingSelector(selectors.EpollSelector):
    """Stand-in for a selector with dispatch(): calls key.data(fileobj, events)
    for each ready key and returns how many."""

    calls = 0

    def dispatch(self, timeout=None):
        ready = self.select(timeout)
        for key, events in ready:
            key.data(key.fileobj, events)
        DispatchingSelector.calls += len(ready)
        return len(ready)


class StandInLoop:
    """Stand-in for fastsel.Loop: the asyncio-like subset the bench uses."""

    instances = 0

    def __init__(self):
        StandInLoop.instances += 1
        self._sel = selectors.DefaultSelector()
        self._ready = collections.deque()
        self._stopping = False

    def add_reader(self, fd, callback, *args):
        self._sel.register(fd, selectors.EVENT_READ, (callback, args))

    def remove_reader(self, fd):
        self._sel.unregister(fd)

    def call_soon(self, callback, *args):
        self._ready.append((callback, args))

    def stop(self):
        self._stopping = True

    def run_forever(self):
        self._stopping = False
        while not self._stopping:
            for key, _ in self._sel.select(0 if self._ready else None):
                self._ready.append(key.data)
            while self._ready:
                callback, args = self._ready.popleft()
                callback(*args)

    def close(self):
        self._sel.close()


class StandInEventLoop(asyncio.SelectorEventLoop):
    """Stand-in for fastsel.aio.EventLoop."""

    instances = 0

    def __init__(self):
        StandInEventLoop.instances += 1
        super().__init__(selectors.EpollSelector())


def stand_in_env(compiled=None):
    compiled = compiled or _impl.load("c")
    impls = {"fastsel-c": compiled,
             "stand-in": types.SimpleNamespace(EpollSelector=DispatchingSelector)}
    fastsel = types.SimpleNamespace(Loop=StandInLoop,
                                    aio=types.SimpleNamespace(EventLoop=StandInEventLoop))
    return types.SimpleNamespace(impls=impls, fastsel=fastsel, uvloop=None)


# ---------------------------------------------------------------- runner

def test_interleave_runs_variants_round_by_round():
    calls = []

    def fake(name, times):
        values = iter(times)
        return runner.Variant(name, lambda: calls.append(name) or next(values))

    variants = [fake("base", [1, 1, 10, 20, 40, 8]), fake("fast", [1, 1, 5, 5, 10, 10])]
    samples = runner.interleave("test", variants, rounds=2, repeat=2, warmup=1)
    # A warm-up round (not kept), then two rounds; two batches each: A A B B.
    assert calls == ["base", "base", "fast", "fast"] * 3
    assert samples == {"base": [10, 8], "fast": [5, 10]}
    ratio = runner.speedup(samples, "fast", "base")
    assert ratio["per_round"] == [2.0, 0.8]
    assert (ratio["min"], ratio["max"]) == (0.8, 2.0)


def test_interleave_takes_the_fastest_batch_of_a_round():
    values = iter([1, 1, 1, 7, 3, 5])
    samples = runner.interleave("t", [runner.Variant("v", lambda: next(values))],
                                rounds=1, repeat=3, warmup=1)
    assert samples == {"v": [3]}


def test_calibrate_gives_a_positive_count():
    assert runner.calibrate(lambda n: sum(range(n)), 0.001) >= 1


# ---------------------------------------------------------------- micro

@pytest.mark.parametrize("n, k", [(5, 0), (5, 3), (6, 6), (7, 1)])
def test_fdset_has_exactly_k_ready(n, k):
    fds = micro.FdSet(n, k)
    try:
        with selectors.EpollSelector() as sel:
            for fd in fds.fds:
                sel.register(fd, selectors.EVENT_READ)
            assert len(fds.fds) == n
            assert len(sel.select(0)) == k
    finally:
        fds.close()


@pytest.fixture(scope="module")
def micro_run():
    """The micro cases at tiny sizes, with a stand-in selector that has
    dispatch(); returns (results, skipped, how many callbacks it made)."""
    DispatchingSelector.calls = 0
    classes = micro.selector_classes() + [("stand-in", DispatchingSelector)]
    results, skipped = micro.run(False, rounds=2, repeat=1, target=0.0002,
                                 classes=classes, sizes=[(6, 3), (6, 1)], ops_fds=6)
    return results, skipped, DispatchingSelector.calls


def test_micro_every_variant_runs(micro_run):
    results, skipped, dispatched = micro_run
    by_group = {case["group"]: case for case in results}
    assert set(by_group) == {"select", "dispatch", "register", "modify", "get_key", "map_miss",
                             "loop_soon", "loop_later"}
    assert [c["params"]["k"] for c in results if c["group"] == "select"] == [3, 1]
    with_floor = shutil.which(os.environ.get("CC", "cc")) is not None
    selectors_ = ["stdlib", "fastsel-c", "fastsel-py", "stand-in"]
    for group in ("select", "register", "modify"):
        expected = selectors_ + ["raw epoll"] + (["C floor"] if with_floor else [])
        assert by_group[group]["variants"] == expected
        assert set(by_group[group]["vs_raw"]) == set(expected) - {"raw epoll"}
    for group in ("get_key", "map_miss"):
        assert by_group[group]["variants"] == selectors_
    for group in ("loop_soon", "loop_later"):  # asyncio's loop is the stdlib's
        assert by_group[group]["variants"] == ["stdlib", "fastsel-c", "fastsel-py"]
    assert by_group["dispatch"]["variants"] == [
        "stdlib", "fastsel-c select+call", "fastsel-c dispatch",
        "fastsel-py select+call", "fastsel-py dispatch",
        "stand-in select+call", "stand-in dispatch",
    ]
    assert dispatched > 0
    for case in results:
        assert case["params"]["n"] == (0 if case["group"].startswith("loop") else 6)
        for name in case["variants"]:
            stats = case["ns"][name]
            assert len(stats["per_round"]) == 2
            assert 0 < stats["min"] <= stats["median"] <= stats["max"]
            if name != "stdlib":
                assert case["vs_stdlib"][name]["median"] > 0
    if not with_floor:
        assert any("C floor" in reason for reason in skipped)


def test_micro_without_a_compiler_skips_the_floor(monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-here")
    results, skipped = micro.run(False, rounds=1, repeat=1, target=0.0002,
                                 sizes=[(2, 1)], ops_fds=2)
    assert all("C floor" not in case["variants"] for case in results)
    assert any("no C compiler" in reason for reason in skipped)


@pytest.mark.skipif(floor.compiler() is None, reason="no C compiler: the bench skips the floor too")
@pytest.mark.parametrize("mode", ["wait", "regunreg", "modify"])
def test_floor_program_runs(tmp_path, mode):
    exe = floor.build(str(tmp_path))
    proc = floor.FloorProcess(exe, mode, 6, 3)
    try:
        assert proc.run(10) > 0
        assert proc.run(20) > 0
    finally:
        proc.close()


# ---------------------------------------------------------------- servers

def test_server_registry_adds_variants_when_their_api_exists():
    without_dispatch = types.SimpleNamespace(EpollSelector=selectors.EpollSelector)
    env = stand_in_env(compiled=without_dispatch)
    names = [spec.name for spec, _ in loops.registry(env) if spec is not None]
    assert names == [
        "recv+send floor", "stdlib selectors loop",
        "fastsel-c select loop", "stand-in select loop", "stand-in dispatch loop",
        "fastsel.Loop", "asyncio", "asyncio + fastsel-c", "fastsel.aio.EventLoop",
        "asyncio streams", "fastsel.aio.EventLoop streams",
    ]
    versus = {spec.name: spec.versus for spec, _ in loops.registry(env) if spec is not None}
    assert versus["fastsel.aio.EventLoop"] == versus["asyncio + fastsel-c"] == "asyncio"
    assert versus["fastsel.aio.EventLoop streams"] == "asyncio streams"
    assert versus["asyncio"] is versus["asyncio streams"] is None
    bare = types.SimpleNamespace(impls={"fastsel-c": without_dispatch},
                                 fastsel=types.SimpleNamespace(), uvloop=None)
    reasons = [reason for spec, reason in loops.registry(bare) if spec is None]
    assert any(r.startswith("fastsel.Loop") for r in reasons)
    assert any(r.startswith("fastsel.aio.EventLoop") for r in reasons)
    assert any(r.startswith("uvloop") for r in reasons)
    assert any(r.startswith("fastsel-c dispatch loop") for r in reasons)


def test_servers_every_variant_serves():
    DispatchingSelector.calls = StandInLoop.instances = StandInEventLoop.instances = 0
    results, skipped = servers.run(rounds=2, repeat=1, target=0.0005,
                                   env=stand_in_env(), connection_counts=(3,))
    (case,) = results
    assert case["params"] == {"connections": 3}
    assert "fastsel.Loop" in case["variants"] and "stand-in dispatch loop" in case["variants"]
    assert DispatchingSelector.calls > 0
    assert StandInLoop.instances == 1
    assert StandInEventLoop.instances == 2  # protocol and streams servers
    assert case["peer"]["fastsel.aio.EventLoop streams"] == "asyncio streams"
    assert set(case["overhead_vs_peer"]) == set(case["peer"])
    for name in case["variants"]:
        assert len(case["ns_per_request"][name]["per_round"]) == 2
        assert case["ns_per_request"][name]["min"] > 0
        if name != loops.FLOOR:
            assert name in case["vs_floor"] and name in case["overhead_ns"]
    assert "uvloop: not installed (pip install uvloop)" in skipped
    # The compiled selector's own dispatch() joins when it exists.
    assert set(skipped) <= {"uvloop: not installed (pip install uvloop)",
                            "fastsel-c dispatch loop: EpollSelector has no dispatch()"}


def test_harness_notices_a_server_that_does_not_answer():
    class Mute(loops.Floor):
        def serve(self, target, batch=0, on_batch=None):
            pass

    harness = servers.Harness(Mute(), 2)
    try:
        with pytest.raises(RuntimeError, match="unanswered"):
            harness.run(1)
    finally:
        harness.close()


# ---------------------------------------------------------------- report

@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    cli.main(["--smoke", "--out", str(out)])
    return out, json.loads((out / "results.json").read_text()), (out / "results.md").read_text()


def test_results_json_records_the_machine(smoke_run):
    _, results, _ = smoke_run
    meta = results["meta"]
    assert meta["mode"] == "smoke" and meta["rounds"] == 1
    assert meta["clock"].startswith("process CPU time")
    machine = meta["machine"]
    for key in ("platform", "cpu_model", "cpu_count", "python", "fastsel_version",
                "fastsel_implementation", "cython_installed", "peers"):
        assert key in machine
    assert set(machine["peers"]) == {"uvloop", "rloop", "aiofastnet", "aiohttp", "uvicorn",
                                     "httptools", "matplotlib", "wrk", "cc"}
    assert [t["target"] for t in results["targets"]] == [
        report.target_label(t) for t in report.TARGETS]


def test_markdown_has_a_row_per_case_and_variant(smoke_run):
    _, results, text = smoke_run
    for case in results["micro"]:
        for name in case["variants"]:
            assert f"| {case['name']} | {name} |" in text
    for case in results["servers"]:
        for name in case["variants"]:
            if name != loops.FLOOR:
                assert f"| {case['name']} | {name} |" in text
    for target in report.TARGETS:
        assert f"| {report.target_label(target)} |" in text
    # The asyncio servers against asyncio's loop, the target row included.
    assert "## asyncio servers" in text
    assert "| fastsel.aio.EventLoop | asyncio | " in text
    assert "| fastsel.aio.EventLoop streams | asyncio streams | " in text
    # Threads feeding a loop: both cases, every loop, fastsel.aio's targets.
    assert [case["group"] for case in results["threads"]] == ["call_soon_threadsafe", "to_thread"]
    for case in results["threads"]:
        assert "fastsel.aio" in case["variants"]
        for name in case["variants"]:
            assert f"| {case['group']}: {case['name']} | {name} |" in text
    assert text.count("x uvloop: ") == 2
    # Absolute times stay in the JSON.
    assert " ns " not in text.replace("time ÷", "")


def test_plots_are_written(smoke_run):
    pytest.importorskip("matplotlib", reason="matplotlib absent: plots are skipped, and so is this")
    out, results, _ = smoke_run
    assert sorted(results["meta"]["plots"]) == ["dispatch.png", "select.png", "servers.png"]
    for name in results["meta"]["plots"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dispatch_plot_when_dispatch_was_measured(micro_run, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib absent: plots are skipped, and so is this")
    results, _, _ = micro_run
    written = report.plots({"micro": results, "servers": []}, str(tmp_path))
    assert sorted(os.path.basename(p) for p in written) == ["dispatch.png", "select.png"]


def test_without_matplotlib_the_report_says_so(smoke_run, tmp_path, monkeypatch):
    _, results, _ = smoke_run
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    results = dict(results, skipped=[], meta=dict(results["meta"]))
    text = report.write(results, str(tmp_path))
    assert "matplotlib is not installed" in text
    assert not list(tmp_path.glob("*.png"))


def fake_case(group, n, k, ratios):
    return {"group": group, "params": {"n": n, "k": k}, **ratios}


def stat(median):
    return {"median": median, "min": median - 0.1, "max": median + 0.1}


def rows_by_target(cases):
    return {row["target"]: row for row in report.evaluate_targets(cases)}


def label(index):
    return report.target_label(report.TARGETS[index])


def test_selector_targets_are_stated_against_the_c_floor():
    cases = [
        fake_case("select", 1000, 1, {"vs_floor": {"fastsel-c": stat(1.4), "stdlib": stat(4.4)}}),
        fake_case("select", 1000, 100, {"vs_floor": {"fastsel-c": stat(1.2), "stdlib": stat(3.6)}}),
        fake_case("register", 1000, 0, {"vs_floor": {"fastsel-c": stat(1.3), "stdlib": stat(2.1)}}),
    ]
    rows = rows_by_target(cases)
    select_1, select_100 = rows[label(0)], rows[label(1)]
    assert label(0) == "select(0), 1 ready: time ÷ C floor"
    assert (select_1["required"], select_1["result"]) == ("<= 1.5", "pass")
    assert (select_100["required"], select_100["result"]) == ("<= 1.15", "FAIL")
    # The reference: the stdlib's time ÷ the same C floor.
    assert select_1["reference_figure"]["median"] == 4.4
    register = rows[label(3)]
    assert (register["required"], register["result"]) == ("–", "reported")
    assert register["measured"]["median"] == 1.3 and register["reference_figure"]["median"] == 2.1
    assert rows[label(4)]["result"] == "not measured"  # modify


def test_speed_up_targets_pass_and_fail_on_the_median():
    cases = [
        fake_case("select", 1000, 100, {"vs_raw": {"fastsel-c": stat(1.0), "C floor": stat(1.3)}}),
        fake_case("get_key", 1000, 0, {"vs_stdlib": {"fastsel-c": stat(6)}}),
        fake_case("map_miss", 1000, 0, {"vs_stdlib": {"fastsel-c": stat(4), "C floor": stat(3)}}),
    ]
    rows = rows_by_target(cases)
    raw = rows[label(2)]
    assert raw["result"] == "FAIL"  # equal to raw epoll is not faster
    # The reference of a speed-up: the C floor's, the ceiling.
    assert raw["reference_figure"]["median"] == 1.3
    assert rows[label(5)]["result"] == "pass" and rows[label(5)]["reference_figure"] is None
    assert rows[label(6)]["result"] == "FAIL (target above the ceiling)"
    assert rows[label(8)]["result"] == "not measured"


@pytest.mark.parametrize("name", ["asyncio", "fastsel.aio"])
def test_two_writes_server_answers_each_request_with_header_and_body(name):
    import socket

    from bench import two_writes

    loop = two_writes.new_loop(name)
    ours, theirs = socket.socketpair()
    theirs.settimeout(10)

    async def serve():
        await loop.connect_accepted_socket(two_writes.TwoWrites, ours)

    try:
        loop.run_until_complete(serve())
        theirs.sendall(b"GET / HTTP/1.1\r\n\r\n" * 2)
        expected = (two_writes.HEADER + two_writes.BODY) * 2
        received = b""
        while len(received) < len(expected):
            loop.run_until_complete(asyncio.sleep(0.01))
            received += theirs.recv(4096)
        assert received == expected
    finally:
        loop.close()
        ours.close()
        theirs.close()


def test_callgrind_harness_lists_python_calls_per_request():
    """The callgrind harness's --calls mode (no valgrind needed) serves its
    requests and names the server's Python methods run once per request."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-m", "bench.callgrind_requests", "--calls", "--servers",
         "protocol", "--loops", "asyncio", "--requests", "40", "--connections", "4",
         "--warmup", "8"],
        capture_output=True, text=True, cwd=root, timeout=120)
    assert result.returncode == 0, result.stderr
    counts = {line.split()[1]: float(line.split()[0])
              for line in result.stdout.splitlines()[1:] if line.strip()}
    assert counts["HelloProtocol.data_received"] == 1.0


CALLGRIND_OUTPUT = """\
# callgrind format
version: 1
events: Ir
ob=(1) /usr/lib/libpython3.11.so.1.0
fl=(1) ceval.c
fn=(1) _PyEval_EvalFrameDefault
10 700
cob=(2) /site/fastsel/_aio_c.so
cfn=(2) run_handle
calls=3 20
11 250
fn=(3) PyObject_Malloc
+2 50
ob=(2)
fl=(2) _aio_c.c
fn=(2)
20 150
cob=(3) /usr/lib/python3.11/lib-dynload/_asyncio.cpython-311.so
cfn=(4) task_step
calls=1 5
21 100
ob=(3)
fn=(4)
5 60
ob=(4) /lib/libc.so.6
fn=(5) memcpy
* 40
totals: 1000
"""


def test_callgrind_split_counts_each_object_own_instructions(tmp_path):
    """bench.callgrind splits what callgrind counted by shared object, each
    function's own instructions only (a call's inclusive cost is the
    callee's), and names the interpreter's share of it."""
    from bench import callgrind

    out_file = tmp_path / "callgrind.out"
    out_file.write_text(CALLGRIND_OUTPUT)
    assert callgrind.totals(str(out_file)) == 1000
    assert callgrind.instructions_by_object(str(out_file)) == {
        "/usr/lib/libpython3.11.so.1.0": 750,
        "/site/fastsel/_aio_c.so": 150,
        "/usr/lib/python3.11/lib-dynload/_asyncio.cpython-311.so": 60,
        "/lib/libc.so.6": 40,
    }
    assert callgrind.interpreter_share(str(out_file)) == pytest.approx(0.81)


def test_callgrind_connect_client_side():
    """What bench.callgrind_connect runs under valgrind, run without it:
    each case makes its connections, one after the other."""
    import socket
    import subprocess
    import threading

    from bench import callgrind_connect

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def accept_and_count():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                accepted.append(1)
                conn.close()

        threading.Thread(target=accept_and_count, daemon=True).start()
        port = str(listener.getsockname()[1])
        for case in callgrind_connect.CASES:
            done = subprocess.run(
                [sys.executable, "-m", "bench.callgrind_connect", "connect", case,
                 "asyncio", port, "5"],
                capture_output=True, text=True, cwd=root, timeout=120)
            assert done.returncode == 0, done.stderr
    assert len(accepted) == 5 * len(callgrind_connect.CASES)


def test_callgrind_connect_tls_client_side(tmp_path):
    """The TLS cases of bench.callgrind_connect, run without valgrind
    against the harness's own echo peer: each makes its connections (or
    round trips) and closes cleanly."""
    import subprocess

    pytest.importorskip("trustme")
    from bench import callgrind_connect

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with callgrind_connect.TlsPeer(str(tmp_path)) as tls_port:
        port = str(tls_port())
        for case in callgrind_connect.TLS_CASES:
            done = subprocess.run(
                [sys.executable, "-m", "bench.callgrind_connect", "connect", case,
                 "fastsel.aio", port, "3", str(tmp_path)],
                capture_output=True, text=True, cwd=root, timeout=120)
            assert done.returncode == 0, done.stderr


def test_callgrind_callbacks_chain_runs_every_step():
    """What bench.callgrind_callbacks runs under valgrind, run without it."""
    from bench import callgrind_callbacks

    for loop_name in ("asyncio", "fastsel.aio"):
        assert callgrind_callbacks.run(loop_name, 50) == 50


def test_callgrind_server_new_connections():
    """bench.callgrind_server's server answers requests that each come on a
    connection of their own (--new-connections), then stops on EOF."""
    import subprocess

    from bench import callgrind_server

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.callgrind_server", "serve", "protocol", "asyncio"],
        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = server.stdout.readline().decode()
        assert line.startswith("ready "), server.stderr.read()
        callgrind_server.exchange(int(line.split()[1]), 5, new_connections=True)
        _, stderr = server.communicate(timeout=60)
        assert server.returncode == 0, stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
