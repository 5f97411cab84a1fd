"""The client's side of a connection on fastsel.aio.EventLoop, whose
create_connection for a numeric host is compiled, against asyncio's own
loop: the same callbacks in the same order, the same exceptions and
messages, the same sockets left open (none), asyncio's own path for
everything else.

Each scenario runs on asyncio.SelectorEventLoop and on fastsel's loop and
records what a program can observe; the records must be equal."""
import asyncio
import gc
import os
import socket
import sys
import warnings
from asyncio import base_events

import pytest

import fastsel
from fastsel import aio

from test_aio_connections import LOOPS, open_fds, run_on_each, same_everywhere

COMPILED = (fastsel.IMPLEMENTATION == "c" and getattr(aio, "_compiled", None) is not None
            and aio._compiled.SUPPORTED)


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


def ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


class Recorder(asyncio.Protocol):
    def __init__(self, events):
        self.events = events

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.events.append((
            "made", transport.is_closing(), sock.family.name, sock.type.name,
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0,
            sock.gettimeout(),
            transport.get_extra_info("peername")[:2] == self.events[0][:2],
            transport.get_extra_info("sockname") is not None,
            asyncio.current_task() is None))

    def data_received(self, data):
        self.events.append(("data", data))

    def eof_received(self):
        self.events.append(("eof",))

    def connection_lost(self, exc):
        self.events.append(("lost", type(exc).__name__))


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        self.transport.close()


async def ticker(log):
    """Notes each loop iteration, to see when things happen between them."""
    for tick in range(1000):
        log.append(("tick", tick))
        await asyncio.sleep(0)


async def exchange(loop, host, family):
    server = await loop.create_server(Echo, host, 0, family=family)
    port = server.sockets[0].getsockname()[1]
    events = [(host, port)]
    ticks = []
    tick_task = loop.create_task(ticker(ticks))
    await asyncio.sleep(0)
    transport, protocol = await loop.create_connection(
        lambda: Recorder(events), host, port)
    events.append(("returned", transport is protocol.transport,
                   type(protocol).__name__, len(ticks) > 0))
    transport.write(b"ping")
    transport.write_eof()
    while events[-1][0] != "lost":
        await asyncio.sleep(0.001)
    await settle(loop)
    tick_task.cancel()
    server.close()
    await server.wait_closed()
    return events[1:], fd_transports(loop)


