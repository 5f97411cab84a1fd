"""Writes coalesced per loop iteration: what the peer receives, flow control,
close/abort/write_eof, errors and lost connections are what asyncio gives.

Each scenario runs on asyncio's loop and on fastsel.aio.EventLoop and the two
observations must be equal; the tests marked `compiled` also check that
fastsel's compiled transport did hold the writes back (on the pure
implementation EventLoop is asyncio's loop, and they only compare)."""
import asyncio
import socket
import struct
from asyncio import constants

import pytest

import fastsel
from fastsel import aio
from test_aio_transport import FlowControl

compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the pure EventLoop does not coalesce")


class Peer(FlowControl):
    """The loop's side of a connection: pause/resume and how it was lost."""

    def connection_lost(self, exc):
        self.events.append(("lost", type(exc).__name__))
        super().connection_lost(exc)


def tcp_pair():
    """A connected (ours, theirs) pair of TCP sockets on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    theirs.settimeout(10)
    return ours, theirs


def receive(sock, size):
    """size bytes from a blocking socket, or fewer at EOF."""
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def run_scenario(make_loop, scenario, connections=1):
    """Run `scenario(loop, transports, protocols, peers)` (a coroutine
    function) on a new loop over `connections` TCP connections; returns its
    result and what each peer received until EOF."""
    loop = make_loop()
    pairs = [tcp_pair() for _ in range(connections)]

    async def main():
        transports, protocols = [], []
        for ours, _ in pairs:
            transport, protocol = await loop.connect_accepted_socket(
                lambda: Peer(loop), ours)
            transports.append(transport)
            protocols.append(protocol)
        result = await scenario(loop, transports, protocols, [t for _, t in pairs])
        for transport in transports:
            transport.close()
        for protocol in protocols:
            await asyncio.wait_for(protocol.lost, 10)
        return result, [p.events for p in protocols]

    try:
        result = loop.run_until_complete(main())
        # (a peer the scenario closed received nothing more)
        received = [receive(theirs, 1 << 24) if theirs.fileno() >= 0 else None
                    for _, theirs in pairs]
    finally:
        loop.close()
        for ours, theirs in pairs:
            ours.close()
            theirs.close()
    return result, received


LOOPS = [asyncio.SelectorEventLoop, aio.new_event_loop]


def same_on_both(scenario, connections=1):
    """The observations of scenario, which must be alike on both loops."""
    reference, observed = (run_scenario(make, scenario, connections) for make in LOOPS)
    assert observed == reference
    return observed


def in_one_callback(loop, function):
    """A future of function()'s result, run as one callback of the loop."""
    future = loop.create_future()

    def callback():
        future.set_result(function())

    loop.call_soon(callback)
    return future


# ------------------------------------------------------------------ ordering

CHUNKS = [b"header;", bytearray(b"bytearray;"), b"b" * 3000, memoryview(b"view;"),
          b"", b"x" * 70000, b"tail"]


async def mixed_writes(loop, transports, protocols, peers):
    transport, = transports

    def writes():
        for chunk in CHUNKS:
            transport.write(chunk)
        transport.writelines([b"lines;", b"more lines;"])
        transport.write(b"after the lines")

    await in_one_callback(loop, writes)
    # Also across iterations, with each iteration's writes held.
    for i in range(20):
        await in_one_callback(loop, lambda: [transport.write(b"%d," % i) for _ in range(3)])


def test_order_of_bytes_kept():
    (result, events), (received,) = same_on_both(mixed_writes)
    expected = (b"".join(map(bytes, CHUNKS)) + b"lines;more lines;after the lines"
                + b"".join(b"%d," % i * 3 for i in range(20)))
    assert received == expected


@pytest.fixture
def connection():
    """(transport, peer socket) of a connection on a new fastsel.aio loop,
    closed afterwards; the loop is the transport's _loop."""
    loop = aio.new_event_loop()
    ours, theirs = tcp_pair()
    transport, protocol = loop.run_until_complete(
        loop.connect_accepted_socket(lambda: Peer(loop), ours))
    yield transport, theirs
    transport.close()
    loop.run_until_complete(protocol.lost)
    loop.close()
    ours.close()
    theirs.close()


