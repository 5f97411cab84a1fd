"""Server CPU per request of an asyncio protocol HTTP server that answers
with two writes (header, then body), under wrk, on asyncio's loop, uvloop
and fastsel.aio.

    python -m bench.two_writes [--rounds R] [--seconds S] [--connections 50 500]
    python -m bench.two_writes --serve LOOP     # the server alone

The server runs alone on core 0 and wrk (one thread) on core 1; the loops
take turns round by round, and each figure is the median over rounds of the
server's CPU time (user + system, from /proc) per request, with its ratio to
uvloop's taken within each round.
"""
import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys

from . import wrk_servers

HEADER = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n"
BODY = b"Hello, world!"
LOOPS = ("asyncio", "uvloop", "fastsel.aio")


class TwoWrites(asyncio.Protocol):
    """Answers every complete request head with a header and a body write."""

    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        self.pending += data
        while True:
            end = self.pending.find(b"\r\n\r\n")
            if end < 0:
                return
            self.pending = self.pending[end + 4:]
            self.transport.write(HEADER)
            self.transport.write(BODY)


def new_loop(name):
    """A new event loop of that name (the end-to-end servers' table)."""
    return wrk_servers.new_event_loop(name)


def serve(name):
    loop = new_loop(name)
    server = loop.run_until_complete(
        loop.create_server(TwoWrites, "127.0.0.1", 0, backlog=1024))
    print("port", server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


def cpu_ticks(pid):
    """utime + stime of process pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def one_run(name, connections, seconds):
    """Server CPU nanoseconds per request of one wrk run."""
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "bench.two_writes", "--serve", name],
        stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        before = cpu_ticks(server.pid)
        out = subprocess.run(
            ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
             f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, check=True).stdout
        used = cpu_ticks(server.pid) - before
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return used * 1e9 / os.sysconf("SC_CLK_TCK") / max(requests, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", choices=LOOPS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, nargs="+", default=[50, 500])
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    for connections in args.connections:
        runs = {name: [] for name in LOOPS}
        for _ in range(args.rounds):
            for name in LOOPS:
                runs[name].append(one_run(name, connections, args.seconds))
        print(f"{connections} connections, server CPU per request (median of "
              f"{args.rounds} rounds), ratio to uvloop in the same round:")
        for name in LOOPS:
            ratios = [mine / ref for mine, ref in zip(runs[name], runs["uvloop"])]
            print(f"  {name:8} {statistics.median(runs[name]) / 1e3:6.2f} us  "
                  f"{statistics.median(ratios):.3f}x [{min(ratios):.3f}-{max(ratios):.3f}]")


if __name__ == "__main__":
    main()
