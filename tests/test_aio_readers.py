"""add_reader, remove_reader, add_writer, remove_writer (and the
underscored methods transports use) and a socket transport's
pause_reading, resume_reading and is_reading on fastsel.aio: every state,
result and error is asyncio's."""
import asyncio
import collections
import contextlib
import logging
import re
import socket
import weakref
from asyncio import selector_events
from unittest import mock

import pytest

import fastsel
from test_aio_loop import python_calls
from test_aio_tasks import LOOPS, compiled, loops  # noqa: F401 - a fixture
from test_aio_tasks import outcome as tasks_outcome


def outcome(call):
    return tasks_outcome(call, lambda exc: normalized(str(exc)))


def normalized(text):
    """Messages name the transport's class, fd numbers and addresses: none
    of them is what is compared."""
    text = re.sub(r"\w*SocketTransport", "SocketTransport", text)
    text = re.sub(r"0x[0-9a-f]+", "ADDRESS", text)
    return re.sub(r"\d+", "N", text)


try:
    from test.test_asyncio import test_selector_events
except ImportError:  # interpreters built without their test package
    test_selector_events = None


def _cpython_loop_cases():
    """CPython's BaseSelectorEventLoopTests (add_reader and the rest on a
    mock selector) with the loop they build having fastsel's compiled
    methods."""
    if test_selector_events is None or fastsel.IMPLEMENTATION != "c":
        return {}
    from fastsel import _aio_c
    if not _aio_c.SUPPORTED:
        return {}
    names = {"add_reader": "add_reader", "remove_reader": "remove_reader",
             "add_writer": "add_writer", "remove_writer": "remove_writer",
             "_add_reader": "add_reader_handle", "_remove_reader": "remove_reader_handle",
             "_add_writer": "add_writer_handle", "_remove_writer": "remove_writer_handle",
             "create_task": "create_task", "call_soon": "call_soon",
             "__setattr__": "loop_setattr", "__delattr__": "loop_delattr"}
    loop_class = type("CompiledTestLoop", (test_selector_events.TestBaseSelectorEventLoop,),
                      {name: getattr(_aio_c, compiled) for name, compiled in names.items()})
    base = test_selector_events.BaseSelectorEventLoopTests

    def setUp(self):
        patcher = mock.patch.object(test_selector_events, "TestBaseSelectorEventLoop",
                                    loop_class)
        patcher.start()
        self.addCleanup(patcher.stop)
        base.setUp(self)

    return {"TestCPythonBaseSelectorEventLoopTests": type(
        "TestCPythonBaseSelectorEventLoopTests", (base,),
        {"setUp": setUp, "__module__": __name__})}


globals().update(_cpython_loop_cases())


def test_cpython_loop_tests_found():
    if test_selector_events is None or fastsel.IMPLEMENTATION != "c":
        return
    assert "TestCPythonBaseSelectorEventLoopTests" in globals()


def callback(*args):
    pass


def other_callback(*args):
    pass


def registration(loop, fd):
    """The selector's key for fd, as (events, reader, writer) with each
    handle's callback, arguments and cancelled flag."""
    key = loop._selector.get_map().get(fd)
    if key is None:
        return None

    def handle(h):
        if h is None:
            return None
        return (type(h), h._callback, h._args, h._cancelled, h._loop is loop)

    reader, writer = key.data
    return key.events, handle(reader), handle(writer)


