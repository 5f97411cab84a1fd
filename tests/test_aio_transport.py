"""fastsel.aio's socket transports, whose read and write paths are compiled:
CPython's own unit tests of asyncio's socket transport run on them, and
protocols see what they see on asyncio's transport (bytes, whole, never
overwritten by a later read into the shared read buffer), EOF and errors
included."""
import asyncio
import socket
import struct
import unittest
from unittest import mock

import pytest

import fastsel
from fastsel import aio

pytestmark = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c",
    reason="the pure EventLoop uses asyncio's transport unchanged")

try:
    from test.test_asyncio import test_selector_events
except ImportError:  # interpreters built without their test package
    test_selector_events = None


def _cpython_transport_cases():
    """CPython's SelectorSocketTransport*Tests with the transport they build
    being fastsel's compiled SocketTransport (their sockets are test doubles:
    the calls the transport makes itself on real sockets are tested end to
    end below)."""
    if test_selector_events is None or fastsel.IMPLEMENTATION != "c":
        return {}
    from fastsel._transport_c import SocketTransport

    cases = {}
    for name in ("SelectorSocketTransportTests",
                 "SelectorSocketTransportBufferedProtocolTests"):
        base = getattr(test_selector_events, name)

        def setUp(self, base=base):
            patcher = mock.patch.object(
                test_selector_events, "_SelectorSocketTransport", SocketTransport)
            patcher.start()
            self.addCleanup(patcher.stop)
            base.setUp(self)

        cases[f"TestCPython{name}"] = type(
            f"TestCPython{name}", (base,), {"setUp": setUp, "__module__": __name__})
    return cases


globals().update(_cpython_transport_cases())


def test_cpython_transport_tests_found():
    """The CPython cases above exist wherever the test package does."""
    if test_selector_events is None:
        pytest.skip("this interpreter has no test package")
    assert "TestCPythonSelectorSocketTransportTests" in globals()
    assert issubclass(TestCPythonSelectorSocketTransportTests, unittest.TestCase)  # noqa: F821


class Collect(asyncio.Protocol):
    def __init__(self, loop):
        self.chunks = []
        self.eof = False
        self.lost = loop.create_future()

    def data_received(self, data):
        self.chunks.append(data)

    def eof_received(self):
        self.eof = True

    def connection_lost(self, exc):
        self.lost.set_result(exc)


def exchange(loop, payloads, shutdown=True):
    """Send payloads through a socketpair into a Collect protocol."""
    ours, theirs = socket.socketpair()

    async def run():
        transport, protocol = await loop.connect_accepted_socket(
            lambda: Collect(loop), ours)
        for payload in payloads:
            await loop.sock_sendall(theirs, payload)
            await asyncio.sleep(0.01)
        if shutdown:
            theirs.shutdown(socket.SHUT_WR)
        exc = await asyncio.wait_for(protocol.lost, 10)
        return transport, protocol, exc

    theirs.setblocking(False)
    try:
        return loop.run_until_complete(run())
    finally:
        theirs.close()


@pytest.fixture
def loop():
    loop = aio.EventLoop()
    yield loop
    loop.close()


def test_transport_is_the_compiled_one(loop):
    from asyncio import selector_events

    transport, protocol, exc = exchange(loop, [b"x"])
    assert type(transport).__name__ == "SocketTransport"
    assert type(transport).__module__ == "fastsel._transport_c"
    assert isinstance(transport, selector_events._SelectorSocketTransport)


def test_chunks_are_bytes_and_not_overwritten(loop):
    payloads = [bytes([65 + i]) * (1000 + i) for i in range(10)]
    transport, protocol, exc = exchange(loop, payloads)
    assert all(type(chunk) is bytes for chunk in protocol.chunks)
    assert b"".join(protocol.chunks) == b"".join(payloads)
    assert protocol.eof and exc is None


def test_more_than_one_buffer_per_read(loop):
    payload = bytes(range(256)) * 4096  # 1 MiB, several reads of max_size
    transport, protocol, exc = exchange(loop, [payload])
    assert b"".join(protocol.chunks) == payload
    assert max(map(len, protocol.chunks)) <= transport.max_size


@pytest.mark.parametrize("make_loop", [aio.new_event_loop, asyncio.SelectorEventLoop],
                         ids=["fastsel.aio", "asyncio"])