@compiled
def test_writes_of_one_callback_are_held_back(connection):
    """Inside one callback the bytes have not left yet; after it they have,
    all of them, even though the loop then stops."""
    transport, theirs = connection
    loop = transport._loop

    def writes():
        for data in (b"one ", b"two ", b"three"):
            transport.write(data)
        theirs.setblocking(False)
        try:
            theirs.recv(100)
        except BlockingIOError:
            return transport._held_writes
        finally:
            theirs.settimeout(10)
        return "sent already"

    assert loop.run_until_complete(in_one_callback(loop, writes)) == [b"one ", b"two ", b"three"]
    assert transport._held_writes is None
    assert receive(theirs, 13) == b"one two three"


@compiled
def test_writes_outside_callbacks_and_in_debug_go_at_once(connection):
    """Writes made while the loop is not running its callbacks, and all
    writes of a loop in debug mode (which runs asyncio's own iteration), are
    sent by write() itself."""
    transport, theirs = connection
    loop = transport._loop
    transport.write(b"outside")
    assert transport._held_writes is None
    assert receive(theirs, 7) == b"outside"
    loop.set_debug(True)

    def writes():
        transport.write(b"a")
        transport.write(b"b")
        return transport._held_writes

    assert loop.run_until_complete(in_one_callback(loop, writes)) is None
    assert receive(theirs, 2) == b"ab"


async def writes_across_transports(loop, transports, protocols, peers):
    """A callback and a protocol's reader callback write to several
    transports in one iteration."""
    first, second = transports

    def interleaved():
        for i in range(5):
            first.write(b"A%d" % i)
            second.write(b"B%d" % i)

    await in_one_callback(loop, interleaved)
    echoed = loop.create_future()

    def on_data(data):
        first.write(b"[echo " + data + b"]")
        second.write(b"[from the first]")
        echoed.set_result(None)

    protocols[0].data_received = on_data
    peers[0].sendall(b"ping")
    await asyncio.wait_for(echoed, 10)


def test_writes_from_callbacks_of_other_transports():
    result, (first, second) = same_on_both(writes_across_transports, connections=2)
    assert first == b"A0A1A2A3A4[echo ping]"
    assert second == b"B0B1B2B3B4[from the first]"


# -------------------------------------------------------------- flow control

def flow_control(sizes, high):
    """Writes of `sizes` in one callback with the high-water mark at `high`
    while the peer reads nothing, then the peer reads it all: the protocol's
    pause/resume events, each tagged with the write it came in (or None
    after the writes), and the buffer size after the callback."""

    async def scenario(loop, transports, protocols, peers):
        transport, = transports
        protocol, = protocols
        transport.set_write_buffer_limits(high=high)

        def writes():
            for index, size in enumerate(sizes):
                before = len(protocol.events)
                transport.write(b"w" * size)
                protocol.events[before:] = [(e, index) for e in protocol.events[before:]]
            return transport.get_write_buffer_size() > 0

        buffered = await in_one_callback(loop, writes)
        total = sum(sizes)
        received = await loop.run_in_executor(None, receive, peers[0], total)
        while transport.get_write_buffer_size():
            await asyncio.sleep(0.01)
        return buffered, len(received) == total

    return scenario


@pytest.mark.parametrize("sizes, high", [
    ([60, 60, 60], 100),           # the second write passes the mark: both go
    ([40] * 200, 1000),            # many small writes, flushed at the mark
    ([100] * 10 + [4 << 20], 64 * 1024),  # the kernel takes part: pause, resume
    ([4 << 20, 10, 10], 64 * 1024),       # buffered first: later writes append
    ([10, 10, 10], 0),             # a high-water mark of 0 holds nothing back
], ids=["mark-passed", "many-small", "kernel-full", "buffered-first", "mark-zero"])
def test_flow_control_at_asyncios_limits(sizes, high):
    (result, (events,)), received = same_on_both(flow_control(sizes, high))
    buffered, whole = result
    assert whole
    assert ("pause" in [e[0] for e in events if isinstance(e, tuple)]) == buffered


