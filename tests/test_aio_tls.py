"""TLS on fastsel.aio: CPython's asyncio TLS suites, and loopback scenarios
whose outcome must be asyncio's.

On CPython 3.11+ with the compiled build, fastsel.aio.EventLoop runs TLS
through fastsel._sslproto_c (asyncio's SSLProtocol with compiled per-record
methods); otherwise through asyncio's own. CPython's suites run on
`EventLoop`; the scenarios below run on `EventLoop` and on the pure loop
class (asyncio's TLS on fastsel's selector), each compared with asyncio's
own loop, the oracle.
"""
import asyncio
import contextlib
import gc
import logging
import socket
import ssl
import sys
import threading
import types
import warnings
import weakref
from asyncio import base_events, sslproto
from unittest import mock

import pytest

import fastsel
from fastsel import _tls, aio

trustme = pytest.importorskip(
    "trustme", reason="trustme makes the test certificates: pip install '.[test]'")

COMPILED_TLS = _tls.COMPILED_TLS
# EventLoop takes the compiled TLS where its compiled iteration runs too.
TLS_ON_EVENT_LOOP = _tls.TLSMixin is not None and issubclass(aio.EventLoop, _tls.TLSMixin)
compiled_tls = pytest.mark.skipif(
    not TLS_ON_EVENT_LOOP,
    reason="fastsel.aio.EventLoop's compiled TLS needs the compiled build and CPython 3.11+")

LOOPS = {
    "EventLoop": aio.EventLoop,
    "pure": aio._PureEventLoop,
}
ORACLE = asyncio.SelectorEventLoop


# ------------------------------------------------ CPython's own suites

def _cpython_cases():
    try:
        from test.test_asyncio import test_sslproto
    except ImportError:
        return {}
    try:
        from test.test_asyncio import test_ssl  # 3.11+
    except ImportError:
        test_ssl = None

    cases = {}
    # On EventLoop only: on the pure loop class they would test asyncio's
    # TLS alone (and EventLoop is that class where nothing is compiled).
    for label, loop_class in [("EventLoop", aio.EventLoop)]:
        def make_loop(loop_class=loop_class):
            return loop_class()

        def patch_new_event_loop(self, make_loop=make_loop):
            patcher = mock.patch("asyncio.new_event_loop", make_loop)
            patcher.start()
            self.addCleanup(patcher.stop)

        start_tls = f"Test_sslproto_StartTLS_{label}"
        cases[start_tls] = type(start_tls, (test_sslproto.SelectorStartTLSTests,), {
            "new_loop": lambda self, make_loop=make_loop: make_loop(),
        })
        if test_ssl is not None:
            name = f"Test_ssl_{label}"
            base = test_ssl.TestSSL

            def set_up(self, base=base, patch=patch_new_event_loop):
                patch(self)  # TestSSL.setUp and new_loop() call asyncio.new_event_loop()
                base.setUp(self)

            cases[name] = type(name, (base,), {"setUp": set_up})

    if COMPILED_TLS:
        # asyncio's unit tests of SSLProtocol, on fastsel's subclass.
        from fastsel._sslproto_c import SSLProtocol
        module = types.SimpleNamespace(**{**vars(sslproto), "SSLProtocol": SSLProtocol})
        base = test_sslproto.SslProtoHandshakeTests

        def set_up(self, base=base):
            patcher = mock.patch.object(test_sslproto, "sslproto", module)
            patcher.start()
            self.addCleanup(patcher.stop)
            base.setUp(self)

        cases["Test_sslproto_Handshake_compiled"] = type(
            "Test_sslproto_Handshake_compiled", (base,), {"setUp": set_up})
    for name, case in cases.items():
        case.__module__, case.__qualname__ = __name__, name
    return cases


globals().update(_cpython_cases())


def teardown_module():
    with warnings.catch_warnings():
        # Deprecated from 3.14 on, as asyncio's policies are.
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(None)


# ------------------------------------------------ certificates and helpers

