"""Instructions per client connection, under callgrind.

    python -m bench.callgrind_connect [--cases create_connection,open_connection]
                                      [--loops asyncio,fastsel.aio,uvloop]
                                      [--connections 100,600]
    python -m bench.callgrind_connect --cases tls_connection,tls_round_trip
                                      [--connections 20,120]

For each case and event loop, a client runs in a process of its own under
`valgrind --tool=callgrind` (on this interpreter, sys.executable) and makes
connections to 127.0.0.1 one after the other, each closed before the next:

- create_connection: `loop.create_connection(protocol_factory, host, port)`,
  then `transport.close()` and the wait for `connection_lost`;
- open_connection: `asyncio.open_connection(host, port)`, then
  `writer.close()` and `await writer.wait_closed()`.

This process, uninstrumented, accepts them in a thread and closes each at
once. The TLS cases are bench/tls.py's client against its echo peer (a child
process on asyncio's loop, uninstrumented, with a certificate made for the
run):

- tls_connection: `create_connection(..., ssl=context)`, one round trip of
  a 64-byte message, `transport.close()` and the wait for `connection_lost`;
- tls_round_trip: one round trip on a connection kept open (N is then the
  number of round trips).

The figure is (I(many) - I(few)) / (many - few): start-up and shutdown
drop out. The kernel's share is not in it.

    python -m bench.callgrind_connect connect CASE LOOP PORT N [CA_DIRECTORY]

is the client's side.
"""
import argparse
import asyncio
import socket
import sys
import tempfile
import threading

from . import tls, wrk_servers
from .callgrind import instructions
from .callgrind_server import available

CASES = ("create_connection", "open_connection")
TLS_CASES = ("tls_connection", "tls_round_trip")
LOOPS = ("asyncio", "fastsel.aio", "uvloop")


class _Closed(asyncio.Protocol):
    def __init__(self, lost):
        self.lost = lost

    def connection_lost(self, exc):
        self.lost.set_result(None)


async def _create_connection(loop, port):
    lost = loop.create_future()
    transport, _ = await loop.create_connection(lambda: _Closed(lost), "127.0.0.1", port)
    transport.close()
    await lost


async def _open_connection(loop, port):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()


def connect(case, loop_name, port, count, ca_directory=None):
    """The client's side: `count` connections (round trips for
    tls_round_trip), one after the other."""
    loop = wrk_servers.new_event_loop(loop_name)
    asyncio.set_event_loop(loop)
    if case in TLS_CASES:
        client = tls.ClientVariant(lambda: loop, port, tls.client_context(ca_directory))
        operations = {"tls_connection": client.new_connections,
                      "tls_round_trip": client.round_trips}[case]
        loop.run_until_complete(operations(count))
        client.close()
        return
    one = {"create_connection": _create_connection,
           "open_connection": _open_connection}[case]

    async def run():
        for _ in range(count):
            await one(loop, port)

    loop.run_until_complete(run())
    loop.close()


def accept_and_close(listener):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.close()


def main(argv):
    if argv[:1] == ["connect"]:
        case, loop_name, port, count, *ca_directory = argv[1:]
        connect(case, loop_name, int(port), int(count), *ca_directory)
        return
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind_connect",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--connections", default="100,600",
                        help="FEW,MANY connections (default 100,600)")
    args = parser.parse_args(argv)
    few, many = (int(n) for n in args.connections.split(","))
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    threading.Thread(target=accept_and_close, args=(listener,), daemon=True).start()
    print(f"Python {sys.version.split()[0]}; instructions per connection "
          f"= (I({many}) - I({few})) / {many - few}")
    with tempfile.TemporaryDirectory() as directory, TlsPeer(directory) as tls_port:
        for case in args.cases.split(","):
            target = ([str(tls_port()), directory] if case in TLS_CASES
                      else [str(listener.getsockname()[1])])
            for loop_name in args.loops.split(","):
                if not available(loop_name):
                    print(f"{case:18} {loop_name:12} skipped: not installed")
                    continue
                counts = [instructions(["bench.callgrind_connect", "connect", case,
                                        loop_name, target[0], str(n), *target[1:]])
                          for n in (few, many)]
                per_connection = (counts[1] - counts[0]) / (many - few)
                print(f"{case:18} {loop_name:12} {per_connection:10,.0f}", flush=True)
    listener.close()


class TlsPeer:
    """bench/tls.py's echo peer with a certificate made in `directory`,
    started when a TLS case first asks for its port."""

    def __init__(self, directory):
        self.directory = directory
        self.process = self.port = None

    def __enter__(self):
        return self.started_port

    def started_port(self):
        if self.process is None:
            self.process, self.port = tls.start_peer(*tls.make_certificate(self.directory))
        return self.port

    def __exit__(self, *exc_info):
        if self.process is not None:
            tls.stop_peer(self.process)


if __name__ == "__main__":
    main(sys.argv[1:])
