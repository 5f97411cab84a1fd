"""End to end: each server of bench/wrk_servers.py alone in its own process
under `wrk`, as users run them.

The server is pinned to one core and wrk (one thread) to another when the
machine has two. Every round starts each (server, variant) once, in the same
order, and loads it at each connection count in turn, so that drift on a
shared machine hits them all alike.

A run's figure is the server's CPU time per request, user and kernel, taken
from /proc just before and just after wrk's run (startup excluded), divided
by the requests wrk completed. Ratios are taken within a round against
the same server on asyncio's own loop (the stdlib select loop for the
`selectors` server), then summarised by median and range.
"""
import importlib.util
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile

from . import wrk_servers
from .runner import paired, progress, summary

ASYNCIO = "asyncio"
STDLIB_SELECT = wrk_servers.SELECTOR_VARIANTS[0]
INSTALL_WRK = ("wrk: not installed (Debian/Ubuntu: apt-get install wrk); "
               "the end-to-end part is skipped")
# fastsel.aio's CPU per request ÷ uvloop's, at most (the targets).
TARGETS = {"protocol": 0.95, "protocol, 2 writes": 0.80, "streams": 0.95,
           "aiohttp": 0.95, "uvicorn": 0.95}
START_TIMEOUT = 30  # seconds for a server to print `ready`
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def installed(modules):
    """The first of the space-separated `modules` that cannot be imported, or None."""
    for name in (modules or "").split():
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except ModuleNotFoundError:  # a missing parent package
            return name
    return None


def matrix():
    """([(server, variant)], skipped reasons): what this environment can run."""
    skipped = []
    loops = []
    for name, (module, _) in wrk_servers.LOOPS.items():
        missing = installed(module)
        if missing:
            skipped.append(f"end to end, {name}: not installed (no module {missing})")
        else:
            loops.append(name)
    runs = []
    for server, (_, _, modules) in wrk_servers.SERVERS.items():
        missing = installed(modules)
        if missing:
            skipped.append(f"end to end, {server}: not installed (no module {missing})")
        else:
            runs += [(server, loop) for loop in loops]
    runs += [(wrk_servers.SELECTORS, v) for v in wrk_servers.SELECTOR_VARIANTS]
    return runs, skipped