@pytest.fixture(scope="module")
def tls():
    """Server and client contexts for localhost / 127.0.0.1, and a client
    context that trusts another CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    stranger = ssl.create_default_context()
    trustme.CA().configure_trust(stranger)
    return types.SimpleNamespace(server=server, client=client, stranger=stranger,
                                 ca_pem=ca.cert_pem.bytes().decode())


@pytest.fixture(params=list(LOOPS) + ["asyncio"])
def loop(request):
    loop = ORACLE() if request.param == "asyncio" else LOOPS[request.param]()
    yield loop
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def run_on_each(coro_function, *args):
    """coro_function(*args) on fastsel.aio's loops and on asyncio's:
    {loop label: result}."""
    results = {}
    for label, loop_class in [*LOOPS.items(), ("asyncio", ORACLE)]:
        loop = loop_class()
        try:
            results[label] = loop.run_until_complete(coro_function(*args))
        finally:
            loop.close()
    return results


def assert_same_everywhere(results):
    expected = results.pop("asyncio")
    assert results == {label: expected for label in results}
    return expected


async def https_round_trip(tls, requests):
    """An HTTP/1.1 keep-alive server over TLS (streams); the client sends
    `requests` requests on one connection and returns what it saw."""
    async def handle(reader, writer):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"QUIT"):
                break
            body = head.split(b" ")[1]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls.server)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=tls.client, server_hostname="localhost")
    seen = []
    for index in range(requests):
        writer.write(b"GET /%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % index)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        seen.append(await reader.readexactly(length))
    transport = writer.transport
    info = (type(transport.get_extra_info("ssl_object")).__name__,
            transport.get_extra_info("peercert")["subjectAltName"],
            transport.get_extra_info("cipher")[1],
            transport.get_extra_info("sslcontext") is tls.client)
    writer.write(b"QUIT\r\n\r\n")
    eof = await reader.read()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return seen, info, eof


# ------------------------------------------------ scenarios

@compiled_tls
def test_event_loop_uses_compiled_tls(tls):
    from fastsel import _sslproto_c, _transport_c

    async def main():
        async def handle(reader, writer):
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls.server)
        _, writer = await asyncio.open_connection(
            "127.0.0.1", server.sockets[0].getsockname()[1], ssl=tls.client,
            server_hostname="localhost")
        transport = writer.transport
        kinds = (type(transport), type(transport._ssl_protocol),
                 type(transport._ssl_protocol._transport))
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return kinds

    assert aio.run(main()) == (_sslproto_c.SSLProtocolTransport, _sslproto_c.SSLProtocol,
                               _transport_c.SocketTransport)


@pytest.mark.skipif(not TLS_ON_EVENT_LOOP, reason="the compiled TLS is not live")
def test_make_ssl_transport_as_asyncios(tls):
    """The compiled _make_ssl_transport takes asyncio's arguments (context=
    only where the version has it) and makes the socket transport from the
    loop's _socket_transport_class, a subclass too."""
    from fastsel import _transport_c

    class Recorded(_transport_c.SocketTransport):
        made = 0

        def __init__(self, *args, **kwargs):
            Recorded.made += 1
            super().__init__(*args, **kwargs)

    class Loop(aio.EventLoop):
        _socket_transport_class = Recorded

    async def connect():
        server, _, writer = await tls_echo_connection(tls)
        kind = type(writer.transport._ssl_protocol._transport)
        await close_echo_connection(server, writer)
        return kind

    loop = Loop()
    try:
        assert loop.run_until_complete(connect()) is Recorded
        assert Recorded.made == 2  # the client's and the server's
    finally:
        loop.close()
    base = asyncio.SelectorEventLoop
    for loop_class in (aio.EventLoop, base):
        loop = loop_class()
        a, b = socket.socketpair()
        try:
            with pytest.raises(TypeError) as caught:
                loop._make_ssl_transport(a, asyncio.Protocol(), tls.client, nonsense=1)
            assert "unexpected keyword argument 'nonsense'" in str(caught.value)
            if sys.version_info < (3, 15):
                with pytest.raises(TypeError, match="'context'"):
                    loop._make_ssl_transport(a, asyncio.Protocol(), tls.client, context=None)
        finally:
            a.close()
            b.close()
            loop.close()


def test_compiled_tls_is_used_where_supported():
    expected = fastsel.IMPLEMENTATION == "c" and sys.version_info >= (3, 11)
    assert COMPILED_TLS is expected
    compiled_loop = aio._compiled is not None and aio._compiled.SUPPORTED
    assert TLS_ON_EVENT_LOOP is (expected and compiled_loop)


def test_https_keep_alive_round_trips(tls):
    seen, info, eof = assert_same_everywhere(run_on_each(https_round_trip, tls, 50))
    assert seen == [b"/%d" % i for i in range(50)]
    assert info[0] == "SSLObject" and info[1] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
    assert info[3] and eof == b""


async def echo_sizes(tls, sizes):
    """An echo server over TLS; each message must come back whole."""
    async def echo(reader, writer):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=tls.server)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.sockets[0].getsockname()[1], ssl=tls.client,
        server_hostname="localhost")
    echoed = []
    for size in sizes:
        payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        writer.write(payload)
        echoed.append(await reader.readexactly(size) == payload)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return echoed


def test_echo_of_small_and_large_messages(tls):
    # Up to several TLS records and more than one socket read per message.
    sizes = [1, 100, 16384, 16385, 100_000, 1_000_000]
    assert assert_same_everywhere(run_on_each(echo_sizes, tls, sizes)) == [True] * len(sizes)


async def upgrade_with_start_tls(tls):
    """A plain connection upgraded by start_tls on both sides (STARTTLS)."""
    upgraded = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"OK\n")
        await writer.drain()
        await writer.start_tls(tls.server)
        writer.write(b"secret:" + await reader.readline())
        await writer.drain()
        upgraded.set_result(writer.get_extra_info("ssl_object") is not None)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    plain = writer.get_extra_info("ssl_object")
    writer.write(b"STARTTLS\n")
    assert await reader.readline() == b"OK\n"
    await writer.start_tls(tls.client, server_hostname="localhost")
    writer.write(b"hello\n")
    answer = await reader.readline()
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return plain, answer, version, await upgraded


@pytest.mark.skipif(sys.version_info < (3, 11), reason="StreamWriter.start_tls is 3.11+")
def test_start_tls_on_an_existing_connection(tls):
    plain, answer, version, upgraded = assert_same_everywhere(run_on_each(upgrade_with_start_tls, tls))
    assert plain is None and answer == b"secret:hello\n" and version.startswith("TLS")
    assert upgraded


async def start_tls_wrong_arguments():
    errors = []
    reader, writer = await asyncio.open_connection(*silent_peer_address())
    loop = asyncio.get_running_loop()
    for args in [(writer.transport, writer.transport.get_protocol(), "not a context"),
                 (object(), writer.transport.get_protocol(), ssl.create_default_context())]:
        try:
            await loop.start_tls(*args)
        except TypeError as exc:
            errors.append(str(exc).split(" ")[0])
    writer.close()
    return errors


_silent = {}


def silent_peer_address():
    """A listening socket that accepts nothing: connections complete in the
    kernel's backlog, and no handshake byte ever comes back."""
    if "sock" not in _silent:
        sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        _silent["sock"] = sock
    return _silent["sock"].getsockname()[:2]


