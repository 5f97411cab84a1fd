"""The servers compared by bench/servers.py, one small class per kind of loop.

Each serves the same tiny HTTP exchange (one request per recv, one fixed
response) and has the same three methods:

    add(sock)        take over one accepted, connected server-side socket
    serve(target, batch, on_batch)
                     answer `target` requests, calling on_batch() after every
                     `batch` answers, from inside the loop (the client's turn)
    close()

`registry(env)` lists the variants this environment can run. Variants whose
API is not there yet (fastsel dispatch, fastsel.Loop, fastsel.aio.EventLoop,
uvloop) are left out with the reason, and join automatically once it is.
"""
import asyncio
import math
import selectors

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
RECV_SIZE = 65536


class Counted:
    """Counts answered requests; every `batch` answers it calls on_batch()
    (the client's turn), and at `target` it stops the loop."""

    handled = batch = 0
    target = math.inf  # until start() sets it
    on_batch = None

    def start(self, target, batch=0, on_batch=None):
        self.handled, self.target = 0, target
        self.batch, self.on_batch = batch, on_batch

    def answered(self):
        self.handled += 1
        if self.on_batch is not None and self.handled % self.batch == 0:
            self.after_writes(self.on_batch)
        if self.handled >= self.target:
            self.after_writes(self.stop)

    def after_writes(self, function):
        """Call function once the responses written so far have been sent."""
        function()

    def stop(self):
        """Loops that run until told to stop override this."""


class Floor(Counted):
    """The socket work alone: recv and send on each connection in turn, no
    loop and no readiness check (every connection has a request waiting)."""

    def __init__(self):
        self._socks = []
        self._buf = bytearray(RECV_SIZE)

    def add(self, sock):
        self._socks.append(sock)

    def serve(self, target, batch=0, on_batch=None):
        self.start(target, batch, on_batch)
        buf = self._buf
        while self.handled < self.target:
            for sock in self._socks:
                sock.recv_into(buf)
                sock.send(RESPONSE)
                self.answered()

    def close(self):
        for sock in self._socks:
            sock.close()


class SelectorServer(Counted):
    """The classic loop: select(), then call each ready key's data."""

    def __init__(self, selector):
        self._sel = selector
        self._buf = bytearray(RECV_SIZE)

    def add(self, sock):
        sock.setblocking(False)
        self._sel.register(sock, selectors.EVENT_READ, self.on_readable)

    def on_readable(self, sock, events):
        if sock.recv_into(self._buf):
            sock.send(RESPONSE)
            self.answered()
        else:  # the peer closed
            self._sel.unregister(sock)
            sock.close()

    def serve(self, target, batch=0, on_batch=None):
        self.start(target, batch, on_batch)
        select = self._sel.select
        while self.handled < self.target:
            for key, events in select():
                key.data(key.fileobj, events)

    def close(self):
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()
        self._sel.close()


class DispatchServer(SelectorServer):
    """The same handlers, called by the selector's own dispatch()."""

    def serve(self, target, batch=0, on_batch=None):
        self.start(target, batch, on_batch)
        dispatch = self._sel.dispatch
        while self.handled < self.target:
            dispatch(None)


class LoopServer(Counted):
    """Serving on a loop that runs until stop(): run_forever() per serve()."""

    def stop(self):
        self._loop.stop()

    def serve(self, target, batch=0, on_batch=None):
        self.start(target, batch, on_batch)
        self._loop.run_forever()


class CallbackLoopServer(LoopServer):
    """fastsel.Loop: add_reader callbacks, stop() once the target is met."""

    def __init__(self, loop):
        self._loop = loop
        self._socks = []
        self._buf = bytearray(RECV_SIZE)

    def add(self, sock):
        sock.setblocking(False)
        self._socks.append(sock)
        self._loop.add_reader(sock.fileno(), self.on_readable, sock)

    def on_readable(self, sock):
        if sock.recv_into(self._buf):
            sock.send(RESPONSE)
            self.answered()
        else:
            self._loop.remove_reader(sock.fileno())
            self._socks.remove(sock)
            sock.close()

    def close(self):
        for sock in self._socks:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        close = getattr(self._loop, "close", None)
        if close is not None:
            close()


class HelloProtocol(asyncio.Protocol):
    def __init__(self, server):
        self._server = server

    def connection_made(self, transport):
        self._transport = transport
        self._server.transports.append(transport)

    def data_received(self, data):
        self._transport.write(RESPONSE)
        self._server.answered()


