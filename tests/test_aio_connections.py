"""Connections opened and closed on fastsel.aio.EventLoop, whose accept path
and transport construction and close are compiled, against asyncio's own
loop: the same protocol callbacks in the same order, the same exception
handler calls, the same server and loop bookkeeping, nothing left open.

Each scenario runs on asyncio.SelectorEventLoop and on fastsel's loops and
records what a program can observe; the records must be equal."""
import asyncio
import contextlib
import gc
import os
import resource
import socket
import struct
import tracemalloc
import weakref
from asyncio import constants

import pytest

import fastsel
from fastsel import aio

LOOPS = {
    "asyncio": asyncio.SelectorEventLoop,
    "fastsel": aio.EventLoop,
}


@pytest.fixture(params=list(LOOPS))
def loop(request):
    loop = LOOPS[request.param]()
    yield loop
    loop.close()


def run_on_each(scenario, *args):
    """{loop name: scenario(loop, *args)} over every loop of LOOPS."""
    results = {}
    for name, factory in LOOPS.items():
        loop = factory()
        try:
            results[name] = loop.run_until_complete(scenario(loop, *args))
        finally:
            loop.close()
    return results


def same_everywhere(results):
    values = list(results.values())
    assert all(value == values[0] for value in values[1:]), results
    return values[0]


def server_clients(server):
    """How many transports the server counts (3.13+ keeps them in a set)."""
    clients = getattr(server, "_clients", None)
    return len(clients) if clients is not None else server._active_count


class Recorder(asyncio.Protocol):
    """Records every callback with its connection's number (the order in
    which the clients connected) and what the transport shows at the time."""

    def __init__(self, events, server_box, numbers, behaviours):
        self.events = events
        self.server_box = server_box
        self.numbers = numbers
        self.behaviours = behaviours

    def connection_made(self, transport):
        self.transport = transport
        self.number = self.numbers[transport.get_extra_info("peername")[1]]
        self.on_data = self.behaviours[self.number]
        loop = transport._loop
        self.events.append((
            self.number, "made", transport.is_closing(),
            sorted(k for k in ("socket", "sockname", "peername")
                   if transport.get_extra_info(k) is not None),
            transport.get_write_buffer_limits(),
            loop._transports.get(transport._sock_fd) is transport,
            server_clients(self.server_box[0]),
            transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0,
            asyncio.current_task() is None))
        if self.on_data == "abort_at_once":
            transport.abort()

    def data_received(self, data):
        self.events.append((self.number, "data", data))
        if self.on_data == "echo_close":
            self.transport.write(data)
            self.transport.close()
        elif self.on_data == "big_close":
            self.transport.write(b"x" * (8 << 20))
            self.events.append((self.number, "buffered",
                                self.transport.get_write_buffer_size() > 0))
            self.transport.close()
            self.events.append((self.number, "closing", self.transport.is_closing()))
        elif self.on_data == "abort":
            self.transport.write(b"x" * (8 << 20))
            self.transport.abort()

    def eof_received(self):
        self.events.append((self.number, "eof"))

    def connection_lost(self, exc):
        # (Not the server's count here: when two connections flush at once,
        # which finishes first is up to the kernel.)
        self.events.append((self.number, "lost", type(exc).__name__))


def reset_on_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def lifecycle(loop, behaviours):
    """A server whose connections behave as `behaviours` say; one client
    socket per behaviour, connected before the loop accepts any; returns
    the recorded events, exception handler calls and the server's count."""
    events, errors, numbers = [], [], {}
    loop.set_exception_handler(
        lambda loop, context: errors.append(
            (context["message"].split(" ")[0:3], type(context.get("exception")).__name__)))
    box = []

    server = await loop.create_server(
        lambda: Recorder(events, box, numbers, behaviours), "127.0.0.1", 0)
    box.append(server)
    address = server.sockets[0].getsockname()
    clients = []
    for number, behaviour in enumerate(behaviours):
        client = socket.create_connection(address)
        numbers[client.getsockname()[1]] = number
        clients.append(client)
        if behaviour == "reset_before_made":
            reset_on_close(client)
            client.close()
        elif behaviour in ("echo_close", "big_close", "abort"):
            client.sendall(b"hello")
        elif behaviour == "eof":
            client.shutdown(socket.SHUT_WR)
    for _ in range(200):
        if len([e for e in events if e[1] == "lost"]) == len(behaviours):
            break
        for client in clients:
            if client.fileno() != -1:
                client.setblocking(False)
                try:
                    while client.recv(1 << 20):
                        pass
                    client.close()  # EOF: the server closed
                except BlockingIOError:
                    pass
                except OSError:
                    client.close()
        await asyncio.sleep(0.01)
    for client in clients:
        client.close()
    server.close()
    await server.wait_closed()
    return sorted(events, key=lambda e: e[0]), errors, server_clients(server)


