"""The TLS benchmark (`python -m bench --only tls`): the server's own
account of its measured window, the ratios and targets, the report, a
server child serving https on 127.0.0.1 on each loop, and, where wrk and
trustme are installed, a smoke run. Nothing here asserts a timing."""
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

import pytest

from bench import __main__ as cli
from bench import tls
from bench.loops import REQUEST

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the TLS bench pins cores and runs wrk on Linux")

needs_trustme = pytest.mark.skipif(
    __import__("importlib").util.find_spec("trustme") is None,
    reason="trustme is not installed (pip install '.[bench]')")
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None,
                               reason="wrk is not installed (Debian/Ubuntu: apt-get install wrk)")


# ---------------------------------------------------------------- parsing

def test_parse_measured_reads_the_window():
    assert tls.parse_measured("measured 1500000 30 0 0\n") == {
        "cpu_ns": 1500000, "requests": 30, "handshakes": 0, "closed": 0}
    assert tls.parse_measured("connected 0.25") is None
    assert tls.parse_measured("") is None


class FakeLoop:
    def __init__(self):
        self.timers = []

    def call_later(self, delay, callback):
        self.timers.append((delay, callback))

    def fire(self):
        delay, callback = self.timers.pop(0)
        callback()
        return delay


def test_server_state_measures_after_all_connections_and_a_warmup():
    out = io.StringIO()
    loop = FakeLoop()
    state = tls.ServerState(loop, expected=2, warmup=0.5, window=3, out=out)
    state.connected()
    state.requests += 7        # before the last handshake: not in the window
    assert loop.timers == [] and out.getvalue() == ""
    state.connected()
    assert out.getvalue().startswith("connected ")
    assert loop.fire() == 0.5  # the warm-up ends: the window starts
    state.requests += 4
    assert loop.fire() == 3
    measured = tls.parse_measured(out.getvalue().splitlines()[-1])
    assert measured["requests"] == 4
    assert measured["handshakes"] == measured["closed"] == 0
    assert measured["cpu_ns"] >= 0


def test_server_state_counts_connections_opened_and_closed_in_the_window():
    out = io.StringIO()
    loop = FakeLoop()
    state = tls.ServerState(loop, expected=1, warmup=0, window=1, out=out)
    state.connected()
    loop.fire()
    state.lost()
    state.connected()            # a reconnection: no second warm-up
    assert len(loop.timers) == 1
    loop.fire()
    measured = tls.parse_measured(out.getvalue().splitlines()[-1])
    assert (measured["handshakes"], measured["closed"]) == (1, 1)


def test_ratios_and_targets_are_taken_round_by_round():
    samples = {"asyncio": [100.0, 200.0], "uvloop": [60.0, 120.0],
               "fastsel.aio": [50.0, 120.0]}
    result = tls.case("server", "server CPU ns per request", samples, tls.SERVER_TARGET)
    assert result["vs_asyncio"]["fastsel.aio"]["per_round"] == pytest.approx([0.5, 0.6])
    assert result["vs_asyncio"]["uvloop"]["median"] == pytest.approx(0.6)
    assert result["target"]["versus"] == "asyncio" and result["target"]["at_most"] == 0.55
    assert result["target"]["median"] == pytest.approx(0.55) and result["target"]["met"]
    client = tls.case("client", "client CPU ns per round trip", samples, tls.CLIENT_TARGET)
    assert client["target"]["per_round"] == pytest.approx([50 / 60, 1.0])
    assert client["target"]["met"]
    text = tls.table([result, client])
    assert "| server | 0.60 [0.60–0.60] | 0.55 [0.50–0.60] | ÷ asyncio: 0.55 [0.50–0.60] " \
           "(≤ 0.55: met) |" in text
    alone = tls.case("server", "unit", {"asyncio": [1.0], "uvloop": [2.0]}, tls.SERVER_TARGET)
    assert "target" not in alone and tls.table([alone]).endswith("| – |")


def test_without_trustme_the_tls_part_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "trustme", None)
    results, skipped = tls.run(rounds=1, wrk_seconds=1)
    assert results == [] and "trustme is not installed" in skipped[0]


@needs_trustme
def test_loops_chosen_keep_asyncio_and_every_name_is_known(monkeypatch):
    factories, _ = tls.loop_factories()
    assert set(factories) <= set(tls.LOOP_NAMES)
    given = {}

    def run_client(directory, cert, key, factories, *rest):
        given["client"] = list(factories)
        return []

    def run_server(cert, key, factories, *rest):
        given["server"] = list(factories)
        return []

    monkeypatch.setattr(tls, "loop_factories", lambda: (
        {"asyncio": 1, "fastsel.aio": 2, "uvloop": 3}, []))
    monkeypatch.setattr(tls, "run_client", run_client)
    monkeypatch.setattr(tls, "run_server", run_server)
    monkeypatch.setattr(tls.shutil, "which", lambda name: "/usr/bin/wrk")
    tls.run(rounds=1, wrk_seconds=1, loops=["uvloop"])
    assert given == {"client": ["asyncio", "uvloop"], "server": ["asyncio", "uvloop"]}