def test_connection_reset_reaches_connection_lost(make_loop):
    """A read error closes the transport with it, as asyncio's does."""
    loop = make_loop()
    listener = socket.create_server(("127.0.0.1", 0))
    peer = socket.create_connection(listener.getsockname())
    ours, _ = listener.accept()
    listener.close()

    async def run():
        transport, protocol = await loop.connect_accepted_socket(
            lambda: Collect(loop), ours)
        # Closing with SO_LINGER 0 sends a reset: recv raises ECONNRESET.
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        peer.close()
        return await asyncio.wait_for(protocol.lost, 10), protocol

    try:
        exc, protocol = loop.run_until_complete(run())
    finally:
        loop.close()
    assert isinstance(exc, ConnectionResetError)
    assert protocol.chunks == [] and not protocol.eof


def test_data_received_error_goes_to_fatal_error(loop):
    class Broken(Collect):
        def data_received(self, data):
            raise ZeroDivisionError

    ours, theirs = socket.socketpair()
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    async def run():
        transport, protocol = await loop.connect_accepted_socket(
            lambda: Broken(loop), ours)
        await loop.sock_sendall(theirs, b"boom")
        return await asyncio.wait_for(protocol.lost, 10)

    theirs.setblocking(False)
    try:
        exc = loop.run_until_complete(run())
    finally:
        theirs.close()
    assert isinstance(exc, ZeroDivisionError)
    assert "data_received() call failed" in contexts[0]["message"]


class FlowControl(asyncio.Protocol):
    """Records what the transport tells a writing protocol."""

    def __init__(self, loop):
        self.events = []
        self.lost = loop.create_future()

    def pause_writing(self):
        self.events.append("pause")

    def resume_writing(self):
        self.events.append("resume")

    def connection_lost(self, exc):
        self.lost.set_result(exc)


def write_scenario(loop):
    """Writes that the kernel cannot take at once (partial sends, the
    buffer, the high-water mark), then the errors write() raises; returns
    what the protocol and the peer observed."""
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    payload = bytes(range(256)) * 2048  # 512 KiB, far above the socket buffer
    errors = []

    async def run():
        transport, protocol = await loop.connect_accepted_socket(
            lambda: FlowControl(loop), ours)
        transport.set_write_buffer_limits(high=64 * 1024)
        for chunk in (payload[:1000], bytearray(payload[1000:300000]),
                      memoryview(payload)[300000:]):
            transport.write(chunk)
        transport.write(b"")
        buffered = transport.get_write_buffer_size() > 0
        received = bytearray()
        while len(received) < len(payload):
            received += await loop.sock_recv(theirs, 65536)
        for bad in ("text", 42, None):
            try:
                transport.write(bad)
            except TypeError as exc:
                errors.append(str(exc))
        transport.write_eof()
        try:
            transport.write(b"late")
        except RuntimeError as exc:
            errors.append(str(exc))
        transport.close()
        await asyncio.wait_for(protocol.lost, 10)
        return bytes(received) == payload, buffered, protocol.events

    theirs.setblocking(False)
    try:
        whole, buffered, events = loop.run_until_complete(run())
    finally:
        theirs.close()
    return whole, buffered, events, errors


def test_writes_as_asyncio_does(loop):
    reference = asyncio.SelectorEventLoop()
    try:
        expected = write_scenario(reference)
    finally:
        reference.close()
    observed = write_scenario(loop)
    assert observed == expected
    whole, buffered, events, errors = observed
    assert whole and buffered and events == ["pause", "resume"]
    assert len(errors) == 4


def lost_connection_writes(loop, caplog):
    """Writes after the connection was lost: (the transport's count, the
    warnings logged)."""
    from asyncio import constants

    ours, theirs = socket.socketpair()

    async def run():
        transport, protocol = await loop.connect_accepted_socket(
            lambda: FlowControl(loop), ours)
        transport._force_close(None)
        for _ in range(constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES + 2):
            transport.write(b"x")
        return transport._conn_lost

    caplog.clear()
    try:
        with caplog.at_level("WARNING", logger="asyncio"):
            conn_lost = loop.run_until_complete(run())
    finally:
        theirs.close()
    return conn_lost, [r.getMessage() for r in caplog.records]