@pytest.mark.parametrize("behaviours", [
    ["echo_close"],
    ["echo_close", "eof", "echo_close", "big_close", "abort"],
    ["reset_before_made", "echo_close"],
    ["big_close", "big_close"],
    ["abort", "eof", "reset_before_made"],
])
def test_connection_lifecycle_as_asyncio(behaviours):
    events, errors, count = same_everywhere(run_on_each(lifecycle, behaviours))
    assert count == 0
    made = [e for e in events if e[1] == "made"]
    lost = [e for e in events if e[1] == "lost"]
    assert len(made) == len(lost) == len(behaviours)


async def callback_order(loop):
    """The exact interleaving of two connections' callbacks with a task of
    the program's own, and what an exception from connection_made does."""
    events = []
    loop.set_exception_handler(
        lambda loop, context: events.append(("handler", context["message"][:21],
                                             type(context.get("exception")).__name__)))

    class Ordered(asyncio.Protocol):
        def connection_made(self, transport):
            events.append(("made", transport.get_extra_info("peername")[1] == ports[0]))
            if len([e for e in events if e[0] == "made"]) == 2:
                raise ValueError("from connection_made")

        def data_received(self, data):
            events.append(("data", data))

        def connection_lost(self, exc):
            events.append(("lost", type(exc).__name__))

    async def ticker():
        for i in range(6):
            events.append(("tick", i))
            await asyncio.sleep(0)

    server = await loop.create_server(Ordered, "127.0.0.1", 0)
    address = server.sockets[0].getsockname()
    a = socket.create_connection(address)
    b = socket.create_connection(address)
    ports = [a.getsockname()[1], b.getsockname()[1]]
    a.sendall(b"a")
    b.sendall(b"b")
    await asyncio.sleep(0)
    await loop.create_task(ticker())
    a.close()
    b.close()
    server.close()
    await asyncio.sleep(0.05)
    return events


def test_callback_order_and_errors_as_asyncio():
    events = same_everywhere(run_on_each(callback_order))
    assert ("handler", "Exception in callback", "ValueError") in events