def io_scenario(loop):
    a, b = socket.socketpair()
    try:
        fd = a.fileno()
        steps = []

        def step(result):
            steps.append((normalized(repr(result)), registration(loop, fd)))

        step(loop.add_reader(fd, callback, 1))
        first = loop._selector.get_key(fd).data[0]
        step(loop.add_reader(a, other_callback, 2, 3))  # replaces: first cancelled
        step((first._cancelled, first._callback, first._args, first._repr))
        step(loop.add_writer(fd, callback))
        writer = loop._selector.get_key(fd).data[1]
        step(loop.add_writer(fd, other_callback, "w"))
        step(writer._cancelled)
        step(loop.remove_writer(fd))
        step(loop.remove_writer(fd))        # nothing left to remove
        step(loop.remove_reader(a))
        step(loop.remove_reader(fd))        # unregistered: False
        handle = loop._add_reader(fd, callback, "r")
        step((type(handle), handle._callback, handle._args, handle._cancelled))
        other = loop._add_writer(fd, callback, "w")
        step((type(other), other._args))
        step(loop._remove_reader(fd))
        step(loop._remove_writer(fd))
        step(loop._remove_writer(fd))
        step(handle._cancelled and other._cancelled)
        step(outcome(lambda: loop.add_reader(object(), callback)))
        step(outcome(lambda: loop.remove_reader("x")))
        step(outcome(lambda: loop.add_writer(-1, callback)))
        return steps
    finally:
        a.close()
        b.close()


def test_readers_and_writers_as_asyncio(loops):
    reference, loop = loops
    assert io_scenario(loop) == io_scenario(reference)


def test_replaced_reader_in_debug_mode_as_asyncio(loops):
    """A cancelled handle keeps its description in debug mode."""
    def scenario(loop):
        a, b = socket.socketpair()
        try:
            loop.set_debug(True)
            loop.add_reader(a, callback, 1)
            first = loop._selector.get_key(a.fileno()).data[0]
            loop.remove_reader(a)
            return first._cancelled, first._callback, normalized(first._repr)
        finally:
            loop.set_debug(False)
            a.close()
            b.close()

    reference, loop = loops
    assert scenario(loop) == scenario(reference)
    assert "callback" in scenario(reference)[2]


def test_callbacks_run_as_asyncio(loops):
    def scenario(loop):
        a, b = socket.socketpair()
        seen = []
        try:
            def on_readable(tag):
                seen.append((tag, a.recv(10)))
                loop.remove_reader(a)
                loop.stop()

            loop.add_reader(a, on_readable, "first")
            loop.add_reader(a, on_readable, "second")
            loop.add_writer(b, lambda: (seen.append("writable"), b.send(b"x"),
                                        loop.remove_writer(b)))
            loop.run_forever()
            return seen
        finally:
            a.close()
            b.close()

    reference, loop = loops
    assert scenario(loop) == scenario(reference) == ["writable", ("second", b"x")]


def closed_scenario(loop):
    a, b = socket.socketpair()
    try:
        loop.add_reader(a, callback)
        loop.close()
        return [outcome(lambda: loop.add_reader(a, callback)),
                outcome(lambda: loop.add_writer(a, callback)),
                outcome(lambda: loop._add_reader(a, callback)),
                outcome(lambda: loop.remove_reader(a)),
                outcome(lambda: loop.remove_writer(a)),
                outcome(lambda: loop._remove_reader(a))]
    finally:
        a.close()
        b.close()


def test_closed_loop_as_asyncio(loops):
    reference, loop = loops
    assert closed_scenario(loop) == closed_scenario(reference)


class Quiet(asyncio.Protocol):
    def __init__(self):
        self.received = []

    def data_received(self, data):
        self.received.append(data)


def transport_pair(loop):
    """A socket transport on loop for one end of a socketpair; the other end."""
    a, b = socket.socketpair()
    transport, protocol = loop.run_until_complete(
        loop.connect_accepted_socket(Quiet, a))
    return transport, protocol, b


async def iterations(count=3):
    for _ in range(count):
        await asyncio.sleep(0)


def transport_fd_scenario(loop):
    transport, _, peer = transport_pair(loop)
    try:
        fd = transport._sock_fd
        results = [outcome(lambda: loop.add_reader(fd, callback)),
                   outcome(lambda: loop.remove_reader(fd)),
                   outcome(lambda: loop.add_writer(fd, callback)),
                   outcome(lambda: loop.remove_writer(fd))]
        transport.close()
        # A closing transport's fd may be used (its reader is gone).
        results += [outcome(lambda: loop.remove_reader(fd)),
                    outcome(lambda: loop.add_reader(fd, callback)),
                    outcome(lambda: loop.remove_reader(fd))]
        loop.run_until_complete(iterations())
        return results
    finally:
        peer.close()