def test_writes_after_connection_lost_as_asyncio(loop, caplog):
    """asyncio's transport counts writes after the connection is lost and
    warns past its threshold; the compiled write does the same."""
    reference = asyncio.SelectorEventLoop()
    try:
        expected = lost_connection_writes(reference, caplog)
    finally:
        reference.close()
    observed = lost_connection_writes(loop, caplog)
    assert observed == expected
    assert "socket.send() raised exception." in observed[1]


# ------------------------------- recv and send made by the transport itself

class Recorder(asyncio.Protocol):
    """Records the data, EOF and connection_lost a transport delivers."""

    def __init__(self, loop):
        self.log = []
        self.lost = loop.create_future()

    def data_received(self, data):
        self.log.append(("data", data))

    def eof_received(self):
        self.log.append("eof")

    def connection_lost(self, exc):
        self.log.append(("lost", type(exc).__name__, str(exc)))
        self.lost.set_result(None)


class BufferedRecorder(asyncio.BufferedProtocol):
    """Records as Recorder does, receiving into what `make_buffer` returns
    (by default a view of 3 bytes)."""

    def __init__(self, loop, make_buffer=lambda: memoryview(bytearray(3))):
        self.log = []
        self.lost = loop.create_future()
        self.make_buffer = make_buffer

    def get_buffer(self, sizehint):
        self.buffer = self.make_buffer()
        return self.buffer

    def buffer_updated(self, nbytes):
        self.log.append(("data", bytes(self.buffer[:nbytes])))

    eof_received = Recorder.eof_received
    connection_lost = Recorder.connection_lost


def socket_scenario(loop, tamper, protocol_factory=Recorder):
    """A transport on one end of a socketpair; `tamper(transport, peer)`
    changes something, then the peer sends and the transport writes.
    Returns what the protocol saw and the error contexts the loop got."""
    ours, theirs = socket.socketpair()
    contexts = []
    loop.set_exception_handler(
        lambda loop, context: contexts.append(type(context.get("exception")).__name__))

    async def run():
        transport, protocol = await loop.connect_accepted_socket(
            lambda: protocol_factory(loop), ours)
        await asyncio.sleep(0)
        tamper(transport, theirs)
        try:
            theirs.send(b"ping")
        except OSError:  # the tampering closed one end
            pass
        await asyncio.sleep(0.01)
        if not transport.is_closing():
            transport.write(b"pong")
            await asyncio.sleep(0.01)
        transport.close()
        await asyncio.wait_for(protocol.lost, 10)
        return protocol.log

    try:
        return loop.run_until_complete(run()), contexts
    finally:
        ours.close()
        theirs.close()


def _plain(transport, peer):
    pass


def _peer_closed(transport, peer):
    peer.close()  # send() then fails with EPIPE


def _socket_closed_underneath(transport, peer):
    # The socket object itself closed: its fd is -1 (EBADF), not a number
    # another file may have taken since.
    transport.get_extra_info("socket")._sock.close()


def _negative_max_size(transport, peer):
    transport.max_size = -1


def _max_size_above_the_read_buffer(transport, peer):
    transport.max_size = 1 << 20  # read into a bytes object of that size


def _huge_max_size(transport, peer):
    transport.max_size = 1 << 70


def _max_size_not_an_int(transport, peer):
    transport.max_size = 4096.0


def _socket_with_a_timeout(transport, peer):
    transport.get_extra_info("socket")._sock.settimeout(5)


@pytest.mark.parametrize("tamper", [
    _plain, _peer_closed, _socket_closed_underneath, _negative_max_size,
    _max_size_above_the_read_buffer, _huge_max_size, _max_size_not_an_int, _socket_with_a_timeout,
], ids=lambda f: f.__name__.strip("_"))
def test_socket_calls_as_asyncio_makes_them(loop, tamper):
    reference = asyncio.SelectorEventLoop()
    try:
        expected = socket_scenario(reference, tamper)
    finally:
        reference.close()
    assert socket_scenario(loop, tamper) == expected


