"""The socket transport's state as asyncio has it: same attributes after
construction and after close, a subclass's property under one of those
names used, mock.patch.object on them honoured by the compiled methods, an
attribute deleted failing as on asyncio.

fastsel's compiled transport keeps those attributes in slots that its
compiled methods read at their offsets; each scenario runs on asyncio's loop
and on fastsel.aio.EventLoop, and the two observations must be equal (on the
pure implementation EventLoop is asyncio's loop, and they only compare)."""
import asyncio
import socket
from asyncio import selector_events, transports
from unittest import mock

import pytest

from fastsel import aio
from test_aio_transport import Recorder

LOOPS = {"asyncio": asyncio.SelectorEventLoop, "fastsel.aio": aio.EventLoop}
FASTSEL_TRANSPORT = getattr(aio.EventLoop, "_socket_transport_class",
                            selector_events._SelectorSocketTransport)
# asyncio's base classes keep these in slots of their own.
BASE_SLOTS = ("_extra", "_loop", "_protocol_paused", "_high_water", "_low_water")


def on_both(scenario):
    """scenario(loop) on asyncio's loop and on fastsel's: both results."""
    results = {}
    for name, make_loop in LOOPS.items():
        loop = make_loop()
        try:
            results[name] = loop.run_until_complete(scenario(loop))
        finally:
            loop.close()
    return results["asyncio"], results["fastsel.aio"]


async def receive(loop, sock, size):
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            break
        data += chunk
    return data


async def serve_subclass(loop, cls, inspect=None):
    """A transport of class cls on a socketpair: it receives b"ping" and
    writes b"pong", then closes. (inspect(transport, ours, protocol) before
    the exchange, what the peer received, what the protocol saw.)"""
    ours, theirs = socket.socketpair()
    with theirs:
        theirs.setblocking(False)
        protocol = Recorder(loop)
        transport = cls(loop, ours, protocol)
        await asyncio.sleep(0)
        before = inspect(transport, ours, protocol) if inspect else None
        await loop.sock_sendall(theirs, b"ping")
        await asyncio.sleep(0.01)
        transport.write(b"pong")
        received = await receive(loop, theirs, 4)
        transport.close()
        await asyncio.wait_for(protocol.lost, 10)
        return before, received, protocol.log, transport