def placement():
    """(server cores, wrk cores, note): two different cores when there are two."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None, "not pinned: this system cannot set CPU affinity"
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None, (f"not pinned: {len(cores)} core available, so server and wrk "
                            "share it and requests/s understates what the server can do")
    return {cores[0]}, {cores[1]}, f"server pinned to core {cores[0]}, wrk to core {cores[1]}"


def pinned(cores):
    """A preexec_fn putting the child on `cores` (None: leave it)."""
    if cores is None:
        return None
    return lambda: os.sched_setaffinity(0, cores)


def cpu_times(pid):
    """(user, kernel, run time) of process `pid` so far, in seconds.

    /proc/PID/stat counts user and kernel time in clock ticks (usually 10 ms);
    the run time is the nanosecond sum over its threads from
    /proc/PID/task/*/schedstat (None where the kernel does not keep it)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    run_ns = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                run_ns += int(f.read().split()[0])
    except OSError:
        run_ns = None
    return int(fields[11]) / ticks, int(fields[12]) / ticks, run_ns and run_ns / 1e9


def cpu_used(before, after):
    """(user, kernel) seconds between two cpu_times(): the precise run time,
    split in the proportion of the ticks (a run too short for any tick
    counts as user time); the ticks alone without a run time."""
    user, kernel = after[0] - before[0], after[1] - before[1]
    if before[2] is None or after[2] is None:
        return user, kernel
    total = after[2] - before[2]
    user_share = user / (user + kernel) if user + kernel else 1.0
    return total * user_share, total * (1 - user_share)


WRK_PATTERNS = {
    "requests": r"(\d+) requests in",
    "requests_per_second": r"Requests/sec:\s*([\d.]+)",
    "non_2xx": r"Non-2xx or 3xx responses:\s*(\d+)",
    "socket_errors": r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
}


def parse_wrk(text):
    """wrk's summary as numbers: requests, requests_per_second, non_2xx and
    socket_errors (connect, read, write, timeout); ValueError if it has none."""
    found = {key: re.search(pattern, text) for key, pattern in WRK_PATTERNS.items()}
    if found["requests"] is None or found["requests_per_second"] is None:
        raise ValueError(f"no request count in wrk's output: {text!r}")
    errors = found["socket_errors"]
    return {
        "requests": int(found["requests"].group(1)),
        "requests_per_second": float(found["requests_per_second"].group(1)),
        "non_2xx": int(found["non_2xx"].group(1)) if found["non_2xx"] else 0,
        "socket_errors": [int(n) for n in errors.groups()] if errors else [0, 0, 0, 0],
    }


def sample(parsed, user, kernel):
    """One run's figures from wrk's summary and the server's CPU seconds."""
    requests = max(parsed["requests"], 1)
    return parsed | {
        "user_us_per_request": user * 1e6 / requests,
        "kernel_us_per_request": kernel * 1e6 / requests,
        "cpu_us_per_request": (user + kernel) * 1e6 / requests,
    }


class ServerFailed(Exception):
    """A server did not start or died under load; str() says why."""


def start_server(server, variant, cores, log):
    """A server process writing its errors to `log`; returns (process, port)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.wrk_servers", server, variant], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=log, text=True, preexec_fn=pinned(cores),
    )
    ready, _, _ = select.select([child.stdout], [], [], START_TIMEOUT)
    line = child.stdout.readline().split() if ready else []
    if len(line) != 2 or line[0] != "ready":
        stop_server(child)
        raise ServerFailed(f"did not start: {last_line(log)}")
    return child, int(line[1])


def stop_server(child):
    child.kill()
    child.wait()
    child.stdout.close()


def last_line(log):
    log.seek(0)
    lines = log.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no error output"


def load(port, connections, seconds, cores):
    """One wrk run against 127.0.0.1:port; returns its output."""
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, preexec_fn=pinned(cores), timeout=seconds + 60,
    )
    if done.returncode:
        raise ServerFailed(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def measure(server, variant, connection_counts, seconds, cores):
    """A fresh server process under wrk at each connection count in turn;
    returns {connections: sample()}."""
    server_cores, wrk_cores = cores
    measured = {}
    # A file, not a pipe: a server logging a lot must never block on it.
    with tempfile.TemporaryFile() as log:
        child, port = start_server(server, variant, server_cores, log)
        try:
            for connections in connection_counts:
                before = cpu_times(child.pid)
                out = load(port, connections, seconds, wrk_cores)
                after = cpu_times(child.pid)
                if child.poll() is not None:
                    raise ServerFailed(f"died under load: {last_line(log)}")
                measured[connections] = sample(parse_wrk(out), *cpu_used(before, after))
        finally:
            stop_server(child)
    return measured


def selected(runs, servers=None, loops=None):
    """The runs of the named servers (all when None) on the named loops (all
    when None); asyncio's loop, the reference every ratio needs, stays, and
    the `selectors` server keeps its own variants."""
    return [(server, variant) for server, variant in runs
            if (servers is None or server in servers)
            and (loops is None or variant == ASYNCIO or variant in loops
                 or server == wrk_servers.SELECTORS)]


def run(rounds, seconds, connection_counts=(50, 500), servers=None, loops=None):
    """Every server and variant under wrk (or those `selected`), rounds
    interleaved; returns (results, skipped messages, placement note)."""
    if shutil.which("wrk") is None:
        progress(INSTALL_WRK)
        return [], [INSTALL_WRK], None
    runs, skipped = matrix()
    runs = selected(runs, servers, loops)
    server_cores, wrk_cores, note = placement()
    progress(f"end to end: {len(runs)} servers x {len(connection_counts)} connection counts, "
             f"{rounds} rounds of {seconds} s each; {note}")
    samples = {(server, variant, c): [] for server, variant in runs for c in connection_counts}
    failed = {}
    for index in range(rounds):
        for server, variant in runs:
            if (server, variant) in failed:
                continue
            try:
                measured = measure(server, variant, connection_counts, seconds,
                                   (server_cores, wrk_cores))
            except (ServerFailed, subprocess.TimeoutExpired) as exc:
                failed[server, variant] = str(exc)
                continue
            for connections, figures in measured.items():
                samples[server, variant, connections].append(figures)
        progress(f"end to end: round {index + 1}/{rounds}")
    for (server, variant), reason in failed.items():
        skipped.append(f"end to end, {server} on {variant}: {reason}")
    complete = {key: values for key, values in samples.items() if key[:2] not in failed}
    return analyse(complete, connection_counts), skipped, note


def reference_of(server):
    return STDLIB_SELECT if server == wrk_servers.SELECTORS else ASYNCIO


def analyse(samples, connection_counts):
    """One case per (server, connection count) from {(server, variant,
    connections): [sample, ...]}, with its ratios; see the module docstring."""
    cases = []
    servers = list(dict.fromkeys(server for server, _, _ in samples))
    for server in servers:
        for connections in connection_counts:
            here = {variant: runs for (s, variant, c), runs in samples.items()
                    if s == server and c == connections}
            if here:
                cases.append(case(server, connections, here))
    return cases


def case(server, connections, runs):
    """Figures of one server at one connection count; runs: {variant: [sample]}."""
    def series(field):
        return {variant: [r[field] for r in rs] for variant, rs in runs.items()}

    reference = reference_of(server)
    cpu, user, kernel = (series(f) for f in
                         ("cpu_us_per_request", "user_us_per_request", "kernel_us_per_request"))
    result = {
        "server": server,
        "label": (wrk_servers.SELECTORS_LABEL if server == wrk_servers.SELECTORS
                  else wrk_servers.SERVERS[server][0]),
        "connections": connections,
        "reference": reference,
        "variants": list(runs),
        "requests_per_second": {v: stats(xs) for v, xs in series("requests_per_second").items()},
        "cpu_us_per_request": {v: stats(xs) for v, xs in cpu.items()},
        "errors": {v: sum(r["non_2xx"] + sum(r["socket_errors"]) for r in rs)
                   for v, rs in runs.items()},
    }
    if reference in runs:
        # Each part over the reference's total, so user + kernel = total.
        result["vs_reference"] = {
            variant: {part: share(values, cpu, variant, reference)
                      for part, values in (("user", user), ("kernel", kernel), ("total", cpu))}
            for variant in runs
        }
    if server in TARGETS and "fastsel.aio" in runs and "uvloop" in runs:
        ratio = paired(cpu, "fastsel.aio", "uvloop", lambda a, b: a / b)
        result["fastsel_vs_uvloop"] = ratio | {
            "target": TARGETS[server], "met": ratio["median"] <= TARGETS[server]}
    return result


def stats(values):
    return summary(values) | {"per_round": values}


def share(part, total, variant, reference):
    """part[variant] ÷ total[reference], round by round."""
    values = [p / t for p, t in zip(part[variant], total[reference])]
    return stats(values)
