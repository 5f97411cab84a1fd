"""Instructions per client connection, under callgrind.

    python -m bench.callgrind_connect [--cases create_connection,open_connection]
                                      [--loops asyncio,fastsel.aio,uvloop]
                                      [--connections 100,600]

For each case and event loop, a client runs in a process of its own under
`valgrind --tool=callgrind` (on this interpreter, sys.executable) and makes
connections to 127.0.0.1 one after the other, each closed before the next:

- create_connection: `loop.create_connection(protocol_factory, host, port)`,
  then `transport.close()` and the wait for `connection_lost`;
- open_connection: `asyncio.open_connection(host, port)`, then
  `writer.close()` and `await writer.wait_closed()`.

This process, uninstrumented, accepts them in a thread and closes each at
once. The figure is (I(many) - I(few)) / (many - few): start-up and shutdown
drop out. The kernel's share is not in it.

    python -m bench.callgrind_connect connect CASE LOOP PORT N

is the client's side.
"""
import argparse
import asyncio
import socket
import sys
import threading

from . import wrk_servers
from .callgrind import instructions
from .callgrind_server import available

CASES = ("create_connection", "open_connection")
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


def connect(case, loop_name, port, count):
    """The client's side: `count` connections, one after the other."""
    one = {"create_connection": _create_connection,
           "open_connection": _open_connection}[case]
    loop = wrk_servers.new_event_loop(loop_name)
    asyncio.set_event_loop(loop)

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
        case, loop_name, port, count = argv[1:]
        connect(case, loop_name, int(port), int(count))
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
    port = listener.getsockname()[1]
    threading.Thread(target=accept_and_close, args=(listener,), daemon=True).start()
    print(f"Python {sys.version.split()[0]}; instructions per connection "
          f"= (I({many}) - I({few})) / {many - few}")
    for case in args.cases.split(","):
        for loop_name in args.loops.split(","):
            if not available(loop_name):
                print(f"{case:18} {loop_name:12} skipped: not installed")
                continue
            counts = [instructions(["bench.callgrind_connect", "connect", case,
                                    loop_name, str(port), str(n)])
                      for n in (few, many)]
            per_connection = (counts[1] - counts[0]) / (many - few)
            print(f"{case:18} {loop_name:12} {per_connection:10,.0f}", flush=True)
    listener.close()


if __name__ == "__main__":
    main(sys.argv[1:])