async def streams_exchange(loop):
    seen = []

    async def handle(reader, writer):
        seen.append(("served", await reader.readline()))
        writer.write(b"bye\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    address = server.sockets[0].getsockname()
    for i in range(3):
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hi %d\n" % i)
        seen.append(("client", await reader.read()))
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return seen, server_clients(server)


def test_streams_as_asyncio():
    seen, count = same_everywhere(run_on_each(streams_exchange))
    assert count == 0 and len(seen) == 6


def test_compiled_accept_path_is_used():
    """fastsel's loop runs none of asyncio's Python accept, transport
    construction, end-of-file and reader removal methods, nor the stdlib's
    socket.accept, nor WeakValueDictionary's assignment to loop._transports
    (asyncio's loop runs them all)."""
    import sys
    import weakref
    from asyncio import events
    from asyncio import selector_events as se

    watched = [se.BaseSelectorEventLoop._accept_connection,
               se.BaseSelectorEventLoop._accept_connection2,
               se.BaseSelectorEventLoop._make_socket_transport,
               se._SelectorSocketTransport.__init__,
               se._SelectorSocketTransport._read_ready__on_eof,
               se._SelectorTransport._call_connection_lost,
               se.BaseSelectorEventLoop._ensure_fd_no_transport,
               events.Handle.cancel,
               events.Handle.cancelled,
               socket.socket.accept,
               weakref.WeakValueDictionary.__setitem__,
               weakref.KeyedRef.__new__]
    codes = [f.__code__ for f in watched]
    for name, factory in LOOPS.items():
        counts = [0] * len(codes)

        def profile(frame, event, arg):
            if event == "call" and frame.f_code in codes:
                counts[codes.index(frame.f_code)] += 1

        loop = factory()
        try:
            sys.setprofile(profile)
            loop.run_until_complete(streams_exchange(loop))
        finally:
            sys.setprofile(None)
            loop.close()
        compiled = name == "fastsel" and fastsel.IMPLEMENTATION == "c"
        assert (counts == [0] * len(codes)) if compiled else all(counts), (name, counts)


def test_replaced_methods_on_the_connection_path_are_honoured():
    """Handle.cancelled (asked of a waiting connect's writer when it
    completes) and socket.setblocking (called on each accepted socket),
    replaced: each is called as on asyncio's loop."""
    from asyncio import events
    from unittest import mock

    stdlib_setblocking = socket.socket.setblocking
    calls = {}
    for name, factory in LOOPS.items():
        setblocking_calls = []

        def setblocking(sock, flag):
            setblocking_calls.append(flag)
            return stdlib_setblocking(sock, flag)

        with mock.patch.object(events.Handle, "cancelled", autospec=True,
                               side_effect=lambda handle: handle._cancelled) as cancelled, \
                mock.patch.object(socket.socket, "setblocking", setblocking):
            loop = factory()
            try:
                loop.run_until_complete(streams_exchange(loop))
            finally:
                loop.close()
            calls[name] = cancelled.call_count, setblocking_calls
    assert all(calls["asyncio"])
    same_everywhere(calls)


@pytest.mark.parametrize("where", ["class", "instance"])
def test_replaced_server_attach_and_detach_are_called(where):
    """Server._attach and _detach replaced on the class or on the server
    are what each accepted transport calls, as on asyncio's loop."""
    from asyncio import base_events
    from unittest import mock

    seen = {}
    for name, factory in LOOPS.items():
        calls = []
        originals = {method: getattr(base_events.Server, method)
                     for method in ("_attach", "_detach")}

        def recorder(method):
            def replaced(server, *args):
                calls.append(method)
                return originals[method](server, *args)
            return replaced

        async def exchange():
            server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
            if where == "instance":
                for method in originals:
                    setattr(server, method, recorder(method).__get__(server))
            for _ in range(2):
                reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
                await reader.read()
                writer.close()
                await writer.wait_closed()
            server.close()
            await server.wait_closed()

        with contextlib.ExitStack() as stack:
            if where == "class":
                for method in originals:
                    stack.enter_context(
                        mock.patch.object(base_events.Server, method, recorder(method)))
            loop = factory()
            try:
                loop.run_until_complete(exchange())
            finally:
                loop.close()
        seen[name] = sorted(calls)
    assert seen["asyncio"] == ["_attach", "_attach", "_detach", "_detach"]
    same_everywhere(seen)


TRANSPORT_SCHEDULES = {"connection_made", "_add_reader", "set_result_unless_cancelled",
                       "_call_connection_lost"}


def transport_schedules(callbacks):
    """The callbacks a socket transport schedules, by name (fastsel's
    compiled twin of _set_result_unless_cancelled has no underscore)."""
    names = (getattr(callback, "__name__", "") for callback in callbacks)
    names = ("set_result_unless_cancelled" if name == "_set_result_unless_cancelled"
             else name for name in names)
    return sorted(name for name in names if name in TRANSPORT_SCHEDULES)


@pytest.mark.parametrize("where", ["subclass", "instance"])
def test_replaced_call_soon_sees_what_transports_schedule(where):
    """A call_soon replaced in a loop subclass or on the loop itself is
    what each transport's connection_made, reader, waiter and
    connection_lost callbacks go through, as on asyncio's loop."""
    from unittest import mock

    seen = {}
    for name, factory in LOOPS.items():
        callbacks = []

        class Recording(factory):
            def call_soon(self, callback, *args, **kwargs):
                callbacks.append(callback)
                return super().call_soon(callback, *args, **kwargs)

        if where == "subclass":
            loop = Recording()
            patch = contextlib.nullcontext()
        else:
            loop = factory()
            original = loop.call_soon

            def call_soon(callback, *args, **kwargs):
                callbacks.append(callback)
                return original(callback, *args, **kwargs)

            patch = mock.patch.object(loop, "call_soon", call_soon)
        try:
            with patch:
                loop.run_until_complete(streams_exchange(loop))
        finally:
            loop.close()
        seen[name] = transport_schedules(callbacks)
    assert len(seen["asyncio"]) >= 4 * 6, seen  # six transports, four each
    same_everywhere(seen)


def test_replaced_asyncio_helpers_are_what_transports_use():
    """asyncio's module-level helpers that a transport's construction looks
    up (base_events._set_nodelay, futures._set_result_unless_cancelled,
    trsock.TransportSocket), replaced: each connection uses the
    replacements, as on asyncio's loop, and the originals once undone."""
    from asyncio import base_events, futures, trsock
    from unittest import mock

    class CountedSocket(trsock.TransportSocket):
        made = 0

        def __init__(self, sock):
            CountedSocket.made += 1
            super().__init__(sock)

    seen = {}
    for name, factory in LOOPS.items():
        CountedSocket.made = 0
        with mock.patch.object(base_events, "_set_nodelay",
                               wraps=base_events._set_nodelay) as nodelay, \
                mock.patch.object(futures, "_set_result_unless_cancelled",
                                  wraps=futures._set_result_unless_cancelled) as set_result, \
                mock.patch.object(trsock, "TransportSocket", CountedSocket):
            loop = factory()
            try:
                loop.run_until_complete(streams_exchange(loop))
            finally:
                loop.close()
        seen[name] = [nodelay.call_count, set_result.call_count, CountedSocket.made]
        loop = factory()
        try:
            loop.run_until_complete(streams_exchange(loop))
        finally:
            loop.close()
        seen[name] += [nodelay.call_count, set_result.call_count, CountedSocket.made]
    assert all(seen["asyncio"]), seen
    same_everywhere(seen)


def test_loops_forget_dead_transports_as_asyncio():
    """A transport's entry in loop._transports (a WeakValueDictionary) goes
    when the transport is freed, on two loops used in turn; while the
    mapping is being iterated, the entry stays until the iteration ends
    where the version defers removals (up to 3.13), as asyncio's does."""

    async def connect(loop, server_box):
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        server_box.append(server)
        transport, _ = await loop.create_connection(
            asyncio.Protocol, *server.sockets[0].getsockname())
        return transport

    async def close(transport):
        transport.close()
        for _ in range(5):
            await asyncio.sleep(0)

    async def finish(server):
        server.close()
        await server.wait_closed()

    def scenario(factory):
        loops, servers, seen = [factory(), factory()], [], []
        try:
            transports = [loop.run_until_complete(connect(loop, servers)) for loop in loops]
            fds = [transport._sock_fd for transport in transports]
            iterating = iter(loops[0]._transports.items())
            next(iterating)
            for loop, transport in zip(loops, transports):
                loop.run_until_complete(close(transport))
            del transport
            transports.clear()
            gc.collect()
            seen.append([fd in loop._transports.data for loop, fd in zip(loops, fds)])
            del iterating
            seen.append([fd in loop._transports.data for loop, fd in zip(loops, fds)])
            for loop, server in zip(loops, servers):
                loop.run_until_complete(finish(server))
        finally:
            for loop in loops:
                loop.close()
        return seen

    seen = same_everywhere({name: scenario(factory) for name, factory in LOOPS.items()})
    assert seen[1] == [False, False], seen


@pytest.mark.parametrize("backlog", [2, 0, -1, True, 2.0, 10**30])
def test_accepts_per_readiness_as_asyncio(backlog):
    """One call of the loop's accept loop takes as many waiting connections
    as asyncio's `for _ in range(backlog)` lets it (and raises what range()
    raises for a backlog it refuses)."""
    async def scenario(loop):
        listener = socket.create_server(("127.0.0.1", 0))
        listener.setblocking(False)
        clients = [socket.create_connection(listener.getsockname()) for _ in range(5)]
        made = []

        class Made(asyncio.Protocol):
            def connection_made(self, transport):
                made.append(transport)

        try:
            await asyncio.sleep(0.05)  # every connection waits in the backlog
            try:
                loop._accept_connection(Made, listener, backlog=backlog)
            except TypeError as exc:
                return "TypeError", str(exc)
            for _ in range(10):
                await asyncio.sleep(0)
            return len(made)
        finally:
            for transport in made:
                transport.abort()
            await asyncio.sleep(0)
            for client in clients:
                client.close()
            listener.close()

    outcome = same_everywhere(run_on_each(scenario))
    # (From 3.14 asyncio's loop runs backlog + 1 times.)
    expected = {2: (2, 3), 0: (0, 1), -1: (0,), True: (1, 2), 10**30: (5,)}
    if type(backlog) is float:
        assert outcome[0] == "TypeError", outcome
    else:
        assert outcome in expected[backlog], outcome


async def storm(loop, count, concurrency):
    async def handle(reader, writer):
        writer.write(await reader.read(1))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=concurrency)
    address = server.sockets[0].getsockname()

    async def one():
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"!")
        assert await reader.read() == b"!"
        writer.close()
        await writer.wait_closed()

    for start in range(0, count, concurrency):
        await asyncio.gather(*(one() for _ in range(min(concurrency, count - start))))
    server.close()
    await server.wait_closed()
    return server_clients(server)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_storm_of_short_connections_leaves_nothing(loop):
    """5,000 connections, 50 at a time: no fd and no memory left behind."""
    assert loop.run_until_complete(storm(loop, 200, 50)) == 0  # warm up
    gc.collect()
    fds = open_fds()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        assert loop.run_until_complete(storm(loop, 5000, 50)) == 0
        gc.collect()
        assert len(loop._transports) == 0
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert open_fds() == fds
    assert grown < 64 * 1024, grown  # a leak of one object a connection is 5,000 of them