@pytest.fixture(scope="module", autouse=True)
def _close_silent_peer():
    yield
    if "sock" in _silent:
        _silent.pop("sock").close()


def test_start_tls_argument_errors():
    errors = assert_same_everywhere(run_on_each(start_tls_wrong_arguments))
    assert errors == ["sslcontext", "transport"]


async def handshake_against_silent_peer(tls):
    """Connect to a peer that never answers the ClientHello: the handshake
    timeout must fire, and nothing of the connection may stay alive."""
    loop = asyncio.get_running_loop()
    protocols = []

    class Client(asyncio.Protocol):
        pass

    def make_protocol():
        protocol = Client()
        protocols.append(weakref.ref(protocol))
        return protocol

    context = ssl.create_default_context()
    context_ref = weakref.ref(context)
    began = loop.time()
    try:
        await loop.create_connection(
            make_protocol, *silent_peer_address(), ssl=context, server_hostname="localhost",
            ssl_handshake_timeout=0.2)
    except ConnectionError as exc:
        error = (type(exc).__name__, "handshake" in str(exc))
    else:
        error = None
    waited = loop.time() - began >= 0.2
    del context
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    return (error, waited, context_ref() is None, [ref() is None for ref in protocols],
            [t for t in loop._transports.values() if not t.is_closing()])


async def lifecycle_steps(tls):
    """What a TLS connection's protocol shows at each step of its life: the
    timeout callbacks given to call_later (lambdas up to 3.12, bound
    methods from 3.13), the states, the waiter, the application
    transport's flags, and the callbacks the application protocol sees."""
    loop = asyncio.get_running_loop()
    seen = []

    def name(handle):
        return None if handle is None else getattr(handle._callback, "__name__", None)

    pending = asyncio.ensure_future(loop.create_connection(
        asyncio.Protocol, *silent_peer_address(), ssl=tls.client, server_hostname="localhost"))
    for _ in range(2500):  # up to 5 s on a loaded machine
        await asyncio.sleep(0.002)
        protocols = [t._protocol for t in loop._transports.values()
                     if t.get_extra_info("peername") == silent_peer_address()
                     and not t.is_closing()]
        if protocols:
            break
    handshaking = protocols[0]
    seen.append(("handshake", handshaking._state.name, name(handshaking._handshake_timeout_handle),
                 handshaking._app_state.name, handshaking._waiter is not None))
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending

    class Client(asyncio.Protocol):
        def connection_made(self, transport):
            seen.append(("made", transport._ssl_protocol._state.name,
                         transport._ssl_protocol._handshake_timeout_handle))

        def eof_received(self):
            seen.append(("eof",))

        def connection_lost(self, exc):
            seen.append(("lost", exc))

    server = await loop.create_server(_Echo, "127.0.0.1", 0, ssl=tls.server)
    transport, client = await loop.create_connection(
        Client, *server.sockets[0].getsockname()[:2], ssl=tls.client,
        server_hostname="localhost")
    protocol = transport._ssl_protocol
    seen.append(("connected", protocol._state.name, protocol._waiter,
                 sorted(key for key in ("peercert", "cipher", "compression", "ssl_object")
                        if transport.get_extra_info(key) is not None)))
    transport.close()
    seen.append(("closing", protocol._state.name, name(protocol._shutdown_timeout_handle),
                 transport._closed, transport.is_closing()))
    transport.close()  # a second close() forgets the protocol, as asyncio's
    seen.append(("closed twice", transport._ssl_protocol))
    for _ in range(200):
        if seen[-1][0] == "lost":
            break
        await asyncio.sleep(0.005)
    seen.append(("after", protocol._state.name, protocol._app_state.name,
                 protocol._transport, protocol._app_transport,
                 protocol._shutdown_timeout_handle, protocol._handshake_timeout_handle))
    server.close()
    await server.wait_closed()
    return seen


@pytest.mark.skipif(sys.version_info < (3, 11),
                    reason="the memory-BIO SSLProtocol of 3.11+")
def test_connection_lifecycle_as_asyncios(tls):
    seen = assert_same_everywhere(run_on_each(lifecycle_steps, tls))
    expected_callback = ("_check_handshake_timeout" if sys.version_info >= (3, 13)
                         else "<lambda>")
    assert seen[0] == ("handshake", "DO_HANDSHAKE", expected_callback, "STATE_INIT", True)
    assert [step[0] for step in seen[1:]] == [
        "made", "connected", "closing", "closed twice", "eof", "lost", "after"]
    assert seen[3][:2] == ("closing", "SHUTDOWN")


@compiled_tls
@pytest.mark.parametrize("patched", [
    (sslproto.SSLProtocol, "connection_made"),
    (sslproto.SSLProtocol, "_do_read"),
    (sslproto._SSLProtocolTransport, "write"),
    (sslproto, "SSLProtocol"),
])
def test_patched_asyncio_tls_classes_are_seen(tls, patched):
    """A method patched on asyncio's SSLProtocol or _SSLProtocolTransport
    that fastsel's classes replace (or sslproto.SSLProtocol itself) makes
    new connections use asyncio's class, so that the patch runs; once
    unpatched, fastsel's class is used again."""
    from fastsel._sslproto_c import SSLProtocol

    owner, name = patched
    original = getattr(owner, name)
    calls = []

    if owner is sslproto:
        class Patched(original):
            def connection_made(self, transport):
                calls.append(name)
                super().connection_made(transport)
        replacement = Patched
    else:
        def replacement(self, *args):
            calls.append(name)
            return original(self, *args)

    async def echo_class():
        server = await asyncio.get_running_loop().create_server(
            _Echo, "127.0.0.1", 0, ssl=tls.server)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.sockets[0].getsockname()[1], ssl=tls.client,
            server_hostname="localhost")
        writer.write(b"ping")
        echoed = await reader.readexactly(4)
        protocol_class = type(writer.transport._ssl_protocol)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return echoed, protocol_class

    loop = aio.EventLoop()
    try:
        with mock.patch.object(owner, name, replacement):
            echoed, protocol_class = loop.run_until_complete(echo_class())
        assert echoed == b"ping" and calls and protocol_class is not SSLProtocol
        calls.clear()
        echoed, protocol_class = loop.run_until_complete(echo_class())
        assert echoed == b"ping" and not calls and protocol_class is SSLProtocol
    finally:
        loop.close()


