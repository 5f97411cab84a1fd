"""Instructions per request of a keep-alive HTTP server, under callgrind.

    python -m bench.callgrind_server [--servers protocol,streams]
                                     [--loops asyncio,fastsel.aio,uvloop]
                                     [--requests 1000,3000] [--keep DIR]
                                     [--new-connections]

For each server and event loop, the server runs in a process of its own
under `valgrind --tool=callgrind` (on this interpreter, sys.executable),
and this process, uninstrumented, is its client: one connection, one request
at a time, each answered before the next is sent. The figure is
(I(many) - I(few)) / (many - few), where I(n) is the instructions the
server's process ran in all when it served n requests: start-up, the
connection and shutdown are the same in both runs and drop out. With
--new-connections each request comes on a connection of its own, which the
client closes once the response is in: the figure is then a connection's
whole cost to the server (accept, transport, request, close).

A loop whose module is missing is skipped, saying so. With --keep, the
callgrind output files stay in DIR (callgrind_annotate --inclusive=yes
reads them); the servers are bench.wrk_servers' own.

    python -m bench.callgrind_server serve SERVER LOOP

is the server's side: it prints `ready PORT` and serves until its stdin
closes.
"""
import argparse
import asyncio
import importlib
import os
import re
import socket
import subprocess
import sys
import tempfile

from . import wrk_servers

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
SERVERS = ("protocol", "streams")
LOOPS = ("asyncio", "fastsel.aio", "uvloop")


def serve(server, loop_name):
    """Serve `server` on `loop_name` until stdin closes (then exit normally,
    so that callgrind writes its totals)."""
    loop = wrk_servers.new_event_loop(loop_name)
    asyncio.set_event_loop(loop)
    running, port = loop.run_until_complete(wrk_servers.SERVERS[server][1]())
    stdin = sys.stdin.fileno()

    def on_stdin():
        if not os.read(stdin, 4096):
            loop.remove_reader(stdin)
            loop.stop()

    loop.add_reader(stdin, on_stdin)
    wrk_servers.announce(port)
    loop.run_forever()
    if hasattr(running, "close"):
        running.close()
    loop.close()


def exchange(port, requests, new_connections=False):
    """Send `requests` requests, each after the previous response has
    arrived whole: over one connection, or each on a new one."""
    if new_connections:
        for _ in range(requests):
            _exchange_on_one(port, 1)
    else:
        _exchange_on_one(port, requests)


def _exchange_on_one(port, requests):
    response_size = len(wrk_servers.RESPONSE)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(requests):
            sock.sendall(REQUEST)
            received = 0
            while received < response_size:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("the server closed the connection")
                received += len(chunk)


def instructions(server, loop_name, requests, out_file, new_connections=False):
    """Instructions the server's process ran, serving `requests` requests."""
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
               os.path.realpath(sys.executable), "-m", "bench.callgrind_server",
               "serve", server, loop_name]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # The same string hashes in every run: dict and set layouts, and so
    # the work of lookups, do not differ between the two runs.
    env = dict(os.environ, PYTHONHASHSEED="0")
    process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = process.stdout.readline().decode()
        if not line.startswith("ready "):
            raise RuntimeError(f"server did not start: {line!r} "
                               f"{process.stderr.read().decode()[-2000:]}")
        exchange(int(line.split()[1]), requests, new_connections)
        _, stderr = process.communicate(timeout=600)  # closes stdin: the server stops
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode:
        raise RuntimeError(f"server failed: {stderr.decode()[-2000:]}")
    with open(out_file) as f:
        totals = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    return int(totals.group(1))


def available(loop_name):
    module = wrk_servers.LOOPS[loop_name][0]
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def main(argv):
    if argv[:1] == ["serve"]:
        serve(*argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind_server",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--requests", default="1000,3000",
                        help="FEW,MANY requests (default 1000,3000)")
    parser.add_argument("--keep", help="keep the callgrind output files in this folder")
    parser.add_argument("--new-connections", action="store_true",
                        help="each request on a connection of its own")
    args = parser.parse_args(argv)
    few, many = (int(n) for n in args.requests.split(","))
    folder = args.keep or tempfile.mkdtemp(prefix="callgrind-server-")
    os.makedirs(folder, exist_ok=True)
    unit = "connection" if args.new_connections else "request"
    print(f"Python {sys.version.split()[0]}; instructions per {unit} "
          f"= (I({many}) - I({few})) / {many - few}")
    for server in args.servers.split(","):
        for loop_name in args.loops.split(","):
            if not available(loop_name):
                print(f"{server:10} {loop_name:12} skipped: not installed")
                continue
            counts = []
            for n in (few, many):
                out_file = os.path.join(folder, f"callgrind.{server}.{loop_name}.{n}")
                counts.append(instructions(server, loop_name, n, out_file,
                                           args.new_connections))
            per_request = (counts[1] - counts[0]) / (many - few)
            print(f"{server:10} {loop_name:12} {per_request:10,.0f}", flush=True)
    if not args.keep:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