async def accept_out_of_fds(loop, clients):
    """Clients connected while the process may open no more files: the
    server reports it, pauses accepting, and accepts them all once files
    can be opened again."""
    calls = []
    served = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def handler(loop, context):
        calls.append((context["message"], getattr(context.get("exception"), "errno", None)))
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    loop.set_exception_handler(handler)

    class Count(asyncio.Protocol):
        def connection_made(self, transport):
            served.append(transport)
            transport.close()

    server = await loop.create_server(Count, "127.0.0.1", 0)
    sockets = [socket.create_connection(server.sockets[0].getsockname())
               for _ in range(clients)]
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds(), hard))
    try:
        for _ in range(300):
            if len(served) == clients:
                break
            await asyncio.sleep(0.01)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for sock in sockets:
            sock.close()
    server.close()
    await server.wait_closed()
    return calls, len(served)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_emfile_during_accept_pauses_and_resumes(monkeypatch):
    monkeypatch.setattr(constants, "ACCEPT_RETRY_DELAY", 0.05)
    calls, served = same_everywhere(run_on_each(accept_out_of_fds, 5))
    assert calls == [("socket.accept() out of system resource", os.strerror(24) and 24)]
    assert served == 5


CPYTHON_CONNECTION_SUITES = ("test_server", "test_streams", "test_base_events")
RUN_ON_FASTSEL = """
import asyncio, sys, unittest
from asyncio import unix_events
from fastsel import aio

made = []


class CountedEventLoop(aio.EventLoop):
    def __init__(self, *args, **kwargs):
        made.append(self)
        super().__init__(*args, **kwargs)


# The suites make their loops through these names (and the policy, whose
# class the tests reset between modules).
asyncio.SelectorEventLoop = unix_events.SelectorEventLoop = CountedEventLoop
asyncio.DefaultEventLoopPolicy._loop_factory = CountedEventLoop
result = unittest.main(module=None, argv=["suites"] + sys.argv[1:], exit=False).result
sys.exit(0 if result.wasSuccessful() and len(made) > 20 else 1)
"""