async def tls_echo_connection(tls, client=None):
    """An echo server over TLS and a streams client connected to it."""
    server = await asyncio.get_running_loop().create_server(
        _Echo, "127.0.0.1", 0, ssl=tls.server)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.sockets[0].getsockname()[1], ssl=client or tls.client,
        server_hostname="localhost")
    return server, reader, writer


async def close_echo_connection(server, writer):
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


@compiled_tls
@pytest.mark.parametrize("where", ["instance", "class"])
def test_tls_buffer_methods_replaced_are_called(tls, where):
    """The socket transport calls fastsel's TLS protocol's get_buffer and
    buffer_updated without a method call only while neither is replaced:
    set on the connection's protocol (as mock.patch.object does) or on its
    class, after the connection has been used, they are called."""
    from fastsel._sslproto_c import SSLProtocol

    calls = []

    def spy(name):
        original = getattr(SSLProtocol, name)

        def method(self, *args):
            calls.append(name)
            return original(self, *args)
        return method

    async def scenario():
        server, reader, writer = await tls_echo_connection(tls)
        protocol = writer.transport._ssl_protocol
        assert type(protocol) is SSLProtocol
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        with contextlib.ExitStack() as patches:
            for name in ("get_buffer", "buffer_updated"):
                if where == "instance":
                    patches.enter_context(mock.patch.object(
                        protocol, name, types.MethodType(spy(name), protocol)))
                else:
                    patches.enter_context(mock.patch.object(SSLProtocol, name, spy(name)))
            writer.write(b"pong")
            assert await reader.readexactly(4) == b"pong"
        assert {"get_buffer", "buffer_updated"} <= set(calls)
        calls.clear()
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        assert calls == []
        await close_echo_connection(server, writer)

    loop = aio.EventLoop()
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()


async def reads_with_max_size_on_the_protocol(tls):
    """The sizes the client's SSLObject is asked to read, before and after
    max_size is set on the connection's protocol."""
    sizes = []

    class RecordingSSLObject(ssl.SSLObject):
        def read(self, size=1024, *args):
            sizes.append(size)
            return super().read(size, *args)

    client = ssl.create_default_context()
    client.load_verify_locations(cadata=tls.ca_pem)
    client.sslobject_class = RecordingSSLObject
    server, reader, writer = await tls_echo_connection(tls, client)
    seen = []
    for max_size in (None, 5):
        if max_size is not None:
            writer.transport._ssl_protocol.max_size = max_size
        sizes.clear()
        writer.write(b"x" * 12)
        assert await reader.readexactly(12) == b"x" * 12
        seen.append(sorted(set(sizes)))
    await close_echo_connection(server, writer)
    return seen


def test_max_size_set_on_the_tls_protocol_is_read(tls):
    assert_same_everywhere(run_on_each(reads_with_max_size_on_the_protocol, tls))


def test_handshake_timeout_with_silent_peer_leaks_nothing(tls):
    error, waited, context_freed, protocols_freed, open_transports = assert_same_everywhere(
        run_on_each(handshake_against_silent_peer, tls))
    assert error == ("ConnectionAbortedError", True) and waited
    assert context_freed and protocols_freed == [True] and open_transports == []


async def client_with_untrusted_certificate(tls):
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=tls.server)
    try:
        await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1],
                                      ssl=tls.stranger, server_hostname="localhost")
    except ssl.SSLError as exc:
        outcome = (type(exc).__name__, exc.reason)
    else:
        outcome = None
    server.close()
    await server.wait_closed()
    return outcome


def test_certificate_error_type(tls):
    outcome = assert_same_everywhere(run_on_each(client_with_untrusted_certificate, tls))
    assert outcome == ("SSLCertVerificationError", "CERTIFICATE_VERIFY_FAILED")


class _Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def connect_with_tls_arguments(tls, kwargs):
    """create_connection to 127.0.0.1 with these TLS arguments ("CLIENT"
    and "STRANGER" stand for the fixture's contexts): the outcome, what
    the connection saw, and the fds left open."""
    loop = asyncio.get_running_loop()
    kwargs = {key: {"CLIENT": tls.client, "STRANGER": tls.stranger}.get(value, value)
              if isinstance(value, str) else value for key, value in kwargs.items()}
    before = len(loop._selector.get_map())
    server = await loop.create_server(_Echo, "127.0.0.1", 0, ssl=tls.server)
    host, port = server.sockets[0].getsockname()
    received = loop.create_future()
    lost = loop.create_future()

    class Client(asyncio.Protocol):
        def data_received(self, data):
            received.set_result(data)

        def connection_lost(self, exc):
            lost.set_result(type(exc).__name__)

    try:
        transport, _ = await loop.create_connection(Client, host, port, **kwargs)
    except Exception as exc:
        outcome = (type(exc).__name__, getattr(exc, "reason", None) or str(exc))
    else:
        transport.write(b"ping")
        outcome = ("connected", await asyncio.wait_for(received, 20),
                   transport.get_extra_info("peercert")["subjectAltName"],
                   transport.get_extra_info("sslcontext") is tls.client)
        transport.close()
        outcome += (await asyncio.wait_for(lost, 20),)
    server.close()
    await server.wait_closed()
    for _ in range(100):
        await asyncio.sleep(0)
    return outcome, len(loop._selector.get_map()) - before