def describe(transport, name, loop, sock, protocol):
    """A comparable account of transport.<name> (AttributeError: 'unset')."""
    try:
        value = getattr(transport, name)
    except AttributeError:
        return "unset"
    for label, known in (("the loop", loop), ("the socket", sock),
                         ("the protocol", protocol), ("the transport", transport)):
        if known is not None and value is known:
            return label
    if hasattr(value, "__self__") and hasattr(value, "__func__"):
        return ("bound method", value.__func__.__name__, value.__self__ is transport)
    if isinstance(value, dict):
        return ("dict", sorted(value))
    if isinstance(value, (bytes, bytearray)) or type(value).__name__ == "deque":
        return (type(value).__name__, len(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return type(value).__name__


def asyncio_names():
    """The attributes asyncio's socket transport has after __init__ on this
    version, with its base classes' slots."""
    async def names(loop):
        ours, theirs = socket.socketpair()
        with ours, theirs:
            transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
            transport.abort()
            return sorted(vars(transport))

    loop = asyncio.SelectorEventLoop()
    try:
        return tuple(loop.run_until_complete(names(loop))) + BASE_SLOTS
    finally:
        loop.close()


NAMES = asyncio_names() + (
    # Names that not every version sets, and one that none does.
    "_write_ready", "_buffer_size", "_context", "_paused", "_not_an_attribute")


def test_attributes_as_asyncio_sets_them():
    async def scenario(loop):
        ours, theirs = socket.socketpair()
        with theirs:
            theirs.setblocking(False)
            transport, protocol = await loop.connect_accepted_socket(
                lambda: Recorder(loop), ours)
            await asyncio.sleep(0)
            seen = {"built": {name: describe(transport, name, loop, ours, protocol)
                              for name in NAMES}}
            transport.write(b"x" * 10)
            await loop.sock_sendall(theirs, b"ping")
            await asyncio.sleep(0.01)
            seen["received"] = await receive(loop, theirs, 10)
            seen["used"] = {name: describe(transport, name, loop, ours, protocol)
                            for name in NAMES}
            transport.close()
            await asyncio.wait_for(protocol.lost, 10)
            seen["closed"] = {name: describe(transport, name, loop, ours, protocol)
                              for name in NAMES}
            seen["log"] = protocol.log
            return seen

    expected, got = on_both(scenario)
    if FASTSEL_TRANSPORT is not selector_events._SelectorSocketTransport:
        # The one difference (README, Differences): once connection_lost has
        # run, fastsel's transport holds no bound method of itself, in every
        # version, as asyncio's does from 3.14.
        expected["closed"]["_read_ready_cb"] = None
        if callable(getattr(selector_events._SelectorSocketTransport, "_write_ready", None)):
            assert expected["closed"]["_write_ready"] == ("bound method", "_write_ready", True)
        else:
            expected["closed"]["_write_ready"] = None
    assert got == expected
    assert got["built"]["_sock"] == "the socket"


@pytest.mark.skipif(FASTSEL_TRANSPORT is selector_events._SelectorSocketTransport,
                    reason="the pure EventLoop uses asyncio's transport")
def test_compiled_methods_read_the_slots():
    """On every mirrored version the slots are what the compiled methods
    expect (else they would use generic access, correct but slower); not
    for a subclass with a property under one of the names."""
    from fastsel import _transport_c

    Sub = type("Sub", (FASTSEL_TRANSPORT,), {"_eof": property(lambda self: False)})
    Plain = type("Plain", (FASTSEL_TRANSPORT,), {})
    plain, sub, plain_sub = (cls.__new__(cls) for cls in (FASTSEL_TRANSPORT, Sub, Plain))
    assert _transport_c._reads_slots(plain)
    assert not _transport_c._reads_slots(sub)
    assert _transport_c._reads_slots(plain_sub)


def test_unconstructed_transport_as_asyncio():
    """asyncio's class attribute _sock = None (what __del__ and __repr__ of
    a transport whose __init__ failed read) holds before __init__ runs."""
    classes = [selector_events._SelectorSocketTransport, FASTSEL_TRANSPORT]
    seen = []
    for klass in classes:
        transport = klass.__new__(klass)
        seen.append({name: describe(transport, name, None, None, None) for name in NAMES})
    assert all(observed == seen[0] for observed in seen)
    assert seen[0]["_sock"] is None


def transport_class(loop):
    """The class of the loop's socket transports."""
    return getattr(loop, "_socket_transport_class", selector_events._SelectorSocketTransport)



def test_subclass_property_is_used():
    """A subclass reading and writing _protocol and _conn_lost through
    properties: every read and write of the transport's methods goes
    through them, compiled ones included, in asyncio's order."""
    async def scenario(loop):
        accesses = []

        def logged(name):
            def get(self):
                accesses.append(("get", name))
                return self.__dict__["shadow" + name]

            def set(self, value):
                accesses.append(("set", name))
                self.__dict__["shadow" + name] = value
            return property(get, set)

        class Logged(transport_class(loop)):
            _protocol = logged("_protocol")
            _conn_lost = logged("_conn_lost")

        *seen, transport = await serve_subclass(loop, Logged)
        return accesses, seen, "_protocol" in vars(transport)

    expected, got = on_both(scenario)
    assert got == expected
    assert ("get", "_protocol") in got[0] and ("set", "_conn_lost") in got[0]


def test_patched_attributes_are_honoured():
    """mock.patch.object on the transport's attributes is seen by its read
    and write paths: the data goes to the patched protocol, the patched
    _eof refuses a write, a patched _conn_lost counts the write as lost."""
    async def scenario(loop):
        ours, theirs = socket.socketpair()
        with theirs:
            theirs.setblocking(False)
            first = Recorder(loop)
            transport, _ = await loop.connect_accepted_socket(lambda: first, ours)
            await asyncio.sleep(0)
            other = Recorder(loop)
            outcomes = []
            with mock.patch.object(transport, "_protocol", other):
                await loop.sock_sendall(theirs, b"ping")
                await asyncio.sleep(0.01)
            with mock.patch.object(transport, "_eof", True):
                try:
                    transport.write(b"refused")
                except RuntimeError as exc:
                    outcomes.append(str(exc))
            with mock.patch.object(transport, "_conn_lost", 1):
                transport.write(b"lost")
                outcomes.append(transport._conn_lost)
            outcomes.append(transport._conn_lost)
            transport.write(b"sent")
            outcomes.append(await receive(loop, theirs, 4))
            transport.close()
            await asyncio.wait_for(first.lost, 10)
            return first.log, other.log, outcomes

    expected, got = on_both(scenario)
    assert got == expected
    assert got[1] == [("data", b"ping")]


def test_deleted_attribute_fails_as_on_asyncio():
    async def scenario(loop):
        ours, theirs = socket.socketpair()
        with theirs:
            protocol = Recorder(loop)
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, ours)
            await asyncio.sleep(0)
            eof = transport._eof
            del transport._eof
            try:
                transport.write(b"x")
            except AttributeError as exc:
                # The attribute's name (CPython up to 3.10 says only that
                # for a slot).
                outcome = str(exc).split()[-1].strip("'")
            else:
                outcome = "written"
            transport._eof = eof
            transport.close()
            await asyncio.wait_for(protocol.lost, 10)
            return outcome

    expected, got = on_both(scenario)
    assert got == expected == "_eof"


@pytest.mark.parametrize("name", ["_sock", "_buffer", "_closing"])
def test_subclass_slot_or_class_attribute_under_a_name(name):
    """A subclass with a class attribute under one of the names (asyncio's
    __init__ then sets the instance's own) behaves as on asyncio."""
    async def scenario(loop):
        Sub = type("Sub", (transport_class(loop),), {name: "class default"})
        *seen, _ = await serve_subclass(
            loop, Sub, lambda transport, ours, protocol: describe(
                transport, name, loop, ours, protocol))
        return seen, getattr(Sub, name)

    expected, got = on_both(scenario)
    assert got == expected


def test_base_slots_stay_asyncio_slots():
    """asyncio's own base-class slots are not redefined."""
    for name in BASE_SLOTS:
        owner = next(c for c in selector_events._SelectorSocketTransport.__mro__
                     if name in vars(c))
        assert owner in (transports.BaseTransport, transports._FlowControlMixin)
        found = next(c for c in FASTSEL_TRANSPORT.__mro__ if name in vars(c))
        assert found is owner


def test_made_transport_as_asyncio_makes_it():
    """loop._make_socket_transport(...) called directly, as asyncio's own
    servers and connections call it: connection_made, the reader and the
    waiter in asyncio's order; a second transport on the same fd refused
    where the version checks it (3.12+); extra and server kept."""
    async def scenario(loop):
        ours, theirs = socket.socketpair()
        with theirs:
            theirs.setblocking(False)
            protocol = Recorder(loop)
            waiter = loop.create_future()
            transport = loop._make_socket_transport(
                ours, protocol, waiter, extra={"peername": "here"})
            made = {name: describe(transport, name, loop, ours, protocol)
                    for name in NAMES}
            await waiter
            try:
                loop._make_socket_transport(ours, Recorder(loop))
                second = "accepted"
            except RuntimeError as exc:
                second = "used by transport" in str(exc)
            await loop.sock_sendall(theirs, b"ping")
            await asyncio.sleep(0.01)
            transport.write(b"pong")
            received = await receive(loop, theirs, 4)
            extra = transport.get_extra_info("peername")
            transport.close()
            await asyncio.wait_for(protocol.lost, 10)
            return made, second, received, extra, protocol.log

    expected, got = on_both(scenario)
    assert got == expected
    assert got[2:4] == (b"pong", "here")


def test_made_transport_honours_patched_construction():
    """The class's __init__ and the loop's _ensure_fd_no_transport replaced
    (mock.patch.object) are called by _make_socket_transport, as asyncio's
    calls them."""
    async def scenario(loop):
        cls = transport_class(loop)
        calls = []
        init = cls.__init__

        def logged_init(self, *args, **kwargs):
            calls.append("__init__")
            init(self, *args, **kwargs)

        def logged_check(fd):
            calls.append("_ensure_fd_no_transport")

        ours, theirs = socket.socketpair()
        with theirs, mock.patch.object(cls, "__init__", logged_init), \
                mock.patch.object(loop, "_ensure_fd_no_transport", logged_check):
            protocol = Recorder(loop)
            transport = loop._make_socket_transport(ours, protocol)
            await asyncio.sleep(0)
            transport.close()
            await asyncio.wait_for(protocol.lost, 10)
        return calls, protocol.log

    expected, got = on_both(scenario)
    assert got == expected
    assert "__init__" in got[0]