async def wait_until(condition):
    """Let the loop run until condition() holds (one second at most)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.002)


async def settle(loop):
    """Let the server's side see the client's sockets closed."""
    await wait_until(lambda: all(t.is_closing() for t in loop._transports.values()))


def fd_transports(loop):
    gc.collect()
    open_transports = [t for t in loop._transports.values() if not t.is_closing()]
    return len(open_transports), sorted(
        key.fd for key in loop._selector.get_map().values()
        if key.fd != loop._ssock.fileno())


def test_numeric_ipv4_as_asyncio():
    events, left = same_everywhere(run_on_each(exchange, "127.0.0.1", socket.AF_INET))
    assert [e[0] for e in events] == ["made", "returned", "data", "eof", "lost"]
    assert left == (0, [])


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_numeric_ipv6_as_asyncio():
    events, left = same_everywhere(run_on_each(exchange, "::1", socket.AF_INET6))
    assert events[0][2] == "AF_INET6"
    assert left == (0, [])


def test_host_name_takes_asyncios_path_and_works():
    # 'localhost' needs getaddrinfo (which may give ::1 first): not compiled.
    try:
        socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    except OSError:
        pytest.skip("localhost does not resolve")
    events, left = same_everywhere(run_on_each(exchange, "localhost", socket.AF_INET))
    assert [e[0] for e in events] == ["made", "returned", "data", "eof", "lost"]


def test_iterations_between_call_and_return_as_asyncio():
    """The callbacks a connection goes through, interleaved with another
    task's iterations as in asyncio (a listener that never accepts: the
    kernel completes the connection alone)."""
    async def scenario(loop):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(10)
        log = []
        tick_task = loop.create_task(ticker(log))
        await asyncio.sleep(0)

        class Made(asyncio.Protocol):
            def connection_made(self, transport):
                log.append(("made",))

            def connection_lost(self, exc):
                log.append(("lost",))

        log.append(("call",))
        transport, _ = await loop.create_connection(Made, *listener.getsockname())
        log.append(("returned",))
        transport.close()
        while log[-1] != ("lost",) and not any(e == ("lost",) for e in log):
            await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.sleep(0)
        tick_task.cancel()
        listener.close()
        start = log.index(("call",))
        return [e if e[0] != "tick" else ("tick",) for e in log[start:]]

    assert ("made",) in same_everywhere(run_on_each(scenario))


def refused_address():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    address = s.getsockname()
    s.close()
    return address


def describe(exc):
    if isinstance(exc, BaseExceptionGroup if sys.version_info >= (3, 11) else ()):
        return (type(exc).__name__, str(exc), [describe(e) for e in exc.exceptions])
    return (type(exc).__name__, getattr(exc, "errno", None), str(exc))


@pytest.mark.parametrize("all_errors", [False, True])
def test_refused_as_asyncio(all_errors):
    if all_errors and sys.version_info < (3, 12):
        pytest.skip("all_errors is 3.12+")
    address = refused_address()

    async def scenario(loop):
        before = open_fds()
        kwargs = {"all_errors": True} if all_errors else {}
        try:
            await loop.create_connection(asyncio.Protocol, *address, **kwargs)
        except BaseException as exc:
            outcome = describe(exc)
        else:
            outcome = "connected"
        return outcome, open_fds() - before, fd_transports(loop)

    outcome, leaked, left = same_everywhere(run_on_each(scenario))
    assert "ConnectionRefusedError" in repr(outcome)
    assert leaked == 0 and left == (0, [])


def test_open_connection_refused_as_asyncio():
    address = refused_address()

    async def scenario(loop):
        try:
            await asyncio.open_connection(*address)
        except OSError as exc:
            return describe(exc)

    assert same_everywhere(run_on_each(scenario))[0] == "ConnectionRefusedError"


async def connected_or_not(connecting, error):
    """The name of `error` if awaiting `connecting` raised it, else
    "connected" (and the transport is closed); then a few iterations for
    the loop to finish closing."""
    try:
        transport, _ = await connecting
    except error:
        outcome = error.__name__
    else:
        outcome = "connected"
        transport.close()
    for _ in range(3):
        await asyncio.sleep(0)
    return outcome


@needs_proc
@pytest.mark.parametrize("iterations", range(6))
def test_cancelled_while_connecting_closes_the_socket(iterations):
    """Cancelled after 0..5 iterations (connecting, made, returned): the
    same outcome as asyncio's and no fd left open."""
    async def scenario(loop):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(10)
        before = open_fds()
        made = []

        class Made(asyncio.Protocol):
            def connection_made(self, transport):
                made.append("made")

            def connection_lost(self, exc):
                made.append(("lost", type(exc).__name__))

        task = loop.create_task(
            loop.create_connection(Made, *listener.getsockname()))
        for _ in range(iterations):
            await asyncio.sleep(0)
        task.cancel()
        outcome = await connected_or_not(task, asyncio.CancelledError)
        listener.close()
        return outcome, made, open_fds() - before + 1, fd_transports(loop)

    outcome, made, leaked, left = same_everywhere(run_on_each(scenario))
    assert leaked == 0 and left == (0, [])


@needs_proc
@pytest.mark.parametrize("timeout", [0, 1e-9])
def test_wait_for_timeout_while_connecting(timeout):
    async def scenario(loop):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(10)
        before = open_fds()
        outcome = await connected_or_not(asyncio.wait_for(
            loop.create_connection(asyncio.Protocol, *listener.getsockname()),
            timeout), asyncio.TimeoutError)
        listener.close()
        return outcome, open_fds() - before + 1, fd_transports(loop)

    outcome, leaked, left = same_everywhere(run_on_each(scenario))
    assert leaked == 0 and left == (0, [])