TLS_CONNECT_ARGUMENTS = [
    {"ssl": "CLIENT"},                                   # server_hostname: the host
    {"ssl": "CLIENT", "server_hostname": "localhost"},
    {"ssl": "CLIENT", "server_hostname": "other.example"},
    {"ssl": "CLIENT", "server_hostname": ""},
    {"ssl": "STRANGER", "server_hostname": "localhost"},
    {"ssl": True, "server_hostname": "localhost"},
    {"ssl": "CLIENT", "ssl_handshake_timeout": 5.0},
    {"ssl": "CLIENT", "ssl_handshake_timeout": -1},
    {"server_hostname": "localhost"},
    {"ssl_handshake_timeout": 5.0},
]
if sys.version_info >= (3, 11):
    TLS_CONNECT_ARGUMENTS += [{"ssl": "CLIENT", "ssl_shutdown_timeout": 5.0},
                              {"ssl": "CLIENT", "ssl_shutdown_timeout": 0}]


@pytest.mark.parametrize("kwargs", TLS_CONNECT_ARGUMENTS, ids=repr)
def test_create_connection_tls_arguments_as_asyncio(tls, kwargs):
    """ssl=, server_hostname= and the TLS timeouts on create_connection to a
    numeric host (fastsel's compiled connection path takes the first seven
    and the shutdown timeouts; the others go through asyncio's code): the
    same outcome, errors included, and nothing left registered."""
    outcome, left = assert_same_everywhere(
        run_on_each(connect_with_tls_arguments, tls, kwargs))
    assert left == 0
    if kwargs.get("ssl") == "CLIENT" and kwargs.get("server_hostname") in (None, "localhost"):
        if kwargs.get("ssl_handshake_timeout", 1) > 0 and kwargs.get("ssl_shutdown_timeout", 1) > 0:
            assert outcome[:2] == ("connected", b"ping")


@compiled_tls
def test_tls_create_connection_takes_the_compiled_path(tls):
    """With ssl= and a numeric host, fastsel's loop runs none of asyncio's
    Python methods of the client's connection path."""
    watched = [base_events.BaseEventLoop.create_connection,
               base_events.BaseEventLoop._ensure_resolved,
               base_events.BaseEventLoop._connect_sock,
               base_events.BaseEventLoop._create_connection_transport]
    codes = {f.__code__ for f in watched}
    seen = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            seen.append(frame.f_code.co_name)

    async def connect():
        server = await asyncio.get_running_loop().create_server(_Echo, "127.0.0.1", 0,
                                                                ssl=tls.server)
        port = server.sockets[0].getsockname()[1]
        sys.setprofile(profile)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls.client)
        finally:
            sys.setprofile(None)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    loop = aio.EventLoop()
    try:
        loop.run_until_complete(connect())
    finally:
        loop.close()
    assert seen == []