def test_fd_of_a_transport_as_asyncio(loops):
    reference, loop = loops
    ours = transport_fd_scenario(loop)
    assert ours == transport_fd_scenario(reference)
    assert ours[0][:2] == ("raised", RuntimeError)


def reading_scenario(loop):
    transport, protocol, peer = transport_pair(loop)
    fd = transport._sock_fd
    states = []

    def state(label):
        states.append((label, transport.is_reading(), transport._paused,
                       registration(loop, fd) is not None))

    try:
        state("connected")
        transport.pause_reading()
        state("paused")
        transport.pause_reading()
        state("paused twice")
        peer.send(b"while paused")
        loop.run_until_complete(iterations())
        states.append(("received while paused", list(protocol.received)))
        transport.resume_reading()
        state("resumed")
        transport.resume_reading()
        state("resumed twice")
        loop.run_until_complete(iterations())
        states.append(("received", list(protocol.received)))
        transport.pause_reading()
        transport.close()
        state("paused, then closing")
        transport.resume_reading()
        state("resume while closing")
        transport.pause_reading()
        state("pause while closing")
        loop.run_until_complete(iterations())
        state("closed")
        return states
    finally:
        peer.close()


def test_pause_and_resume_reading_as_asyncio(loops):
    reference, loop = loops
    assert reading_scenario(loop) == reading_scenario(reference)


def closing_then_pause_scenario(loop):
    transport, _, peer = transport_pair(loop)
    try:
        transport.close()
        transport.pause_reading()
        result = (transport.is_reading(), transport._paused)
        loop.run_until_complete(iterations())
        return result
    finally:
        peer.close()


def test_pause_while_closing_as_asyncio(loops):
    reference, loop = loops
    assert closing_then_pause_scenario(loop) == closing_then_pause_scenario(reference)


def replaced_scenario(loop):
    """Methods replaced on the transport and loop instances are called
    where asyncio calls them."""
    transport, _, peer = transport_pair(loop)
    try:
        counts = {}
        with mock.patch.object(loop, "_remove_reader", wraps=loop._remove_reader) as remove, \
                mock.patch.object(loop, "_add_reader", wraps=loop._add_reader) as add, \
                mock.patch.object(transport, "is_closing",
                                  wraps=transport.is_closing) as is_closing:
            transport.pause_reading()
            transport.resume_reading()
            counts["loop"] = (remove.call_count, add.call_count)
            counts["is_closing"] = is_closing.call_count
        with mock.patch.object(transport, "is_reading", return_value=False):
            transport.pause_reading()
            counts["paused when is_reading() says no"] = transport._paused
        transport.close()
        loop.run_until_complete(iterations())
        return counts
    finally:
        peer.close()


def test_replaced_methods_are_honoured(loops):
    reference, loop = loops
    assert replaced_scenario(loop) == replaced_scenario(reference)


def replaced_on_eof_and_close_scenario(loop, where):
    """The loop's get_debug, _remove_reader and _remove_writer replaced (on
    the instance or on a subclass): the calls an end of file and the close
    it leads to make of them."""
    calls = []

    def spy(name):
        original = getattr(type(loop), name)

        def counted(self, *args):
            calls.append(name)
            return original(self, *args)
        return counted

    names = ("get_debug", "_remove_reader", "_remove_writer")
    if where == "class":
        loop.__class__ = type("Patched", (type(loop),), {n: spy(n) for n in names})
    transport, protocol, peer = transport_pair(loop)
    try:
        with contextlib.ExitStack() as patches:
            if where == "instance":
                for name in names:
                    patches.enter_context(mock.patch.object(
                        loop, name, spy(name).__get__(loop)))
            peer.shutdown(socket.SHUT_WR)
            while not transport.is_closing():
                loop.run_until_complete(iterations(1))
            loop.run_until_complete(iterations())
        return calls
    finally:
        peer.close()


