"""Connection churn: what a connection costs to open and close, per loop.

- Server: an asyncio protocol HTTP server (loop.create_server) in a child
  process on core 0, wrk on core 1 with "Connection: close", so every request
  comes on a new connection that the server closes after responding. The
  figure is the server's CPU (user + system, from the kernel) per request,
  with the share of it spent in the kernel.
- Client: loop.create_connection() to a numeric address, then
  transport.close() and connection_lost, against a thread that accepts and
  closes. The figure is the loop thread's CPU per connection (its kernel
  share where the platform reports a thread's own user and system time).

Loops are interleaved round by round; compare ratios from one run.

    python -m bench.churn [--rounds R] [--seconds S] [--connections 50 500]
                          [--clients N] [--loops asyncio fastsel uvloop]
    python -m bench --only churn [--quick | --smoke]

`python -m bench --only churn` adds the table (CPU per connection and its
ratio to uvloop's and asyncio's) to bench/results/results.md.
"""
import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

from . import wrk_servers

try:
    import resource
except ImportError:  # not on Windows
    resource = None

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\n\r\nHello, world!")
WRK_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(\w+)")
LOOPS = ("asyncio", "fastsel.aio", "uvloop")


def new_loop(name):
    """A new event loop of that name (the end-to-end servers' table)."""
    return wrk_servers.new_event_loop(name)


def available(names, skipped):
    """The loops of `names` that can be made here."""
    found = []
    for name in names:
        try:
            new_loop(name).close()
        except ImportError:
            skipped.append(f"churn: {name} is not installed")
            print(f"churn: {name} unavailable", file=sys.stderr)
        else:
            found.append(name)
    return found


class CloseAfterResponse(asyncio.Protocol):
    """Answers one request head, then closes the connection."""

    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        self.pending += data
        if b"\r\n\r\n" in self.pending:
            self.transport.write(RESPONSE)
            self.transport.close()


def serve(name):
    """Child process: serve on an ephemeral port until killed."""
    loop = new_loop(name)
    server = loop.run_until_complete(loop.create_server(
        CloseAfterResponse, "127.0.0.1", 0, backlog=socket.SOMAXCONN))
    usage = os.times()
    port = server.sockets[0].getsockname()[1]
    print(f"ready {usage.user:.6f} {usage.system:.6f} {port}", flush=True)
    loop.run_forever()


def pinned(core, argv):
    return (["taskset", "-c", str(core)] + argv) if shutil.which("taskset") else argv


def wrk_server(name, connections, seconds):
    """(CPU ns, of which kernel ns) per request of loop `name`'s server under
    wrk."""
    child = subprocess.Popen(
        pinned(0, [sys.executable, "-m", "bench.churn", "--serve", name]),
        stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        line = child.stdout.readline().split()
        if len(line) != 4 or line[0] != "ready":
            raise RuntimeError(f"churn server {name!r} did not start")
        _, setup_user, setup_system, port = line
        out = subprocess.run(
            pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                       "-H", "Connection: close", f"http://127.0.0.1:{port}/"]),
            capture_output=True, text=True, check=True).stdout
    finally:
        os.kill(child.pid, signal.SIGKILL)
        _, _, usage = os.wait4(child.pid, 0)
        child.returncode = -signal.SIGKILL
        child.stdout.close()
    requests = max(int(WRK_REQUESTS.search(out).group(1)), 1)
    user = usage.ru_utime - float(setup_user)
    system = usage.ru_stime - float(setup_system)
    return (user + system) * 1e9 / requests, system * 1e9 / requests


def accept_and_close(listener, stop):
    """Thread: accept every connection and close it at once."""
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.close()


class Lost(asyncio.Protocol):
    def __init__(self, done):
        self.done = done

    def connection_lost(self, exc):
        self.done.set_result(None)


async def connect_and_close(loop, address, count):
    for _ in range(count):
        done = loop.create_future()
        transport, _ = await loop.create_connection(
            lambda: Lost(done), *address)
        transport.close()
        await done


def thread_cpu():
    """(CPU ns, of which kernel ns) this thread has used; kernel None where
    the platform has no per-thread rusage. The CPU figure is the thread's
    clock: rusage's split only moves at the kernel's accounting ticks."""
    kernel = None
    if hasattr(resource, "RUSAGE_THREAD"):  # Linux
        kernel = resource.getrusage(resource.RUSAGE_THREAD).ru_stime * 1e9
    return time.thread_time_ns(), kernel