async def flow_control_and_close_with_unsent_data(tls):
    """The client writes far more than the peer reads at first: writing must
    pause, then resume once the peer reads; close() right after the last
    write must still deliver everything, then close_notify."""
    loop = asyncio.get_running_loop()
    total = 8 * 1024 * 1024
    start_reading = threading.Event()
    received = bytearray()
    server_sock = socket.create_server(("127.0.0.1", 0))

    def peer():
        conn, _ = server_sock.accept()
        with tls.server.wrap_socket(conn, server_side=True) as tls_conn:
            start_reading.wait(10)
            while len(received) < total:
                chunk = tls_conn.recv(1 << 16)
                if not chunk:
                    break
                received.extend(chunk)
            received_eof = tls_conn.recv(1) == b""
            results["peer_saw_eof"] = received_eof

    results = {}
    thread = threading.Thread(target=peer)
    thread.start()
    events = []

    class Client(asyncio.Protocol):
        def connection_made(self, transport):
            self.lost = loop.create_future()

        def pause_writing(self):
            events.append("pause")
            start_reading.set()

        def resume_writing(self):
            events.append("resume")

        def connection_lost(self, exc):
            self.lost.set_result(exc)

    try:
        transport, protocol = await loop.create_connection(
            Client, *server_sock.getsockname()[:2], ssl=tls.client, server_hostname="localhost")
        transport.set_write_buffer_limits(high=256 * 1024)
        chunk = b"z" * 65536
        for _ in range(total // len(chunk)):
            transport.write(chunk)
        start_reading.set()
        transport.close()
        lost = await asyncio.wait_for(protocol.lost, 20)
    finally:
        await loop.run_in_executor(None, thread.join, 20)
        server_sock.close()
    return (events[:2], len(received), bytes(received[:1]), lost, results.get("peer_saw_eof"))


def test_flow_control_and_close_with_unsent_data(tls):
    events, size, first, lost, peer_saw_eof = assert_same_everywhere(
        run_on_each(flow_control_and_close_with_unsent_data, tls))
    assert events == ["pause", "resume"] and size == 8 * 1024 * 1024 and first == b"z"
    assert lost is None and peer_saw_eof


def test_loop_fixture_runs_plain_tls_client(loop, tls):
    # Each loop on its own, with the exception handler untouched: a TLS echo
    # produces no error reported to the loop.
    reported = []
    loop.set_exception_handler(lambda loop, context: reported.append(context))
    assert loop.run_until_complete(echo_sizes(tls, [10, 70_000])) == [True, True]
    assert reported == []


async def received_chunks(tls, size, patch_read=None):
    """A protocol server over TLS receives `size` bytes in one write: the
    types of what data_received got, whether the bytes are whole, and how
    many SSLObject.read calls the patch (if any) saw."""
    loop = asyncio.get_running_loop()
    chunks = []
    done = loop.create_future()

    class Server(asyncio.Protocol):
        def data_received(self, data):
            chunks.append(data)
            if sum(map(len, chunks)) >= size and not done.done():
                done.set_result(None)

    calls = []
    real_read = ssl.SSLObject.read

    def counting_read(self, *args):
        calls.append(len(args))
        return real_read(self, *args)

    server = await loop.create_server(Server, "127.0.0.1", 0, ssl=tls.server)
    _, writer = await asyncio.open_connection(
        "127.0.0.1", server.sockets[0].getsockname()[1], ssl=tls.client,
        server_hostname="localhost")
    payload = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
    # Patched once connections run, so that a check made when they began
    # cannot hide it.
    with mock.patch.object(ssl.SSLObject, "read", counting_read) if patch_read else \
            _nothing():
        writer.write(payload)
        await asyncio.wait_for(done, 20)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return ({type(chunk).__name__ for chunk in chunks}, b"".join(chunks) == payload,
            bool(calls))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_data_received_gets_bytes_of_what_was_read(tls):
    # One record, many records, and more than max_size (256 KiB) at once.
    for size in (1, 40_000, 600_000):
        kinds, whole, _ = assert_same_everywhere(run_on_each(received_chunks, tls, size))
        assert kinds == {"bytes"} and whole


def test_a_patched_sslobject_read_is_called(tls):
    # The compiled read calls ssl's _ssl object directly only while
    # ssl.SSLObject's methods are the stdlib's: a patch made while the loop
    # runs is seen.
    assert assert_same_everywhere(run_on_each(received_chunks, tls, 50_000, True)) == (
        {"bytes"}, True, True)


async def protocol_attributes(tls):
    """asyncio's per-record attributes of the server's SSLProtocol, read and
    set from Python."""
    loop = asyncio.get_running_loop()
    seen = loop.create_future()

    class Server(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            proto = self.transport._ssl_protocol
            state = (proto._state, proto._write_buffer_size, len(proto._write_backlog),
                     type(proto._incoming).__name__, type(proto._sslobj).__name__,
                     proto._app_protocol is self, proto._app_reading_paused,
                     proto._app_writing_paused, proto._ssl_reading_paused,
                     proto._ssl_writing_paused, proto._conn_lost,
                     proto._incoming_high_water > proto._incoming_low_water,
                     proto._outgoing_high_water > proto._outgoing_low_water,
                     len(proto._ssl_buffer) >= proto.max_size)
            self.transport.pause_reading()
            paused = (proto._app_reading_paused, self.transport.is_reading())
            self.transport.resume_reading()
            self.transport.set_write_buffer_limits(high=1000, low=10)
            limits = (proto._outgoing_high_water, proto._outgoing_low_water)
            self.transport.write(data)
            seen.set_result((state, paused, limits, proto._app_reading_paused))

    server = await loop.create_server(Server, "127.0.0.1", 0, ssl=tls.server)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.sockets[0].getsockname()[1], ssl=tls.client,
        server_hostname="localhost")
    writer.write(b"ping")
    result = await asyncio.wait_for(seen, 20)
    echoed = await reader.readexactly(4)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return result, echoed


@pytest.mark.skipif(sys.version_info < (3, 11),
                    reason="these are the attributes of asyncio's SSLProtocol of 3.11+")
def test_protocol_attributes_are_asyncios(tls):
    (state, paused, limits, resumed), echoed = assert_same_everywhere(
        run_on_each(protocol_attributes, tls))
    assert state == (sslproto.SSLProtocolState.WRAPPED, 0, 0, "MemoryBIO", "SSLObject",
                     True, False, False, False, False, 0, True, True, True)
    assert paused == (True, False) and limits == (1000, 10) and resumed is False
    assert echoed == b"ping"


@compiled_tls
def test_record_state_fields_behave_as_attributes():
    from fastsel._sslproto_c import RecordState, SSLProtocol

    loop = aio.EventLoop()
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        proto = SSLProtocol(loop, asyncio.Protocol(), context, None, server_side=True)
        assert isinstance(proto, RecordState) and isinstance(proto, sslproto.SSLProtocol)
        assert proto._state is sslproto.SSLProtocolState.UNWRAPPED
        assert not {"_state", "_extra", "_loop", "_handshake_timeout_handle"} & set(vars(proto))
        proto._something_else = 1  # other attributes go to the instance's dict
        assert vars(proto)["_something_else"] == 1
        proto._write_buffer_size = 7
        assert proto._get_write_buffer_size() == 7  # asyncio's own method reads it
        # The compiled methods refuse what is not an SSLProtocol.
        with pytest.raises(TypeError):
            SSLProtocol._do_read(None)
    finally:
        loop.close()


@compiled_tls
def test_receive_buffer_is_made_as_asyncios():
    """The receive buffer is allocated unfilled (no 256 KiB of zeros per
    connection) but has asyncio's size and view, and __init__ otherwise
    behaves as asyncio's: its errors, and no max_size left on the instance."""
    from fastsel._sslproto_c import SSLProtocol

    class SmallBuffer(SSLProtocol):
        max_size = 1024

    loop = aio.EventLoop()
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        for cls, size in ((SSLProtocol, sslproto.SSLProtocol.max_size), (SmallBuffer, 1024)):
            proto = cls(loop, asyncio.Protocol(), context, None, server_side=True)
            assert "max_size" not in vars(proto) and proto.max_size == size
            assert type(proto._ssl_buffer) is bytearray and len(proto._ssl_buffer) == size
            assert proto._ssl_buffer_view.obj is proto._ssl_buffer
            assert len(proto.get_buffer(-1)) == size
        proto = SSLProtocol.__new__(SSLProtocol)
        with pytest.raises(ValueError, match="ssl_handshake_timeout"):
            proto.__init__(loop, asyncio.Protocol(), context, None, server_side=True,
                           ssl_handshake_timeout=-1)
        assert "max_size" not in vars(proto)
    finally:
        loop.close()


@compiled_tls
@pytest.mark.parametrize("incoming", ["MemoryBIO", "other"])
def test_received_ciphertext_reaches_the_incoming_bio_as_asyncios(incoming):
    """buffer_updated(nbytes) hands the incoming BIO what the read left in
    the receive buffer, for reads small and large and for odd counts: the
    same bytes as asyncio's (small reads into a MemoryBIO go as a copy),
    and the same objects to a BIO of another type."""
    from fastsel._sslproto_c import SSLProtocol

    class RecordingBIO:
        def __init__(self):
            self.got = []

        def write(self, data):
            self.got.append((type(data), bytes(data)))

    def feed(cls):
        proto = cls(loop, asyncio.Protocol(), context, None, server_side=True)
        if incoming == "other":
            proto._incoming = RecordingBIO()
        got = []
        for nbytes in (0, 1, 100, 2048, 2049, 70_000, -1, 1 << 70):
            buffer = proto.get_buffer(-1)
            buffer[:] = (bytes(range(256)) * (len(buffer) // 256 + 1))[nbytes % 251:][:len(buffer)]
            proto.buffer_updated(nbytes)
            got.append(proto._incoming.read() if incoming == "MemoryBIO" else None)
        return got if incoming == "MemoryBIO" else proto._incoming.got

    loop = aio.EventLoop()
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        assert feed(SSLProtocol) == feed(sslproto.SSLProtocol)
    finally:
        loop.close()


async def echo_with_sslobject_class(tls):
    """The client's context makes SSLObjects of a subclass that records its
    read, write and pending calls: it must see asyncio's calls, no more."""
    calls = []

    class CountingSSLObject(ssl.SSLObject):
        def read(self, *args):
            calls.append("read")
            return super().read(*args)

        def write(self, data):
            calls.append("write")
            return super().write(data)

        def pending(self):
            calls.append("pending")
            return super().pending()

    client = ssl.create_default_context()
    client.load_verify_locations(cadata=tls.ca_pem)
    client.sslobject_class = CountingSSLObject
    echoed = await echo_sizes(types.SimpleNamespace(server=tls.server, client=client),
                              [10, 70_000])
    return echoed, sorted(set(calls))


def test_a_contexts_sslobject_class_is_used(tls):
    echoed, called = assert_same_everywhere(run_on_each(echo_with_sslobject_class, tls))
    # asyncio reads until SSLWantReadError and never asks pending().
    assert echoed == [True, True] and called == ["read", "write"]


async def timeout_cancels(tls):
    """How many times a patched TimerHandle.cancel runs, and on which
    timeouts, over a TLS echo connection's life (both ends on this loop)."""
    cancelled = []
    original = asyncio.TimerHandle.cancel

    def cancel(self):
        callback = getattr(self._callback, "__name__", None)
        cancelled.append(callback)
        return original(self)

    with mock.patch.object(asyncio.TimerHandle, "cancel", cancel):
        server, reader, writer = await tls_echo_connection(tls)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        await close_echo_connection(server, writer)
    return sorted(cancelled)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the memory-BIO SSLProtocol of 3.11+")
def test_a_patched_timer_cancel_is_called_for_tls_timeouts(tls):
    # The compiled protocol cancels its timeouts without TimerHandle.cancel's
    # frame only while that method is asyncio's.
    cancelled = assert_same_everywhere(run_on_each(timeout_cancels, tls))
    handshake = "_check_handshake_timeout" if sys.version_info >= (3, 13) else "<lambda>"
    assert cancelled.count(handshake) >= 2  # the client's and the server's, at least


def loop_methods_seen_by_tls(loop_class, tls, debug):
    """A TLS echo exchange on a subclass of loop_class whose call_later and
    call_soon record the TLS protocol's calls, and (debug) whose get_debug
    says True without the loop being in debug mode: what they were called
    with, and the handshake's debug messages."""
    seen = []
    tls_callbacks = {"_check_handshake_timeout", "_check_shutdown_timeout", "<lambda>",
                     "close", "connection_lost"}

    def name(callback):
        return getattr(callback, "__name__", None)

    class Recording(loop_class):
        def call_later(self, delay, callback, *args, **kwargs):
            if name(callback) in tls_callbacks:
                seen.append(("call_later", name(callback)))
            return super().call_later(delay, callback, *args, **kwargs)

        def call_soon(self, callback, *args, **kwargs):
            if name(callback) in tls_callbacks and "SSL" in type(
                    getattr(callback, "__self__", None)).__name__ + name(callback):
                seen.append(("call_soon", name(callback)))
            return super().call_soon(callback, *args, **kwargs)

    if debug:
        Recording.get_debug = lambda self: True
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            for step in ("starts SSL handshake", "SSL handshake took"):
                if step in message:
                    messages.append(step)

    handler = Collect()
    logging.getLogger("asyncio").addHandler(handler)
    logging.getLogger("asyncio").setLevel(logging.DEBUG)
    loop = Recording()
    try:
        async def exchange():
            server, reader, writer = await tls_echo_connection(tls)
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            await close_echo_connection(server, writer)
        loop.run_until_complete(exchange())
    finally:
        loop.close()
        logging.getLogger("asyncio").removeHandler(handler)
        logging.getLogger("asyncio").setLevel(logging.NOTSET)
    return sorted(seen), sorted(messages)


@compiled_tls
@pytest.mark.parametrize("debug", [False, True])
def test_replaced_loop_methods_are_what_tls_calls(tls, debug):
    """call_later, call_soon (and get_debug) replaced on a loop subclass: the
    TLS protocol's timeouts, callbacks and debug logging go through them, as
    on asyncio's loop."""
    ours = loop_methods_seen_by_tls(aio.EventLoop, tls, debug)
    assert ours == loop_methods_seen_by_tls(ORACLE, tls, debug)
    assert ours[0] and bool(ours[1]) is debug, ours


def _tls_protocols():
    from fastsel._sslproto_c import SSLProtocol

    return [SSLProtocol, sslproto.SSLProtocol]


@compiled_tls
@pytest.mark.parametrize("failed", [False, True])
@pytest.mark.parametrize("armed", [False, True])
def test_shutdown_completes_as_asyncios(armed, failed):
    """_on_shutdown_complete, with the shutdown timeout armed or not (a
    peer that began the shutdown) and with or without an error: what it
    does with the timeout (kept until connection_lost from 3.14, cancelled
    before), the transport's close and _fatal_error, as asyncio's class
    does on the same loop."""
    def steps(cls):
        loop = aio.EventLoop()
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            proto = cls(loop, asyncio.Protocol(), context, None, server_side=True)
            transport = proto._transport = mock.Mock()
            proto._fatal_error = mock.Mock()
            armed_handle = loop.call_later(60, print) if armed else None
            proto._shutdown_timeout_handle = armed_handle
            counted = loop._timer_cancelled_count
            error = ssl.SSLError("failed") if failed else None
            proto._on_shutdown_complete(error)
            now = proto._shutdown_timeout_handle
            return (armed_handle is not None and armed_handle.cancelled(),
                    now is armed_handle,
                    None if now is None else (now.cancelled(), now._callback.__name__),
                    loop._timer_cancelled_count - counted,
                    [handle._callback is transport.close for handle in loop._ready],
                    proto._fatal_error.call_args_list == ([mock.call(error)] if failed else []))
        finally:
            loop.close()

    ours, asyncios = (steps(cls) for cls in _tls_protocols())
    assert ours == asyncios
    assert ours[-1] is True


@compiled_tls
@pytest.mark.parametrize("write_raises", [False, True])
def test_handshake_writes_in_the_want_read_handler_as_asyncios(write_raises):
    """The handshake's first step raises SSLWantReadError, and its
    ClientHello goes out from the except clause that caught it: the write
    sees that exception as the one being handled, what it raises has it as
    __context__, and nothing is left handled after, as with asyncio's
    class (the compiled one catches it without a traceback entry)."""
    def steps(cls):
        loop = aio.EventLoop()
        seen = []

        class Transport:
            def write(self, data):
                seen.append((sys.exc_info()[0], len(data) > 0))
                if write_raises:
                    raise RuntimeError("write failed")

            def get_extra_info(self, name, default=None):
                return default

            def is_closing(self):
                return False

        try:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            proto = cls(loop, asyncio.Protocol(), context, None, server_side=False)
            try:
                proto.connection_made(Transport())
            except RuntimeError as exc:
                raised = (str(exc), type(exc.__context__))
            else:
                raised = None
            return seen, raised, sys.exc_info()[0]
        finally:
            loop.close()

    ours, asyncios = (steps(cls) for cls in _tls_protocols())
    assert ours == asyncios
    assert ours[0] == [(ssl.SSLWantReadError, True)]
    assert ours[1] == (("write failed", ssl.SSLWantReadError) if write_raises else None)
    assert ours[2] is None


@compiled_tls
@pytest.mark.parametrize("closed", [False, True])
def test_unclosed_tls_transport_warns_as_asyncios(closed):
    def warnings_of(cls):
        loop = aio.EventLoop()
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            proto = cls(loop, asyncio.Protocol(), context, None, server_side=True)
            transport = proto._app_transport
            if closed:
                transport._closed = True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gc.collect()  # what earlier tests left
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                del proto, transport
                gc.collect()
            return [(warning.category, str(warning.message)) for warning in caught]
        finally:
            loop.close()

    ours, asyncios = (warnings_of(cls) for cls in _tls_protocols())
    assert ours == asyncios
    assert len(ours) == (0 if closed else 1)


@compiled_tls
def test_replaced_asyncio_constants_are_read_by_new_protocols(monkeypatch):
    # asyncio reads its flow-control and timeout defaults from
    # asyncio.constants for each new protocol: a replacement made after
    # protocols were made is seen by the next one.
    def limits(cls):
        proto = cls(loop, asyncio.Protocol(), context, None, server_side=True)
        return (proto._incoming_high_water, proto._outgoing_high_water,
                proto._ssl_handshake_timeout, proto._ssl_shutdown_timeout)

    loop = aio.EventLoop()
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        before = [limits(cls) for cls in _tls_protocols()]
        assert before[0] == before[1]
        for name, value in [("FLOW_CONTROL_HIGH_WATER_SSL_READ", 3),
                            ("FLOW_CONTROL_HIGH_WATER_SSL_WRITE", 5),
                            ("SSL_HANDSHAKE_TIMEOUT", 7.0), ("SSL_SHUTDOWN_TIMEOUT", 9.0)]:
            monkeypatch.setattr(asyncio.constants, name, value)
        after = [limits(cls) for cls in _tls_protocols()]
        assert after[0] == after[1] == (3 * 1024, 5 * 1024, 7.0, 9.0)
    finally:
        loop.close()