@pytest.mark.skipif(fastsel.IMPLEMENTATION != "c", reason="the compiled paths are not live")
def test_cpython_server_stream_and_connection_suites():
    """CPython's tests of servers, start_server/open_connection streams and
    create_server/create_connection, on fastsel.aio.EventLoop."""
    import subprocess
    import sys

    try:
        from test.test_asyncio import test_server  # noqa: F401
    except ImportError:
        pytest.skip("this interpreter does not ship test.test_asyncio")
    modules = [f"test.test_asyncio.{name}" for name in CPYTHON_CONNECTION_SUITES]
    proc = subprocess.run([sys.executable, "-c", RUN_ON_FASTSEL, *modules],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


async def accepted_sockets(loop, host):
    """What a server's protocol sees of its accepted sockets."""
    seen = []

    class Looking(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            seen.append((sock.family, sock.type, sock.proto, sock.gettimeout(),
                         transport.get_extra_info("peername") == client_name))
            transport.close()

    server = await loop.create_server(Looking, host, 0)
    client = socket.create_connection(server.sockets[0].getsockname()[:2])
    client_name = client.getsockname()
    while not seen:
        await asyncio.sleep(0.01)
    client.close()
    server.close()
    await server.wait_closed()
    return seen


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_accepted_sockets_as_asyncio(host):
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        seen = same_everywhere(run_on_each(accepted_sockets, host))
    except OSError as exc:  # no IPv6 on this host's loopback
        pytest.skip(str(exc))
    assert seen[0][3] == 0.0 and seen[0][4]


async def addresses_of_both_ends(loop, server_host, client_host):
    """Each end's sockname and peername as its transport keeps them, and as
    its socket's own methods give them."""
    seen = {}

    class Server(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            seen["server"] = (transport.get_extra_info("sockname"),
                              transport.get_extra_info("peername"))
            seen["server socket"] = (sock.getsockname(), sock.getpeername())
            transport.close()

    server = await loop.create_server(Server, server_host, 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(
        asyncio.Protocol, server_host, port, local_addr=(client_host, 0))
    sock = transport.get_extra_info("socket")
    seen["client"] = (transport.get_extra_info("sockname"),
                      transport.get_extra_info("peername"))
    seen["client socket"] = (sock.getsockname(), sock.getpeername())
    while "server" not in seen:
        await asyncio.sleep(0.01)
    transport.close()
    server.close()
    await server.wait_closed()
    return seen


@pytest.mark.parametrize("server_host, client_host", [
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.99.1", "127.10.100.255"),
    ("127.200.9.10", "127.1.0.99"),
    ("::1", "::1"),
])
def test_addresses_as_the_socket_methods_give_them(server_host, client_host):
    """A transport's sockname and peername, on both ends, are what the
    socket's getsockname() and getpeername() return: the same tuples of a
    str host and int port (and IPv6's flowinfo and scope id), whatever the
    octets' digits."""
    if server_host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        results = run_on_each(addresses_of_both_ends, server_host, client_host)
    except OSError as exc:  # no IPv6 on this host's loopback
        pytest.skip(str(exc))
    for name, seen in results.items():
        for end in ("server", "client"):
            assert seen[end] == seen[end + " socket"], (name, seen)
            for address in seen[end]:
                assert [type(part) for part in address] == [type(part) for part in
                                                           seen[end + " socket"][0]]
                assert type(address[0]) is str and type(address[1]) is int
        assert seen["server"][1][0] == client_host and seen["client"][1][0] == server_host


def test_replaced_socket_queries_are_called_as_asyncio_calls_them():
    """socket.socket's fileno, getsockname, getpeername and setsockopt,
    replaced: what a connection's transports call of them is what asyncio's
    loop calls."""
    from unittest import mock

    names = ("fileno", "getsockname", "getpeername", "setsockopt")
    calls = {}
    for name, factory in LOOPS.items():
        counts = dict.fromkeys(names, 0)
        with contextlib.ExitStack() as stack:
            for method in names:
                def counted(sock, *args, _method=method,
                            _original=getattr(socket.socket, method)):
                    counts[_method] += 1
                    return _original(sock, *args)
                stack.enter_context(mock.patch.object(socket.socket, method, counted))
            loop = factory()
            try:
                loop.run_until_complete(streams_exchange(loop))
            finally:
                loop.close()
        calls[name] = counts
    assert calls["asyncio"]["getsockname"] and calls["asyncio"]["setsockopt"], calls
    same_everywhere(calls)


@pytest.mark.skipif(fastsel.IMPLEMENTATION != "c",
                    reason="the compiled implementation is not live")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("default_timeout", [None, 3.0])
@pytest.mark.parametrize("listener_timeout", [None, 0.0, 5.0])
def test_compiled_accept_as_the_stdlibs(host, default_timeout, listener_timeout):
    """The accept that asyncio's accept loop makes, compiled, gives what
    socket.socket.accept then setblocking(False) give, down to the new
    socket's timeout, its fd's blocking flag, its inheritability and the
    peer's address."""
    from fastsel import _transport_c

    def stdlib_accept(listener):
        conn, address = listener.accept()
        conn.setblocking(False)
        return conn, address

    compiled_accept = _transport_c._accept_for_tests

    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    previous = socket.getdefaulttimeout()
    results = []
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            listener = socket.create_server((host, 0), family=family)
        except OSError as exc:  # no IPv6 on this host's loopback
            pytest.skip(str(exc))
        with listener:
            socket.setdefaulttimeout(default_timeout)
            listener.settimeout(listener_timeout)
            for accept in (stdlib_accept, compiled_accept):
                with socket.create_connection(listener.getsockname()[:2]) as client:
                    conn, address = accept(listener)
                    with conn:
                        results.append((type(conn), conn.family, conn.type, conn.proto,
                                        conn.gettimeout(), os.get_blocking(conn.fileno()),
                                        conn.get_inheritable(),
                                        address == client.getsockname()))
    finally:
        socket.setdefaulttimeout(previous)
    assert results[0] == results[1]
    assert results[0][-1]


@pytest.mark.skipif(fastsel.IMPLEMENTATION != "c",
                    reason="the compiled implementation is not live")
@pytest.mark.parametrize("listener_timeout", [0.0, 0.01])
def test_compiled_accept_with_nothing_waiting(listener_timeout):
    """Where socket.socket.accept raises BlockingIOError (a non-blocking
    listener, or one whose timeout ran out), the compiled accept returns
    None, which asyncio's accept loop takes as the end of the backlog."""
    from fastsel import _transport_c

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(listener_timeout)
        with pytest.raises(OSError) as raised:
            listener.accept()
        blocking = isinstance(raised.value, BlockingIOError)
        if blocking:
            assert _transport_c._accept_for_tests(listener) is None
        else:
            with pytest.raises(type(raised.value)):
                _transport_c._accept_for_tests(listener)


async def close_each_way(loop):
    """Server-side transports closed by the peer (eof), by close() with
    data pending, and by abort(), and a client-side transport closed by its
    owner: weak references to each, taken once its connection_lost ran."""
    lost = []

    class Closing(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            if data == b"close":
                self.transport.write(b"x" * 4096)
                self.transport.close()
            elif data == b"abort":
                self.transport.abort()

        def connection_lost(self, exc):
            lost.append(weakref.ref(self.transport))
            self.transport = None

    server = await loop.create_server(Closing, "127.0.0.1", 0)
    address = server.sockets[0].getsockname()
    for request in (b"", b"close", b"abort"):
        reader, writer = await asyncio.open_connection(*address)
        if request:
            writer.write(request)
            await reader.read()
        writer.close()
        await writer.wait_closed()
    transport, _ = await loop.create_connection(Closing, *address)
    transport.close()
    del transport
    while len(lost) < 5:  # four served connections and the client's
        await asyncio.sleep(0.01)
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0)
    return lost


@pytest.mark.skipif(fastsel.IMPLEMENTATION != "c",
                    reason="the compiled transports are not live")
def test_closed_transports_are_freed_without_the_cycle_collector():
    """fastsel drops a transport's _read_ready_cb (and _write_ready where it
    is an attribute) once connection_lost has run, as asyncio does from
    3.14: before that asyncio leaves each closed transport in a reference
    cycle with its socket until the cycle collector runs."""
    gc.collect()
    gc.disable()
    try:
        loop = aio.EventLoop()
        try:
            lost = loop.run_until_complete(close_each_way(loop))
        finally:
            loop.close()
        assert len(lost) == 5
        alive = [ref() for ref in lost if ref() is not None]
        assert alive == [], [(t, t._read_ready_cb) for t in alive]
    finally:
        gc.enable()