@pytest.mark.parametrize("make_buffer", [
    lambda: bytearray(3),                   # read in pieces
    lambda: memoryview(bytearray(1 << 16)),
    lambda: bytes(8),                       # not writable: a TypeError
], ids=["small", "large", "read_only"])
@pytest.mark.parametrize("tamper", [
    _plain, _peer_closed, _socket_closed_underneath, _socket_with_a_timeout,
], ids=lambda f: f.__name__.strip("_"))
def test_buffered_socket_calls_as_asyncio_makes_them(loop, tamper, make_buffer):
    """recv_into, which the transport makes itself on a plain socket."""
    def factory(loop):
        return BufferedRecorder(loop, make_buffer)

    reference = asyncio.SelectorEventLoop()
    try:
        expected = socket_scenario(reference, tamper, factory)
    finally:
        reference.close()
    assert socket_scenario(loop, tamper, factory) == expected


def test_socket_methods_replaced_are_called(loop, monkeypatch):
    """The transport makes recv/send itself only while socket.socket's are
    the C ones: a replacement (instrumentation, a test double) is called."""
    calls = []

    def spy(name):
        original = getattr(socket.socket, name)

        def method(self, *args):
            calls.append(name)
            return original(self, *args)
        return method

    expected = socket_scenario(loop, _plain)
    expected_buffered = socket_scenario(loop, _plain, BufferedRecorder)
    for name in ("recv", "recv_into", "send"):
        monkeypatch.setattr(socket.socket, name, spy(name))
    assert socket_scenario(loop, _plain) == expected
    assert socket_scenario(loop, _plain, BufferedRecorder) == expected_buffered
    assert {"send", "recv", "recv_into"} <= set(calls)


def test_which_sockets_get_the_direct_calls(monkeypatch):
    from fastsel import _transport_c

    assert _transport_c._socket_layout_matches()  # CPython on POSIX: always

    class Subclass(socket.socket):
        pass

    a, b = socket.socketpair()
    sub = Subclass()
    try:
        a.setblocking(False)
        sub.setblocking(False)
        assert _transport_c._makes_calls_itself(a)
        assert not _transport_c._makes_calls_itself(b)  # blocking
        assert not _transport_c._makes_calls_itself(sub)
        assert not _transport_c._makes_calls_itself(mock.Mock(socket.socket))
        a.settimeout(1)
        assert not _transport_c._makes_calls_itself(a)
        a.setblocking(False)
        for name in ("recv", "recv_into", "send"):
            monkeypatch.setattr(socket.socket, name, lambda self, *args: 0)
            assert not _transport_c._makes_calls_itself(a)
            monkeypatch.undo()
            assert _transport_c._makes_calls_itself(a)
    finally:
        a.close()
        b.close()
        sub.close()


def test_a_replaced_socket_class_turns_the_direct_calls_off():
    """A library that replaced socket.socket before fastsel was imported
    (gevent's class wraps a socket): the transport keeps to socket methods."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import socket

        class Wrapper:
            def __init__(self, *args, **kwargs):
                self._sock = socket._socket.socket(*args, **kwargs)

            def __getattr__(self, name):
                return getattr(self._sock, name)

        socket.socket = Wrapper
        from fastsel import _transport_c
        raw = socket._socket.socket()
        raw.setblocking(False)
        print(_transport_c._socket_layout_matches(),
              _transport_c._makes_calls_itself(raw),
              _transport_c._makes_calls_itself(Wrapper()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False", "False"]


@pytest.mark.parametrize("make_loop", [aio.EventLoop, asyncio.SelectorEventLoop],
                         ids=["fastsel", "asyncio"])
def test_unclosed_transport_collected_as_asyncio(make_loop):
    """A transport collected with its socket still open warns and closes the
    socket (asyncio's __del__ runs); one collected closed does neither."""
    import gc
    import warnings

    loop = make_loop()
    seen = []
    try:
        for close_first in (False, True):
            ours, theirs = socket.socketpair()
            transport, _ = loop.run_until_complete(
                loop.connect_accepted_socket(asyncio.Protocol, ours))
            if close_first:
                transport.close()
                loop.run_until_complete(asyncio.sleep(0.01))
            else:
                # Nothing else must hold the transport: stop reading.
                loop._remove_reader(transport._sock_fd)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                del transport
                gc.collect()
            seen.append(([(w.category.__name__, str(w.message).startswith("unclosed transport <"))
                          for w in caught], ours.fileno()))
            theirs.close()
            ours.close()
    finally:
        loop.close()
    assert seen == [([("ResourceWarning", True)], -1), ([], -1)]
