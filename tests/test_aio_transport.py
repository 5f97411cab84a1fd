"""The reused read buffer of fastsel.aio's socket transports: protocols see
what they see on asyncio's own transport (bytes, whole, never overwritten
by a later read), EOF and errors included."""
import asyncio
import socket
import struct

import pytest

import fastsel
from fastsel import aio

pytestmark = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c",
    reason="the pure EventLoop uses asyncio's transport unchanged")


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
    loop = aio.BufferedEventLoop()
    yield loop
    loop.close()


def test_transport_is_the_reused_buffer_one(loop):
    transport, protocol, exc = exchange(loop, [b"x"])
    assert type(transport).__name__ == "SocketTransport"
    assert type(transport).__module__ == "fastsel._aio_transport"


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


@pytest.mark.parametrize("make_loop", [aio.BufferedEventLoop, aio.new_event_loop,
                                       asyncio.SelectorEventLoop],
                         ids=["fastsel.aio buffered", "fastsel.aio", "asyncio"])
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