# ---------------------------------------------------------------- a real server child

@pytest.fixture(scope="module")
def certificate():
    pytest.importorskip("trustme")
    with tempfile.TemporaryDirectory() as directory:
        yield (directory,) + tls.make_certificate(directory)


@needs_trustme
@pytest.mark.parametrize("loop", ["asyncio", "fastsel.aio", tls.FLOOR])
def test_server_child_serves_https_and_reports_its_window(certificate, loop):
    directory, cert, key = certificate
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.tls", "--serve", loop, cert, key, "2", "0", "0.3"],
        cwd=tls.ROOT, stdout=subprocess.PIPE, text=True)
    try:
        ready = tls.read_line(child.stdout, tls.time.monotonic() + 30).split()
        assert ready[0] == "ready", ready
        context = tls.client_context(directory)
        clients = [context.wrap_socket(socket.create_connection(("127.0.0.1", int(ready[1])),
                                                                timeout=10),
                                       server_hostname="localhost") for _ in range(2)]
        try:
            connected = tls.read_line(child.stdout, tls.time.monotonic() + 30)
            assert connected.startswith("connected "), connected
            for client in clients:
                client.sendall(REQUEST[:7])
                client.sendall(REQUEST[7:] + REQUEST)  # one split, one whole
                received = b""
                while received.count(b"hello") < 2:
                    data = client.recv(65536)
                    assert data, f"connection closed after {received!r}"
                    received += data
                assert received.count(b"HTTP/1.1 200 OK") == 2
            measured = tls.parse_measured(tls.read_line(child.stdout,
                                                        tls.time.monotonic() + 30))
            assert measured is not None and measured["handshakes"] == measured["closed"] == 0
            assert 0 <= measured["requests"] <= 4 and measured["cpu_ns"] > 0
        finally:
            for client in clients:
                client.close()
    finally:
        child.terminate()
        rest = child.communicate(timeout=30)[0]
    assert "open " in rest  # SIGTERM stops the loop and says how many were open


@needs_trustme
def test_a_run_whose_handshakes_do_not_complete_gives_no_figure(certificate, monkeypatch):
    directory, cert, key = certificate
    # Nothing connects: "wrk" here is a command that only waits.
    monkeypatch.setattr(tls.subprocess, "Popen", popen_replacing_wrk(["sleep", "30"]))
    with pytest.raises(tls.TlsRunFailed, match="0 of 3 connections finished their TLS "
                                               "handshake within 1 s"):
        tls.wrk_one("asyncio", cert, key, 3, 0, 0.2, handshake_seconds=1)


def popen_replacing_wrk(command):
    real = subprocess.Popen

    def popen(args, **kwargs):
        if args[0] == "wrk":
            args = command
        return real(args, **kwargs)
    return popen


# ---------------------------------------------------------------- under wrk

@needs_trustme
@needs_wrk
@pytest.mark.parametrize("loop", ["asyncio", "fastsel.aio", tls.FLOOR])
def test_wrk_run_reports_steady_state_cpu_per_request(certificate, loop):
    _, cert, key = certificate
    figures = tls.wrk_one(loop, cert, key, 4, 0.2, 1)
    assert figures["requests"] > 0 and figures["ns_per_request"] > 0
    assert figures["handshakes"] == figures["closed"] == 0
    assert figures["wrk"]["requests"] >= figures["requests"]
    assert figures["wrk"]["non_2xx"] == 0
    assert figures["handshake_seconds"] >= 0


@needs_trustme
@needs_wrk
def test_smoke_run_writes_the_tls_table(tmp_path, monkeypatch):
    # Two loops are enough to check the report.
    factories, skipped = tls.loop_factories()
    monkeypatch.setattr(tls, "loop_factories", lambda: (
        {n: f for n, f in factories.items() if n in ("asyncio", "fastsel.aio")}, skipped))
    monkeypatch.setenv("PYTHONPATH", tls.ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cli.main(["--smoke", "--only", "tls", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    names = [entry["name"] for entry in results["tls"]]
    assert names == ["client: round trip on a kept-alive connection",
                     "client: new connection (handshake, one round trip, close)",
                     "server under wrk, 4 connections"], results["skipped"]
    server = results["tls"][2]
    assert set(server["server CPU ns per request"]) == {"asyncio", "fastsel.aio", tls.FLOOR}
    assert "target" in server
    text = (tmp_path / "results.md").read_text()
    assert "## TLS" in text and "| server under wrk, 4 connections | " in text