def test_open_connection_round_trip():
    async def scenario(loop):
        async def handle(reader, writer):
            writer.write(b"<" + await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        writer.write(b"hello\n")
        line = await reader.readline()
        rest = await reader.read()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return line, rest, writer.is_closing(), fd_transports(loop)

    assert same_everywhere(run_on_each(scenario)) == (b"<hello\n", b"", True, (0, []))


@needs_proc
def test_many_connections_leave_nothing():
    async def scenario(loop):
        async def handle(reader, writer):
            writer.write(await reader.read(1))
            writer.close()

        before = open_fds()
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=100)
        address = server.sockets[0].getsockname()

        async def one():
            reader, writer = await asyncio.open_connection(*address)
            writer.write(b"!")
            data = await reader.read()
            writer.close()
            await writer.wait_closed()
            return data

        got = []
        for _ in range(10):
            got += await asyncio.gather(*(one() for _ in range(30)))
        for _ in range(50):
            got.append(await one())
        server.close()
        await server.wait_closed()
        return set(got), len(got), open_fds() - before, fd_transports(loop)

    assert same_everywhere(run_on_each(scenario)) == ({b"!"}, 350, 0, (0, []))


@needs_proc
def test_protocol_factory_raising():
    """The factory's exception comes out; the socket is closed at once
    from 3.14 on, left to the garbage collector before, as in asyncio."""
    async def scenario(loop):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(10)
        before = open_fds()

        def factory():
            raise ZeroDivisionError("no protocol")

        try:
            await loop.create_connection(factory, *listener.getsockname())
        except ZeroDivisionError as exc:
            outcome = describe(exc)
        opened = open_fds() - before
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        listener.close()
        return outcome, opened, open_fds() - before + 1, fd_transports(loop)

    outcome, opened, left_after_gc, left = same_everywhere(run_on_each(scenario))
    assert outcome[0] == "ZeroDivisionError" and left_after_gc == 0


@pytest.mark.parametrize("kwargs", [
    {"server_hostname": "x"},
    {"ssl_handshake_timeout": 1.0},
    {"sock": "SOCK", "host": None, "port": None},
    {"sock": "SOCK"},
    {"local_addr": ("127.0.0.1", 0)},
    {"happy_eyeballs_delay": 0.25},
    {"interleave": 1},
    {"family": socket.AF_INET},
    {"proto": socket.IPPROTO_TCP},
    {"flags": socket.AI_NUMERICHOST},
    {"ssl": False},
    {"port": "PORT_STR"},
])
def test_other_arguments_as_asyncio(kwargs):
    """Arguments the compiled path leaves to asyncio's code: same result."""
    async def scenario(loop):
        server_ends_lost = []

        class ServerEnd(Echo):
            def connection_lost(self, exc):
                server_ends_lost.append(exc)

        server = await loop.create_server(ServerEnd, "127.0.0.1", 0)
        host, port = server.sockets[0].getsockname()
        args = dict(host=host, port=port)
        args.update(kwargs)
        if args.get("port") == "PORT_STR":
            args["port"] = str(port)
        if args.get("sock") == "SOCK":
            args["sock"] = socket.create_connection((host, port))
        events = [(host, port)]
        try:
            transport, _ = await loop.create_connection(lambda: Recorder(events), **args)
        except Exception as exc:
            outcome = describe(exc)
            if "sock" in args:
                args["sock"].close()
        else:
            outcome = "connected"
            transport.close()
            # With a connected `sock` the client is done before the server
            # has even accepted: its end must come and go before the server
            # closes, or it is left open (3.14's Server then fails when the
            # collector detaches it).
            await wait_until(lambda: server_ends_lost)
            await settle(loop)
        server.close()
        await server.wait_closed()
        return outcome, events[1:], fd_transports(loop)

    outcome, events, left = same_everywhere(run_on_each(scenario))
    assert left == (0, [])


def test_debug_mode_as_asyncio():
    async def in_debug_mode(loop, *args):
        loop.set_debug(True)
        return await exchange(loop, *args)

    events, left = same_everywhere(
        run_on_each(in_debug_mode, "127.0.0.1", socket.AF_INET))
    assert [e[0] for e in events] == ["made", "returned", "data", "eof", "lost"]


