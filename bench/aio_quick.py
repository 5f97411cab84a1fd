"""Per-request overhead of asyncio loops: a keep-alive HTTP server and its
clients in one process, over real loopback sockets, protocols on both sides.

    python bench/aio_quick.py [--requests N] [--connections C] [--rounds R]
    python bench/aio_quick.py --iterations N     # bare loop iterations instead

Each round runs every loop once, in turn, so that machine noise hits them
alike; the result is CPU time per request (median over rounds) and its ratio
to asyncio's default loop. Ratios within one run are what to compare.
"""
import argparse
import asyncio
import selectors
import statistics
import sys
import time

sys.path.insert(0, ".")
import fastsel  # noqa: E402
from fastsel import aio  # noqa: E402

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
            b"Content-Type: text/plain\r\n\r\nHello, world!")
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: quick\r\n\r\n"


class HttpServer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        self.pending += data
        # One response per complete request head (no bodies in this test).
        count = self.pending.count(b"\r\n\r\n")
        if count:
            self.pending = self.pending[self.pending.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(RESPONSE * count)


class HttpClient(asyncio.Protocol):
    def __init__(self, requests, done):
        self.left = requests
        self.done = done
        self.received = 0

    def connection_made(self, transport):
        self.transport = transport
        transport.write(REQUEST)

    def data_received(self, data):
        self.received += len(data)
        while self.received >= len(RESPONSE):
            self.received -= len(RESPONSE)
            self.left -= 1
            if self.left == 0:
                self.transport.close()
                self.done.set_result(None)
                return
            self.transport.write(REQUEST)


async def serve_and_load(requests, connections):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HttpServer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    per_connection = requests // connections
    waiters = []
    for _ in range(connections):
        done = loop.create_future()
        await loop.create_connection(
            lambda done=done: HttpClient(per_connection, done), "127.0.0.1", port)
        waiters.append(done)
    start = time.process_time()
    await asyncio.gather(*waiters)
    elapsed = time.process_time() - start
    server.close()
    await server.wait_closed()
    return elapsed / (per_connection * connections)


class _AioRecvLoop(aio.EventLoop):
    """fastsel.aio.EventLoop with asyncio's own socket transport (recv)."""

    _make_socket_transport = asyncio.SelectorEventLoop._make_socket_transport


async def iterate(iterations):
    """CPU time per loop iteration: one callback that reschedules itself."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    left = [iterations]

    def tick():
        left[0] -= 1
        if left[0]:
            loop.call_soon(tick)
        else:
            done.set_result(None)

    start = time.process_time()
    loop.call_soon(tick)
    await done
    return (time.process_time() - start) / iterations


LOOPS = {
    "asyncio": lambda: asyncio.SelectorEventLoop(selectors.DefaultSelector()),
    "asyncio+fastsel": lambda: asyncio.SelectorEventLoop(fastsel.DefaultSelector()),
    "aio, recv()": _AioRecvLoop,
    "fastsel.aio": aio.new_event_loop,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40000)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=0,
                        help="measure bare loop iterations instead of HTTP")
    args = parser.parse_args()
    if args.iterations:
        workload, what = (lambda: iterate(args.iterations)), "iteration"
        title = f"{args.iterations} loop iterations"
    else:
        workload, what = (lambda: serve_and_load(args.requests, args.connections)), "request"
        title = f"{args.requests} requests on {args.connections} keep-alive connections"
    results = {name: [] for name in LOOPS}
    for _ in range(args.rounds):
        for name, factory in LOOPS.items():
            loop = factory()
            try:
                per_request = loop.run_until_complete(workload())
            finally:
                loop.close()
            results[name].append(per_request)
    base = statistics.median(results["asyncio"])
    print(f"python {sys.version.split()[0]}, fastsel {fastsel.IMPLEMENTATION}, "
          f"{title}, {args.rounds} rounds")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:16s} {median * 1e6:7.2f} us CPU/{what}   "
              f"asyncio/this = {base / median:.3f}")


if __name__ == "__main__":
    main()
