"""The end-to-end benchmark (`python -m bench --wrk`): its servers, the
parsing of wrk's output, the ratios and the report, checked without wrk;
and, where wrk is installed, a short real run of each kind of server.
Nothing here asserts a timing."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from bench import __main__ as cli
from bench import churn, wrk, wrk_report, wrk_servers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the end-to-end bench reads /proc")

# wrk 4.1's output, as captured.
WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:40123/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms  410.22us   9.81ms   93.01%
    Req/Sec    19.14k   512.33    19.80k    70.00%
  19046 requests in 1.00s, 1.25MB read
Requests/sec:  19041.25
Transfer/sec:      1.25MB
"""
WRK_OUTPUT_WITH_ERRORS = """\
Running 1s test @ http://127.0.0.1:40123/nothing
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.05ms    4.25ms  40.67ms   95.05%
    Req/Sec   819.60    112.29     0.97k    80.00%
  815 requests in 1.00s, 414.05KB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 815
Requests/sec:    814.79
Transfer/sec:    413.94KB
"""


def test_parse_wrk_reads_requests_rate_and_errors():
    assert wrk.parse_wrk(WRK_OUTPUT) == {
        "requests": 19046, "requests_per_second": 19041.25,
        "non_2xx": 0, "socket_errors": [0, 0, 0, 0]}
    parsed = wrk.parse_wrk(WRK_OUTPUT_WITH_ERRORS)
    assert parsed["non_2xx"] == 815 and parsed["socket_errors"] == [0, 12, 0, 3]


def test_parse_wrk_refuses_output_without_a_count():
    with pytest.raises(ValueError, match="no request count"):
        wrk.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_cpu_used_splits_the_precise_run_time_as_the_ticks_do():
    # 0.30 s of ticks, a third of it in the kernel; 0.27 s of precise run time.
    user, kernel = wrk.cpu_used((1.0, 2.0, 10.0), (1.2, 2.1, 10.27))
    assert user == pytest.approx(0.18) and kernel == pytest.approx(0.09)
    assert wrk.cpu_used((1.0, 2.0, None), (1.2, 2.1, None)) == pytest.approx((0.2, 0.1))
    assert wrk.cpu_used((1.0, 2.0, 5.0), (1.0, 2.0, 5.004)) == pytest.approx((0.004, 0.0))


def test_cpu_times_of_this_process_grow():
    before = wrk.cpu_times(os.getpid())
    sum(range(3_000_000))
    after = wrk.cpu_times(os.getpid())
    assert all(b >= 0 for b in before[:2])
    if before[2] is not None:
        assert after[2] > before[2]


def test_complete_requests_counts_split_and_pipelined_requests():
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert wrk_servers.complete_requests(b"", request[:10]) == (0, request[:10])
    assert wrk_servers.complete_requests(request[:10], request[10:]) == (1, b"")
    assert wrk_servers.complete_requests(b"", request * 3 + request[:5]) == (3, request[:5])


def fake_sample(user, kernel, rps=1000.0):
    parsed = {"requests": 1000, "requests_per_second": rps, "non_2xx": 0,
              "socket_errors": [0, 0, 0, 0]}
    return wrk.sample(parsed, user / 1e6 * 1000, kernel / 1e6 * 1000)


def test_ratios_are_taken_round_by_round_against_asyncio():
    # CPU µs per request (user, kernel) in two rounds.
    samples = {
        ("protocol", "asyncio", 50): [fake_sample(6, 14), fake_sample(8, 12)],
        ("protocol", "uvloop", 50): [fake_sample(4, 12), fake_sample(5, 12)],
        ("protocol", "fastsel.aio", 50): [fake_sample(5, 11), fake_sample(5, 10)],
        ("selectors", "stdlib select", 50): [fake_sample(5, 15), fake_sample(5, 15)],
        ("selectors", "fastsel dispatch", 50): [fake_sample(4, 15), fake_sample(3, 15)],
    }
    protocol, selectors_case = wrk.analyse(samples, (50,))
    assert protocol["reference"] == "asyncio" and selectors_case["reference"] == "stdlib select"
    split = protocol["vs_reference"]["fastsel.aio"]
    assert split["total"]["per_round"] == pytest.approx([16 / 20, 15 / 20])
    assert split["user"]["per_round"] == pytest.approx([5 / 20, 5 / 20])
    assert split["kernel"]["per_round"] == pytest.approx([11 / 20, 10 / 20])
    vs_uvloop = protocol["fastsel_vs_uvloop"]
    assert vs_uvloop["per_round"] == pytest.approx([16 / 16, 15 / 17])
    assert vs_uvloop["median"] == pytest.approx((1 + 15 / 17) / 2)
    assert vs_uvloop["target"] == 0.95 and vs_uvloop["met"] is True
    assert selectors_case["vs_reference"]["fastsel dispatch"]["total"]["median"] == \
        pytest.approx((19 / 20 + 18 / 20) / 2)
    assert "fastsel_vs_uvloop" not in selectors_case
    assert protocol["requests_per_second"]["uvloop"]["median"] == 1000.0