def client_cost(name, address, count):
    """(CPU ns, of which kernel ns or None) of the loop thread per
    create_connection + close of loop `name`."""
    loop = new_loop(name)
    try:
        loop.run_until_complete(connect_and_close(loop, address, 50))  # warm up
        cpu_before, kernel_before = thread_cpu()
        loop.run_until_complete(connect_and_close(loop, address, count))
        cpu_after, kernel_after = thread_cpu()
        kernel = None if kernel_before is None else (kernel_after - kernel_before) / count
        return (cpu_after - cpu_before) / count, kernel
    finally:
        loop.close()


def kernel_share(rounds):
    """Median share of CPU spent in the kernel over (cpu, kernel) rounds, or
    None when the kernel part is not known (or no round used any CPU)."""
    if any(kernel is None for _, kernel in rounds):
        return None
    shares = [kernel / cpu for cpu, kernel in rounds if cpu > 0]
    return statistics.median(shares) if shares else None


def report(title, samples):
    """{loop: [(cpu ns, kernel ns or None) per round]} -> figures, printed."""
    figures = {name: {"median_ns": statistics.median(cpu for cpu, _ in rounds),
                      "kernel_share": kernel_share(rounds),
                      "per_round_ns": [cpu for cpu, _ in rounds]}
               for name, rounds in samples.items()}
    print(f"{title}: CPU per connection (median of {len(next(iter(samples.values())))} rounds)")
    for name, figure in figures.items():
        value = figure["median_ns"]
        ratios = "".join(f"  {value / figures[peer]['median_ns']:.2f}x {peer}"
                         for peer in figures if peer != name)
        kernel = ("" if figure["kernel_share"] is None
                  else f"  ({figure['kernel_share']:.0%} in the kernel)")
        print(f"  {name:8} {value / 1000:7.2f} us{ratios}{kernel}")
    return figures


def ratio(figures, name, peer):
    """figures[name] / figures[peer] as text, "–" when either is missing."""
    if name not in figures or peer not in figures or not figures[peer]["median_ns"]:
        return "–"
    return f"{figures[name]['median_ns'] / figures[peer]['median_ns']:.2f}×"


def table(results):
    """One row per case and loop: CPU per connection and its ratios."""
    lines = ["| case | loop | CPU per connection | in the kernel | ÷ uvloop | ÷ asyncio |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for case, figures in results.items():
        for name, figure in figures.items():
            micros = figure["median_ns"] / 1000
            share = figure.get("kernel_share")
            kernel = "–" if share is None else f"{share:.0%}"
            lines.append(f"| {case} | {name} | {micros:.1f} µs | {kernel} | "
                         f"{ratio(figures, name, 'uvloop')} | "
                         f"{ratio(figures, name, 'asyncio')} |")
    return "\n".join(lines)


def section(results, directory):
    """The churn table as a Markdown section, also appended to results.md."""
    if not results:
        return ""
    text = ("\n\n## Connection churn\n\nCPU per connection, median of the rounds "
            "(server: its process under `wrk -H \"Connection: close\"`; client: the "
            "loop's thread, `create_connection` + close):\n\n" + table(results) + "\n")
    with open(os.path.join(directory, "results.md"), "a") as f:
        f.write(text)
    return text


def run(rounds, seconds, connection_counts, clients, names, skipped=None):
    """Both cases; returns {case: {loop: figures}}. What could not run is
    said on stderr and appended to `skipped`."""
    skipped = [] if skipped is None else skipped
    names = available(names, skipped)
    results = {}
    if shutil.which("wrk") is None:
        skipped.append("churn, server: wrk is not installed (apt-get install wrk)")
        print("churn: wrk not installed; server case skipped", file=sys.stderr)
    else:
        for connections in connection_counts:
            samples = {name: [] for name in names}
            for _ in range(rounds):
                for name in names:
                    samples[name].append(wrk_server(name, connections, seconds))
            results[f"server, {connections} connections"] = report(
                f"server, {connections} connections (wrk, Connection: close)", samples)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)
    stop = threading.Event()
    thread = threading.Thread(target=accept_and_close, args=(listener, stop), daemon=True)
    thread.start()
    try:
        samples = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                samples[name].append(client_cost(name, listener.getsockname(), clients))
        results["client create_connection + close"] = report(
            "client create_connection + close", samples)
    finally:
        stop.set()
        listener.close()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.churn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--loops", nargs="+", default=list(LOOPS), choices=LOOPS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    from .machine import raise_fd_limit
    raise_fd_limit()
    return run(args.rounds, args.seconds, args.connections, args.clients, args.loops)


if __name__ == "__main__":
    main()