def test_methods_replaced_on_the_instance_are_called():
    """A create_connection or sock_connect set on the loop is what
    open_connection and create_connection call, as in asyncio."""
    async def scenario(loop):
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        address = server.sockets[0].getsockname()
        calls = []
        sock_connect = loop.sock_connect
        create_connection = loop.create_connection

        async def spy_sock_connect(sock, addr):
            calls.append("sock_connect")
            return await sock_connect(sock, addr)

        def spy_create_connection(*args, **kwargs):
            calls.append("create_connection")
            return create_connection(*args, **kwargs)

        loop.sock_connect = spy_sock_connect
        transport, _ = await loop.create_connection(asyncio.Protocol, *address)
        transport.close()
        loop.create_connection = spy_create_connection
        reader, writer = await asyncio.open_connection(*address)
        writer.close()
        await writer.wait_closed()
        del loop.sock_connect, loop.create_connection
        transport, _ = await loop.create_connection(asyncio.Protocol, *address)
        transport.close()
        await settle(loop)
        server.close()
        await server.wait_closed()
        return calls, fd_transports(loop)

    calls, left = same_everywhere(run_on_each(scenario))
    assert calls == ["sock_connect", "create_connection", "sock_connect"]
    assert left == (0, [])


def test_subclass_methods_are_called():
    """A subclass's own _sock_connect_cb and _create_connection_transport run."""
    calls = []

    def subclass(base):
        class Loop(base):
            def _sock_connect_cb(self, fut, sock, address):
                calls.append((base.__name__, "cb"))
                return super()._sock_connect_cb(fut, sock, address)

            async def _create_connection_transport(self, *args, **kwargs):
                calls.append((base.__name__, "transport"))
                return await super()._create_connection_transport(*args, **kwargs)
        return Loop

    for base in LOOPS.values():
        loop = subclass(base)()
        try:
            async def scenario():
                listener = socket.socket()
                listener.bind(("127.0.0.1", 0))
                listener.listen(10)
                transport, _ = await loop.create_connection(
                    asyncio.Protocol, *listener.getsockname())
                transport.close()
                await asyncio.sleep(0)
                listener.close()
            loop.run_until_complete(scenario())
        finally:
            loop.close()
    kinds = {base: sorted(c[1] for c in calls if c[0] == base.__name__)
             for base in LOOPS.values()}
    assert kinds[asyncio.SelectorEventLoop] == kinds[aio.EventLoop]
    assert "transport" in kinds[aio.EventLoop]


def test_sock_connect_as_asyncio():
    """loop.sock_connect on its own: numeric, IPv6 tuple forms, refused (once
    connecting), and an address whose connect() fails at once."""
    refused = refused_address()
    failing_at_once = ("255.255.255.255", 9)  # ENETUNREACH or EACCES

    async def scenario(loop):
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        address = server.sockets[0].getsockname()
        seen = []
        for target in (address, refused, ("localhost", address[1]), list(address),
                       failing_at_once):
            sock = socket.socket()
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, target)
            except Exception as exc:
                seen.append(describe(exc))
            else:
                seen.append(("connected", sock.getpeername()[1] == address[1]))
            sock.close()
        await settle(loop)
        server.close()
        await server.wait_closed()
        return seen, fd_transports(loop)

    seen, left = same_everywhere(run_on_each(scenario))
    assert seen[0] == ("connected", True) and left == (0, [])


def test_replaced_socket_methods_are_called_as_asyncio_calls_them():
    """socket.socket's connect and getsockopt, and the loop's remove_writer,
    replaced: a connection calls each as on asyncio's loop (fastsel's
    otherwise connects with connect_ex, which raises nothing for the wait,
    and makes the other two calls' steps in C)."""
    from unittest import mock

    stdlib_connect = socket.socket.connect
    stdlib_getsockopt = socket.socket.getsockopt
    calls = {}
    for name, factory in LOOPS.items():
        seen = []

        def connect(sock, address):
            seen.append(("connect", address[0]))
            return stdlib_connect(sock, address)

        def getsockopt(sock, *args):
            seen.append(("getsockopt",) + args)
            return stdlib_getsockopt(sock, *args)

        loop = factory()
        remove_writer = loop.remove_writer

        def removing_writer(fd):
            seen.append(("remove_writer",))
            return remove_writer(fd)

        with mock.patch.object(socket.socket, "connect", connect), \
                mock.patch.object(socket.socket, "getsockopt", getsockopt), \
                mock.patch.object(loop, "remove_writer", removing_writer):
            try:
                loop.run_until_complete(exchange(loop, "127.0.0.1", socket.AF_INET))
            finally:
                loop.close()
        calls[name] = seen
    assert {call[0] for call in calls["asyncio"]} >= {"connect", "getsockopt", "remove_writer"}
    same_everywhere(calls)