def test_the_two_write_server_has_the_stricter_target():
    samples = {("protocol, 2 writes", loop, 500): [fake_sample(user, 10)]
               for loop, user in (("asyncio", 12), ("uvloop", 8), ("fastsel.aio", 7))}
    (case,) = wrk.analyse(samples, (500,))
    assert case["fastsel_vs_uvloop"]["target"] == 0.80
    assert case["fastsel_vs_uvloop"]["median"] == pytest.approx(17 / 18)
    assert case["fastsel_vs_uvloop"]["met"] is False
    assert "(≤ 0.80: not met)" in wrk_report.versus_uvloop(case)


def test_run_interleaves_rounds_and_drops_a_server_that_fails(monkeypatch):
    calls = []

    def fake_measure(server, variant, connection_counts, seconds, cores):
        calls.append((server, variant))
        if variant == "rloop":
            raise wrk.ServerFailed("did not start: no rloop here")
        return {c: fake_sample(5, 10) for c in connection_counts}

    monkeypatch.setattr(wrk, "measure", fake_measure)
    monkeypatch.setattr(wrk.shutil, "which", lambda name: "/usr/bin/wrk")
    monkeypatch.setattr(wrk, "matrix", lambda: ([("protocol", "asyncio"), ("protocol", "rloop"),
                                                 ("selectors", "stdlib select")], []))
    cases, skipped, note = wrk.run(rounds=2, seconds=1, connection_counts=(50, 500))
    assert calls == [("protocol", "asyncio"), ("protocol", "rloop"),
                     ("selectors", "stdlib select"),
                     ("protocol", "asyncio"), ("selectors", "stdlib select")]
    assert [(c["server"], c["connections"]) for c in cases] == [
        ("protocol", 50), ("protocol", 500), ("selectors", 50), ("selectors", 500)]
    assert all(c["variants"] == ["asyncio"] for c in cases[:2])
    assert all(len(c["cpu_us_per_request"]["asyncio"]["per_round"]) == 2 for c in cases[:2])
    assert skipped == ["end to end, protocol on rloop: did not start: no rloop here"]
    assert note


def test_a_selection_keeps_asyncio_and_the_selectors_variants():
    runs = [("protocol", "asyncio"), ("protocol", "uvloop"), ("protocol", "rloop"),
            ("streams", "asyncio"), ("streams", "uvloop"),
            ("selectors", "stdlib select"), ("selectors", "fastsel dispatch")]
    assert wrk.selected(runs) == runs
    assert wrk.selected(runs, servers=["streams"]) == [("streams", "asyncio"),
                                                       ("streams", "uvloop")]
    assert wrk.selected(runs, loops=["rloop"]) == [
        ("protocol", "asyncio"), ("protocol", "rloop"), ("streams", "asyncio"),
        ("selectors", "stdlib select"), ("selectors", "fastsel dispatch")]


def test_servers_and_loops_given_on_the_command_line_reach_the_runs(monkeypatch, tmp_path):
    asked = {}

    def fake_run(rounds, seconds, **kwargs):
        asked["wrk"] = kwargs
        return [], [], "not pinned"

    def fake_tls_run(rounds, seconds, **kwargs):
        asked["tls"] = kwargs
        return [], []

    monkeypatch.setattr(wrk, "run", fake_run)
    monkeypatch.setattr(cli.tls, "run", fake_tls_run)
    cli.main(["--smoke", "--only", "wrk", "--out", str(tmp_path),
              "--servers", "protocol, 2 writes", "streams", "--loops", "fastsel.aio"])
    assert asked["wrk"]["servers"] == ["protocol, 2 writes", "streams"]
    assert asked["wrk"]["loops"] == ["fastsel.aio"]
    cli.main(["--smoke", "--only", "tls", "--out", str(tmp_path), "--loops", "uvloop"])
    assert asked["tls"]["loops"] == ["uvloop"]
    with pytest.raises(SystemExit):
        cli.parse(["--only", "wrk", "--servers", "no such server"])