class AsyncioServer(LoopServer):
    """A protocol-based asyncio server on the given event loop."""

    def __init__(self, loop):
        self._loop = loop
        self.transports = []

    def add(self, sock):
        self._loop.run_until_complete(
            self._loop.connect_accepted_socket(lambda: HelloProtocol(self), sock)
        )

    def after_writes(self, function):
        # fastsel.aio sends an iteration's writes once its callbacks are done.
        self._loop.call_soon(function)

    def close(self):
        # Closing the loop does not close transports; close them first.
        for transport in self.transports:
            transport.close()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()


class StreamsServer(AsyncioServer):
    """The same server written with asyncio streams: per connection what
    asyncio.start_server() sets up for each accepted socket (a StreamReader,
    a StreamReaderProtocol and the handler coroutine with its StreamWriter)."""

    def __init__(self, loop):
        super().__init__(loop)
        self.tasks = []

    def add(self, sock):
        loop = self._loop

        def protocol():
            reader = asyncio.StreamReader(loop=loop)
            return asyncio.StreamReaderProtocol(reader, self.handle, loop=loop)

        transport, _ = loop.run_until_complete(loop.connect_accepted_socket(protocol, sock))
        self.transports.append(transport)

    async def handle(self, reader, writer):
        self.tasks.append(asyncio.current_task())
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(RESPONSE)
                self.answered()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):  # the peer closed
            writer.close()

    def close(self):
        for transport in self.transports:
            transport.close()
        # Let every handler see its end of stream before the loop closes.
        self._loop.run_until_complete(asyncio.gather(*self.tasks, return_exceptions=True))
        self._loop.close()


class Spec:
    """A registry entry: a name and how to make the server (None + reason
    when this environment lacks what it needs). `versus` names the variant
    whose overhead this one's is compared with, besides the stdlib loop's
    (asyncio's default loop for the asyncio servers)."""

    def __init__(self, name, make, versus=None):
        self.name = name
        self.make = make
        self.versus = versus


FLOOR = "recv+send floor"
BASELINE = "stdlib selectors loop"
ASYNCIO = "asyncio"
STREAMS = " streams"


def registry(env):
    """[(Spec, None) or (None, reason)] for every variant, in run order.

    env has `impls` ({"fastsel-c": ns, "fastsel-py": ns}, those that load),
    `fastsel` (the package, for Loop and aio) and `uvloop` (module or None)."""
    entries = [
        (Spec(FLOOR, Floor), None),
        (Spec(BASELINE, lambda: SelectorServer(selectors.EpollSelector())), None),
    ]
    for label, ns in env.impls.items():
        cls = ns.EpollSelector
        entries.append((Spec(f"{label} select loop", lambda cls=cls: SelectorServer(cls())), None))
        if hasattr(cls, "dispatch"):
            entries.append(
                (Spec(f"{label} dispatch loop", lambda cls=cls: DispatchServer(cls())), None)
            )
        else:
            entries.append((None, f"{label} dispatch loop: EpollSelector has no dispatch()"))
    loop_cls = getattr(env.fastsel, "Loop", None)
    if loop_cls is not None:
        entries.append((Spec("fastsel.Loop", lambda: CallbackLoopServer(loop_cls())), None))
    else:
        entries.append((None, "fastsel.Loop: not in this fastsel"))
    # The asyncio servers, protocol-based then streams, each compared with the
    # same server on asyncio's default loop.
    event_loops = [("asyncio", asyncio.new_event_loop)]
    if "fastsel-c" in env.impls:
        cls = env.impls["fastsel-c"].EpollSelector
        event_loops.append(("asyncio + fastsel-c", lambda: asyncio.SelectorEventLoop(cls())))
    missing = []
    aio_loop = getattr(getattr(env.fastsel, "aio", None), "EventLoop", None)
    if aio_loop is not None:
        event_loops.append(("fastsel.aio.EventLoop", aio_loop))
    else:
        missing.append("fastsel.aio.EventLoop: not in this fastsel")
    if env.uvloop is not None:
        event_loops.append(("uvloop", env.uvloop.new_event_loop))
    else:
        missing.append("uvloop: not installed (pip install uvloop)")
    for suffix, server in (("", AsyncioServer), (STREAMS, StreamsServer)):
        for name, make_loop in event_loops:
            if suffix and name == "asyncio + fastsel-c":
                continue  # the protocol servers already show what the selector changes
            entries.append((Spec(name + suffix, lambda s=server, m=make_loop: s(m()),
                                 versus=None if name == ASYNCIO else ASYNCIO + suffix), None))
    entries.extend((None, reason) for reason in missing)
    return entries