@pytest.mark.skipif(not COMPILED, reason="the compiled path needs the compiled build")
def test_compiled_path_is_used():
    """fastsel's loop runs none of asyncio's Python methods of the client's
    connection path for a numeric host (asyncio's loop runs them all)."""
    from asyncio import selector_events as se

    watched = [base_events.BaseEventLoop.create_connection,
               base_events.BaseEventLoop._connect_sock,
               base_events.BaseEventLoop._create_connection_transport,
               se.BaseSelectorEventLoop.sock_connect,
               se.BaseSelectorEventLoop._sock_connect,
               se.BaseSelectorEventLoop._sock_connect_cb,
               se.BaseSelectorEventLoop._sock_write_done]
    codes = [f.__code__ for f in watched]
    resolve_code = base_events.BaseEventLoop._ensure_resolved.__code__
    for name, factory in LOOPS.items():
        counts = [0] * len(codes)
        resolved = 0

        def profile(frame, event, arg):
            nonlocal resolved
            if event == "call" and frame.f_code in codes:
                counts[codes.index(frame.f_code)] += 1
            if event == "call" and frame.f_code is resolve_code:
                resolved += 1

        loop = factory()
        try:
            sys.setprofile(profile)
            loop.run_until_complete(exchange(loop, "127.0.0.1", socket.AF_INET))
        finally:
            sys.setprofile(None)
            loop.close()
        assert (counts == [0] * len(codes)) if name == "fastsel" else all(counts), \
            (name, counts)
        # create_server resolves its host; the client's connection does not.
        assert resolved == (1 if name == "fastsel" else 3), (name, resolved)


@pytest.mark.parametrize("host", [
    "127.0.0.1", "::ffff:127.0.0.1", "127.1", "999.0.0.1", "127.0.0.1\x00",
    "\uff11\uff12\uff17.0.0.1", "127.0.0.1 ", "",
])
def test_numeric_host_test_as_asyncio(host):
    """Which hosts are taken as numeric (and need no getaddrinfo), and what
    the others come to, as on asyncio's loop. The compiled loop stands in
    for socket.inet_pton for ASCII text without NUL, and keeps numeric
    hosts off asyncio's Python path."""
    watched = {base_events.BaseEventLoop.getaddrinfo.__code__: "resolved",
               base_events.BaseEventLoop.create_connection.__code__: "asyncio's path"}

    async def scenario(loop):
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        frames = {name: [] for name in watched.values()}

        def profile(frame, event, arg):
            # A coroutine's frame sees a "call" each time it resumes.
            if event == "call" and frame.f_code in watched:
                seen = frames[watched[frame.f_code]]
                if not any(f is frame for f in seen):
                    seen.append(frame)

        sys.setprofile(profile)
        try:
            transport, _ = await loop.create_connection(asyncio.Protocol, host, port)
        except Exception as exc:
            outcome = describe(exc)
        else:
            outcome = "connected"
            transport.close()
        finally:
            sys.setprofile(None)
        await settle(loop)
        server.close()
        await server.wait_closed()
        calls = {name: len(seen) for name, seen in frames.items()}
        return calls.pop("asyncio's path"), (outcome, calls, fd_transports(loop))

    results = run_on_each(scenario)
    outcome, calls, left = same_everywhere({name: r[1] for name, r in results.items()})
    numeric = host in ("127.0.0.1", "::ffff:127.0.0.1")
    if numeric:
        assert calls["resolved"] == 0
    assert left == (0, [])
    if COMPILED and numeric:
        assert results["fastsel"][0] == 0
