"""The servers `python -m bench --wrk` puts under load, one per process:

    python -m bench.wrk_servers SERVER VARIANT

listens on 127.0.0.1 (a free port), prints `ready PORT` once it serves, and
serves keep-alive HTTP/1.1 until it is killed. SERVER is a key of SERVERS;
VARIANT is an event loop name from LOOPS for the asyncio servers and one of
SELECTOR_VARIANTS for the `selectors` callback server.

Every server answers each request with the same small 200 response; the
hand-written ones count requests by their blank line (wrk sends GETs without
bodies), so a request split across reads or several in one read are handled.
"""
import asyncio
import importlib
import selectors
import socket
import sys

HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n"
BODY = b"hello"
RESPONSE = HEAD + BODY
END_OF_REQUEST = b"\r\n\r\n"
BACKLOG = 2048  # above the largest connection count, so wrk never waits on SYN retries


def complete_requests(pending, data):
    """(requests completed by `data`, bytes left over) after `pending`."""
    pending += data
    count = pending.count(END_OF_REQUEST)
    if count:
        pending = pending[pending.rfind(END_OF_REQUEST) + len(END_OF_REQUEST):]
    return count, pending


# ---------------------------------------------------------------- event loops

# Event loop name -> (the module it needs, its loop factory there; None:
# aiofastnet's transports on asyncio's own loop).
LOOPS = {
    "asyncio": ("asyncio", "new_event_loop"),
    "uvloop": ("uvloop", "new_event_loop"),
    "fastsel.aio": ("fastsel.aio", "new_event_loop"),
    "rloop": ("rloop", "new_event_loop"),
    "aiofastnet": ("aiofastnet", None),
}


def new_event_loop(name):
    if name not in LOOPS:
        raise ValueError(f"unknown event loop {name!r}")
    module_name, factory = LOOPS[name]
    module = importlib.import_module(module_name)
    if factory is None:
        return module.loop_factory(asyncio.new_event_loop)()
    return getattr(module, factory)()


# ---------------------------------------------------------------- asyncio servers

class HelloProtocol(asyncio.Protocol):
    """One `write` per response."""

    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        count, self.pending = complete_requests(self.pending, data)
        for _ in range(count):
            self.respond()

    def respond(self):
        self.transport.write(RESPONSE)


class SplitHelloProtocol(HelloProtocol):
    """Header and body as two `write`s, as frameworks send them."""

    def respond(self):
        self.transport.write(HEAD)
        self.transport.write(BODY)


def protocol_server(protocol):
    async def start():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(protocol, "127.0.0.1", 0, backlog=BACKLOG)
        return server, server.sockets[0].getsockname()[1]
    return start


async def handle_stream(reader, writer):
    try:
        while True:
            await reader.readuntil(END_OF_REQUEST)
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client went away
    finally:
        writer.close()


async def start_streams():
    server = await asyncio.start_server(handle_stream, "127.0.0.1", 0, backlog=BACKLOG)
    return server, server.sockets[0].getsockname()[1]


async def start_aiohttp():
    from aiohttp import web

    async def hello(request):
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG)
    await site.start()
    return runner, runner.addresses[0][1]


async def hello_asgi(scope, receive, send):
    """A raw ASGI app: no framework between uvicorn and the response."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": BODY})


async def start_uvicorn():
    import uvicorn

    # uvicorn binds the socket itself, as when run from its command line.
    config = uvicorn.Config(hello_asgi, host="127.0.0.1", port=0, backlog=BACKLOG,
                            http="httptools", ws="none", lifespan="off", loop="none",
                            log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise why
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    return task, server.servers[0].sockets[0].getsockname()[1]


# Server key -> (what it is, how to start it on the running loop, module it needs).
SERVERS = {
    "protocol": ("asyncio protocol HTTP server, one write per response",
                 protocol_server(HelloProtocol), None),
    "protocol, 2 writes": ("the same, header and body as two writes",
                           protocol_server(SplitHelloProtocol), None),
    "streams": ("asyncio.start_server streams (readuntil, write, drain)", start_streams, None),
    "aiohttp": ('aiohttp "hello" app (web.Response(text=...), AppRunner, TCPSite)',
                start_aiohttp, "aiohttp"),
    "uvicorn": ("uvicorn + httptools, raw ASGI app", start_uvicorn, "uvicorn httptools"),
}


def serve_asyncio(server, loop_name):
    loop = new_event_loop(loop_name)
    asyncio.set_event_loop(loop)
    start = SERVERS[server][1]
    running, port = loop.run_until_complete(start())
    announce(port)
    loop.run_forever()  # until killed; `running` holds the server meanwhile


# ---------------------------------------------------------------- selectors server

SELECTORS = "selectors"
SELECTORS_LABEL = "the selectors callback server (key.data(key.fileobj, mask))"
SELECTOR_VARIANTS = ("stdlib select", "fastsel select", "fastsel dispatch")


class CallbackConnection:
    """A connection whose key.data is its bound on_readable."""

    def __init__(self, sel, sock):
        self.sel = sel
        self.pending = b""
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sel.register(sock, selectors.EVENT_READ, self.on_readable)

    def on_readable(self, sock, mask):
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(sock)
            sock.close()
            return
        count, self.pending = complete_requests(self.pending, data)
        if count:
            sock.send(RESPONSE * count)


def serve_selectors(variant):
    if variant == "stdlib select":
        sel = selectors.EpollSelector()
    else:
        from fastsel import _impl

        sel = _impl.load("c").EpollSelector()  # the compiled one, or ImportError
    listener = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    listener.setblocking(False)

    def on_accept(listener, mask):
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        CallbackConnection(sel, sock)

    sel.register(listener, selectors.EVENT_READ, on_accept)
    announce(listener.getsockname()[1])
    if variant == "fastsel dispatch":
        while True:
            sel.dispatch()
    select = sel.select
    while True:
        for key, mask in select():
            key.data(key.fileobj, mask)


def announce(port):
    print(f"ready {port}", flush=True)


def main(argv):
    from .machine import raise_fd_limit

    if len(argv) != 2:
        sys.exit("usage: python -m bench.wrk_servers SERVER VARIANT")
    server, variant = argv
    raise_fd_limit()
    if server == SELECTORS:
        serve_selectors(variant)
    elif server in SERVERS:
        serve_asyncio(server, variant)
    else:
        sys.exit(f"unknown server {server!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
