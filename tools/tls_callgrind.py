"""Instructions per request of bench/tls.py's HTTPS server, under callgrind.

    python tools/tls_callgrind.py [--connections 20] [--rounds 50] [--out DIR] VARIANT ...

VARIANT is a loop of bench/tls.py (asyncio, fastsel.aio, uvloop, ...) or its
floor ("floor: selectors + SSLObject"). Each server runs under
`valgrind --tool=callgrind` with collection off; blocking TLS clients in this
process open the connections, send 20 warm-up requests on each, then
collection is switched on for `rounds` requests on every connection (one at a
time per connection, all connections in turn) and off again. Printed:
instructions per request, and the ratio to the first variant. The counts
hold for this machine's CPython, OpenSSL and glibc builds; they do not
depend on its load. The callgrind files stay in --out for
callgrind_annotate.
"""
import argparse
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import callgrind, tls  # noqa: E402
from bench.loops import REQUEST  # noqa: E402

WARMUP = 20


def round_trips(clients, count):
    for _ in range(count):
        for client in clients:
            client.sendall(REQUEST)
        for client in clients:
            received = b""
            while not received.endswith(b"hello"):
                data = client.recv(65536)
                if not data:
                    raise ConnectionError("the server closed a connection")
                received += data


def measure(variant, directory, cert, key, connections, rounds, out):
    path = os.path.join(out, "callgrind." + variant.replace(" ", "_").replace(":", ""))
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={path}",
         sys.executable, "-m", "bench.tls", "--serve", variant, cert, key, str(connections),
         "100000", "100000"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = tls.read_line(server.stdout, time.monotonic() + 300).split()
        if len(line) != 2 or line[0] != "ready":
            raise RuntimeError(f"the server on {variant} did not start")
        context = tls.client_context(directory)
        clients = [context.wrap_socket(socket.create_connection(("127.0.0.1", int(line[1]))),
                                       server_hostname="localhost")
                   for _ in range(connections)]
        round_trips(clients, WARMUP)
        control = ["callgrind_control", "--instr"]
        subprocess.run(control + ["on", str(server.pid)], check=True, capture_output=True)
        round_trips(clients, rounds)
        subprocess.run(control + ["off", str(server.pid)], check=True, capture_output=True)
        for client in clients:
            client.close()
    finally:
        server.terminate()
        server.communicate(timeout=300)
    return callgrind.totals(path) / (connections * rounds)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="tls-callgrind-")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        cert, key = tls.make_certificate(directory)
        results = {}
        for variant in args.variants:
            results[variant] = measure(variant, directory, cert, key, args.connections,
                                       args.rounds, out)
            first = results[args.variants[0]]
            print(f"{variant}: {results[variant]:,.0f} instructions per request "
                  f"({results[variant] / first:.3f} of {args.variants[0]}'s)", flush=True)
    print(f"callgrind files in {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