@pytest.mark.parametrize("where", ["instance", "class"])
def test_replaced_loop_methods_on_eof_and_close(loops, where):
    reference, loop = loops
    seen = replaced_on_eof_and_close_scenario(loop, where)
    assert seen == replaced_on_eof_and_close_scenario(reference, where)
    assert {"get_debug", "_remove_reader", "_remove_writer"} <= set(seen)


class CountingWeakValues(weakref.WeakValueDictionary):
    """loop._transports that counts how it is read and written."""
    def __init__(self, counts):
        super().__init__()
        self.counts = counts

    def __getitem__(self, key):
        self.counts["transports[fd]"] += 1
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.counts["transports.get"] += 1
        return super().get(key, default)

    def __setitem__(self, key, value):
        self.counts["transports[fd] ="] += 1
        super().__setitem__(key, value)


SELECTOR_METHODS = ("get_key", "get_map", "register", "unregister", "modify")


def replaced_lookups_scenario(loop):
    """The selector's get_key, get_map, register, unregister and modify, and
    loop._transports, replaced: each is called where asyncio calls it (the
    compiled readers otherwise read the selector's table and the mapping's
    dict directly, and call the selector's compiled methods in C)."""
    counts = collections.Counter()
    loop._transports = CountingWeakValues(counts)
    selector = loop._selector
    with contextlib.ExitStack() as stack:
        spies = {name: stack.enter_context(mock.patch.object(
            selector, name, wraps=getattr(selector, name))) for name in SELECTOR_METHODS}
        a, b = socket.socketpair()
        try:
            loop.add_reader(a.fileno(), callback)
            loop.add_writer(a.fileno(), callback)
            loop.remove_writer(a.fileno())
            loop.remove_reader(a.fileno())
        finally:
            a.close()
            b.close()
        transport_fd_scenario(loop)
        counts.update({name: spy.call_count for name, spy in spies.items()})
    return dict(counts)


def test_replaced_lookups_are_honoured():
    # Both loops on fastsel's selector: the stdlib's get_key itself calls
    # get_map, which would count calls that no loop makes.
    reference, loop = made = [make(fastsel.DefaultSelector()) for make in LOOPS]
    try:
        ours = replaced_lookups_scenario(loop)
        assert ours == replaced_lookups_scenario(reference)
        assert ours["transports[fd] ="] == 1
        assert all(ours[name] for name in ("register", "unregister", "modify")), ours
    finally:
        for each in made:
            each.close()


def test_debug_logs_as_asyncio(loops, caplog):
    logs = []
    for loop in loops:
        loop.set_debug(True)
        transport, _, peer = transport_pair(loop)
        try:
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="asyncio"):
                transport.pause_reading()
                transport.resume_reading()
            logs.append([normalized(r.getMessage()) for r in caplog.records
                         if "reading" in r.getMessage()])
            transport.close()
            loop.run_until_complete(iterations())
        finally:
            peer.close()
    assert logs[1] == logs[0] and len(logs[0]) == 2


@compiled
def test_asyncios_python_methods_are_not_run():
    replaced = [selector_events.BaseSelectorEventLoop._add_reader,
                selector_events.BaseSelectorEventLoop._remove_reader,
                selector_events.BaseSelectorEventLoop.add_reader,
                selector_events.BaseSelectorEventLoop.remove_reader]
    transport_methods = [
        getattr(cls, name) for name in ("pause_reading", "resume_reading", "is_reading")
        for cls in (selector_events._SelectorTransport,
                    selector_events._SelectorSocketTransport)
        if name in vars(cls)]

    async def workload():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        try:
            loop.add_reader(a, callback)
            loop.remove_reader(a)
            transport, _ = await loop.connect_accepted_socket(Quiet, a)
            await iterations()
            transport.pause_reading()
            transport.resume_reading()
            transport.is_reading()
            transport.close()
            await iterations()
            return True
        finally:
            b.close()

    counts = []
    for make in LOOPS:
        loop = make()
        try:
            result, calls = python_calls(loop, workload(), replaced + transport_methods)
        finally:
            loop.close()
        assert result
        counts.append(calls)
    assert all(counts[0]), counts[0]
    assert counts[1] == [0] * len(counts[1]), counts[1]