@compiled
def test_held_bytes_stay_within_the_high_water_mark(connection):
    transport, theirs = connection
    loop = transport._loop
    transport.set_write_buffer_limits(high=100)

    def writes():
        held = []
        for _ in range(5):
            transport.write(b"x" * 40)
            held.append(transport._held_size if transport._held_writes else 0)
        return held

    assert loop.run_until_complete(in_one_callback(loop, writes)) == [40, 80, 0, 40, 80]
    assert receive(theirs, 200) == b"x" * 200


@pytest.mark.parametrize("report_size_after", [True, False])
def test_write_buffer_size_exact(report_size_after):
    """get_write_buffer_size() counts the bytes not yet sent, held ones
    included: asyncio's figure, after each write or after a batch."""

    async def scenario(loop, transports, protocols, peers):
        transport, = transports
        sizes = []

        def writes():
            for size in (10, 20, 30, 4 << 20, 50):
                transport.write(b"s" * size)
                if report_size_after:
                    sizes.append(transport.get_write_buffer_size() > 0)
            sizes.append(transport.get_write_buffer_size() > 0)

        await in_one_callback(loop, writes)
        await loop.run_in_executor(None, receive, peers[0], (4 << 20) + 110)
        while transport.get_write_buffer_size():
            await asyncio.sleep(0.01)
        return sizes

    (sizes, _), _ = same_on_both(scenario)
    assert sizes == ([False] * 3 + [True, True] if report_size_after else []) + [True]


# --------------------------------------------- close, abort, write_eof, errors

@pytest.mark.parametrize("end", ["close", "abort", "write_eof"])
def test_held_writes_sent_before_the_transport_ends(end):
    async def scenario(loop, transports, protocols, peers):
        transport, = transports

        def writes():
            transport.write(b"first ")
            transport.write(b"second ")
            transport.write(b"third")
            getattr(transport, end)()
            return transport.is_closing()

        closing = await in_one_callback(loop, writes)
        received = await loop.run_in_executor(None, receive, peers[0], 100)
        if end == "write_eof":
            peers[0].sendall(b"still reading")
        return closing, received

    (result, events), _ = same_on_both(scenario)
    assert result == (end != "write_eof", b"first second third")


def reset_by_peer(write):
    """The peer resets the connection while the transport is not reading;
    then one callback makes many writes (each with `write`) and asks
    is_closing(). Returns the callback's observations and the warnings
    asyncio logs for writes after the connection was lost."""

    async def scenario(loop, transports, protocols, peers):
        transport, = transports
        transport.pause_reading()
        peers[0].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peers[0].close()
        await asyncio.sleep(0.05)  # the reset arrives

        def writes():
            for i in range(constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES + 3):
                write(transport, b"%d" % i)
            return transport.is_closing(), transport._conn_lost

        return await in_one_callback(loop, writes)

    return scenario


@pytest.mark.parametrize("write, counted", [
    (lambda transport, data: transport.write(data), True),
    (lambda transport, data: transport.write(bytearray(data)), True),  # never held back
    # asyncio's writelines counts writes after the loss from 3.15 only
    (lambda transport, data: transport.writelines([data]), None),
], ids=["bytes", "bytearray", "writelines"])
def test_peer_reset_mid_batch(write, counted, caplog):
    observed = []
    for make in LOOPS:
        caplog.clear()
        with caplog.at_level("WARNING", logger="asyncio"):
            outcome = run_scenario(make, reset_by_peer(write))
        observed.append((outcome, [r.getMessage() for r in caplog.records]))
    assert observed[1] == observed[0]
    ((((closing, conn_lost), (events,)), _), warnings) = observed[0]
    assert closing and events == [("lost", "ConnectionResetError")]
    if counted:
        assert conn_lost == constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES + 3
        assert warnings == ["socket.send() raised exception."] * 3