def test_without_wrk_the_report_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(wrk.shutil, "which", lambda name: None)
    cli.main(["--smoke", "--only", "wrk", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["wrk"] == [] and wrk.INSTALL_WRK in results["skipped"]
    assert "apt-get install wrk" in (tmp_path / "results.md").read_text()


def test_missing_frameworks_and_loops_are_skipped_with_a_reason(monkeypatch):
    monkeypatch.setitem(wrk_servers.LOOPS, "rloop", ("no_such_loop_module", "new_loop"))
    servers = dict(wrk_servers.SERVERS)
    servers["aiohttp"] = servers["aiohttp"][:2] + ("no_such_framework",)
    monkeypatch.setattr(wrk_servers, "SERVERS", servers)
    runs, skipped = wrk.matrix()
    assert not any(variant == "rloop" or server == "aiohttp" for server, variant in runs)
    assert "end to end, rloop: not installed (no module no_such_loop_module)" in skipped
    assert "end to end, aiohttp: not installed (no module no_such_framework)" in skipped
    assert [v for s, v in runs if s == "selectors"] == list(wrk_servers.SELECTOR_VARIANTS)


def test_placement_pins_two_cores_and_says_when_it_cannot(monkeypatch):
    monkeypatch.setattr(wrk.os, "sched_getaffinity", lambda pid: {3, 1, 2})
    assert wrk.placement() == ({1}, {2}, "server pinned to core 1, wrk to core 2")
    monkeypatch.setattr(wrk.os, "sched_getaffinity", lambda pid: {0})
    server, client, note = wrk.placement()
    assert server is client is None and note.startswith("not pinned: 1 core")


def test_report_tables_have_a_row_per_server_and_variant():
    samples = {(server, loop, 50): [fake_sample(5, 5 if loop == "fastsel.aio" else 10)]
               for server in ("protocol", "uvicorn")
               for loop in ("asyncio", "uvloop", "fastsel.aio")}
    del samples["uvicorn", "fastsel.aio", 50]  # as if it had failed
    samples[("selectors", "stdlib select", 50)] = [fake_sample(5, 10)]
    cases = wrk.analyse(samples, (50,))
    results = {"wrk": cases, "meta": {"settings": {"wrk_rounds": 1, "wrk_seconds": 1},
                                      "wrk_placement": "not pinned", "machine": {"peers": {}}}}
    text = "\n".join(wrk_report.markdown(results))
    assert f"| {wrk_servers.SERVERS['protocol'][0]} | 50 | 1 · 1.0k/s | 1.00 [1.00–1.00] · " \
           "1.0k/s | 0.67 [0.67–0.67] · 1.0k/s | 0.67 [0.67–0.67] (≤ 0.95: met) |" in text
    assert "| failed (see Skipped) | – |" in text
    assert f"| {wrk_servers.SELECTORS_LABEL} | 50 | 1 · 1.0k/s |\n" in text
    assert "| protocol | 50 | fastsel.aio | 1000 | 0.33 [0.33–0.33] | 0.33 [0.33–0.33] | " \
           "0.67 [0.67–0.67] | 0 |" in text


# ---------------------------------------------------------------- real servers

def start(server, variant):
    log = tempfile.TemporaryFile()
    try:
        child, port = wrk.start_server(server, variant, None, log)
    except BaseException:
        log.close()
        raise
    return child, port, log


def available(server, variant):
    runs, skipped = wrk.matrix()
    if (server, variant) not in runs:
        pytest.skip("; ".join(skipped))


# Every kind of server once, on a loop or a selector of each kind.
SERVED = [("protocol", "fastsel.aio"), ("protocol, 2 writes", "asyncio"),
          ("streams", "fastsel.aio"), ("aiohttp", "fastsel.aio"), ("uvicorn", "fastsel.aio"),
          ("selectors", "stdlib select"), ("selectors", "fastsel dispatch")]


@pytest.mark.parametrize("server, variant", SERVED)
def test_server_answers_split_and_pipelined_requests(server, variant):
    available(server, variant)
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    child, port, log = start(server, variant)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(request[:7])
            client.sendall(request[7:] + request)  # the first completed, a second whole
            received = b""
            while received.count(b"hello") < 2:
                data = client.recv(65536)
                assert data, f"connection closed after {received!r}"
                received += data
        assert received.count(b"HTTP/1.1 200 OK") == 2
    finally:
        wrk.stop_server(child)
        log.close()


def test_a_server_that_cannot_start_says_why():
    with pytest.raises(wrk.ServerFailed, match="unknown event loop 'no-such-loop'"):
        start("protocol", "no-such-loop")


@pytest.mark.skipif(shutil.which("wrk") is None,
                    reason="wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
@pytest.mark.parametrize("server, variant", [("protocol", "fastsel.aio"),
                                             ("selectors", "fastsel select")])
def test_wrk_run_reports_server_cpu(server, variant):
    measured = wrk.measure(server, variant, (2, 3), seconds=1, cores=(None, None))
    assert set(measured) == {2, 3}
    for figures in measured.values():
        assert figures["requests"] > 0 and figures["non_2xx"] == 0
        assert figures["socket_errors"] == [0, 0, 0, 0]
        assert figures["cpu_us_per_request"] > 0
        assert figures["cpu_us_per_request"] == pytest.approx(
            figures["user_us_per_request"] + figures["kernel_us_per_request"])


def test_servers_module_refuses_unknown_servers():
    done = subprocess.run([sys.executable, "-m", "bench.wrk_servers", "nothing", "asyncio"],
                          cwd=wrk.ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "unknown server 'nothing'" in done.stderr


# ------------------------------------------------------------- connection churn

def fake_churn_figures(**medians):
    return {name: {"median_ns": value, "kernel_share": 0.5 if name == "uvloop" else None,
                   "per_round_ns": [value]}
            for name, value in medians.items()}


def test_churn_table_gives_each_loop_its_ratios_to_uvloop_and_asyncio():
    text = churn.table({
        "server, 50 connections": fake_churn_figures(
            asyncio=40_000, **{"fastsel.aio": 30_000}, uvloop=20_000),
        "client create_connection + close": fake_churn_figures(asyncio=76_000),
    })
    rows = text.splitlines()[2:]
    assert rows == [
        "| server, 50 connections | asyncio | 40.0 µs | – | 2.00× | 1.00× |",
        "| server, 50 connections | fastsel.aio | 30.0 µs | – | 1.50× | 0.75× |",
        "| server, 50 connections | uvloop | 20.0 µs | 50% | 1.00× | 0.50× |",
        "| client create_connection + close | asyncio | 76.0 µs | – | – | 1.00× |",
    ]


def test_churn_report_takes_medians_of_cpu_and_of_the_kernel_share(capsys):
    figures = churn.report("server", {
        "uvloop": [(20_000, 15_000), (30_000, 18_000), (10_000, 8_000)],
        "asyncio": [(40_000, None), (50_000, 20_000), (60_000, 30_000)],
    })
    assert figures["uvloop"]["median_ns"] == 20_000
    assert figures["uvloop"]["kernel_share"] == 0.75  # of 0.75, 0.6, 0.8
    assert figures["uvloop"]["per_round_ns"] == [20_000, 30_000, 10_000]
    assert figures["asyncio"]["kernel_share"] is None  # one round did not know
    assert "(75% in the kernel)" in capsys.readouterr().out


def test_churn_kernel_share_leaves_out_rounds_that_used_no_cpu():
    """A short round can read no CPU at all (the thread clock did not move):
    its share is unknown, not a division by zero."""
    assert churn.kernel_share([(0, 0), (10_000, 4_000)]) == 0.4
    assert churn.kernel_share([(0, 0), (0, 0)]) is None


def test_churn_without_wrk_measures_the_client_and_says_why_not_the_server(
        monkeypatch, tmp_path):
    monkeypatch.setattr(churn.shutil, "which", lambda name: None)
    cli.main(["--smoke", "--only", "churn", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["churn"]) == ["client create_connection + close"]
    figures = results["churn"]["client create_connection + close"]
    assert {"asyncio", "fastsel.aio"} <= set(figures)
    assert all(f["median_ns"] > 0 for f in figures.values())
    assert any("wrk is not installed" in reason for reason in results["skipped"])
    assert "## Connection churn" in (tmp_path / "results.md").read_text()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_churn_smoke_run_measures_server_and_client():
    results = churn.run(rounds=1, seconds=1, connection_counts=(4,), clients=10,
                        names=["asyncio", "fastsel.aio"])
    assert list(results) == ["server, 4 connections", "client create_connection + close"]
    for figures in results.values():
        assert set(figures) == {"asyncio", "fastsel.aio"}
        assert all(f["median_ns"] > 0 for f in figures.values())
