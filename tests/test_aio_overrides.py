"""Methods replaced on a loop or transport *instance*, the usual way to test
timeouts (mock.patch.object(loop, "time", ...)): fastsel.aio honours each
exactly where asyncio's code would, on asyncio's loop and on fastsel's.

A patched clock can make a loop wait for ever, and any timeout inside that
loop is measured by the same clock: every run here is guarded by a watchdog
thread that stops the loop and fails the test instead."""
import asyncio
import socket
import subprocess
import sys
import textwrap
import threading
import time
from unittest import mock

import pytest

import fastsel
from fastsel import aio
from test_aio_loop import echo_once

WATCHDOG_SECONDS = 10


@pytest.fixture(params=[asyncio.SelectorEventLoop, aio.EventLoop],
                ids=["asyncio", "fastsel.aio"])
def loop(request):
    loop = request.param()
    yield loop
    loop.close()


def run_guarded(loop, coro):
    """loop.run_until_complete(coro), or a failed test if that hangs."""
    hung = threading.Event()

    def stop():
        hung.set()
        loop.call_soon_threadsafe(loop.stop)

    watchdog = threading.Timer(WATCHDOG_SECONDS, stop)
    watchdog.start()
    try:
        return loop.run_until_complete(coro)
    except RuntimeError:
        if hung.is_set():
            pytest.fail(f"the loop still ran after {WATCHDOG_SECONDS} s")
        raise
    finally:
        watchdog.cancel()


async def iterations(count):
    """Let the loop run `count` iterations."""
    for _ in range(count):
        await asyncio.sleep(0)


# ------------------------------------------------------------ a patched clock

@pytest.mark.parametrize("shift", [1000.0, -1000.0], ids=["ahead", "behind"])
def test_sleep_on_a_shifted_clock(loop, shift):
    """The wait before the next timer is computed from the patched clock:
    ahead of the monotonic one, asyncio still sleeps 0.05 s, not 1000 s."""
    async def main():
        await asyncio.wait_for(asyncio.sleep(0.05), 5)
        fired = loop.create_future()
        loop.call_later(0.05, fired.set_result, "fired")
        return await fired

    with mock.patch.object(loop, "time", lambda: time.monotonic() + shift):
        assert run_guarded(loop, main()) == "fired"


@pytest.mark.parametrize("shift", [1000.0, -1000.0], ids=["ahead", "behind"])
def test_timer_runs_when_the_patched_clock_reaches_it(loop, shift):
    """What aiohttp's keep-alive test does: a timer is due by the patched
    clock, whatever the monotonic clock says. It does not run before that
    clock reaches it, and runs within the next iterations once it does."""
    now = [time.monotonic() + shift]
    seen = []

    async def main():
        loop.call_at(now[0] + 75, seen.append, "deadline")
        await iterations(5)
        seen.append("clock moved")
        now[0] += 75
        await iterations(3)

    with mock.patch.object(loop, "time", lambda: now[0]):
        run_guarded(loop, main())
    assert seen == ["clock moved", "deadline"]


# ------------------------------------------------- patched loop methods run

async def loop_workout(loop):
    """Timers, callbacks from this thread and another, and a streams
    exchange over loopback: what runs asyncio's loop methods."""
    fired = loop.create_future()
    loop.call_later(0.001, fired.set_result, None)
    await fired
    from_thread = loop.create_future()
    threading.Thread(target=loop.call_soon_threadsafe,
                     args=(from_thread.set_result, None)).start()
    await from_thread
    return await echo_once()


@pytest.mark.parametrize("name", [
    "time", "_process_events", "_add_callback", "call_soon", "_call_soon",
    "_check_closed", "get_debug", "_write_to_self", "call_at", "_add_reader",
    "_accept_connection", "_accept_connection2"])
def test_patched_loop_method_is_called(loop, name):
    with mock.patch.object(loop, name, wraps=getattr(loop, name)) as spy:
        assert run_guarded(loop, loop_workout(loop)) == b"pong"
    assert spy.called


def test_call_soon_goes_through_patched_helpers(loop):
    """call_soon's own steps: asyncio's checks the loop is open, makes the
    handle with _call_soon, whose Handle asks the loop's get_debug()."""
    with mock.patch.object(loop, "_call_soon", wraps=loop._call_soon) as spy:
        loop.call_soon(print, 1).cancel()
    spy.assert_called_once_with(print, (1,), None)
    with mock.patch.object(loop, "get_debug", return_value=True):
        handle = loop.call_soon(print)
    assert handle._source_traceback
    handle.cancel()
    with mock.patch.object(loop, "_check_closed", side_effect=RuntimeError("shut")):
        with pytest.raises(RuntimeError, match="shut"):
            loop.call_soon(print)


# --------------------------------------------- patched transport methods run

class Collect(asyncio.Protocol):
    def __init__(self, loop):
        self.chunks = []
        self.lost = loop.create_future()

    def data_received(self, data):
        self.chunks.append(data)

    def connection_lost(self, exc):
        self.lost.set_result(exc)


async def transport_phases(loop, name):
    """Patch `name` on a connected transport, then go through the phases
    that reach it; return whether the patched method had run after each."""
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    seen = []
    try:
        transport, protocol = await loop.connect_accepted_socket(
            lambda: Collect(loop), ours)
        with mock.patch.object(transport, name,
                               wraps=getattr(transport, name)) as spy:
            # The reader registered with the transport holds the method it
            # was given then, on asyncio's loop too.
            await loop.sock_sendall(theirs, b"before")
            while len(protocol.chunks) < 1:
                await asyncio.sleep(0.001)
            seen.append(spy.called)
            transport.set_protocol(protocol)
            transport.pause_reading()
            transport.resume_reading()
            await loop.sock_sendall(theirs, b"after")
            while len(protocol.chunks) < 2:
                await asyncio.sleep(0.001)
            seen.append(spy.called)
            # More than the socket takes at once: the rest is buffered.
            payload = b"x" * (8 << 20)
            transport.write(payload)
            seen.append((spy.called, transport.get_write_buffer_size() > 0))
            received = 0
            while received < len(payload):
                received += len(await loop.sock_recv(theirs, 1 << 20))
            theirs.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(protocol.lost, 5)
            seen.append(spy.called)
        seen.append(b"".join(protocol.chunks))
    finally:
        theirs.close()
    return seen


def on_both_loops(scenario, *args):
    """scenario(loop, *args)'s result on asyncio's loop, then on fastsel.aio's."""
    observed = []
    for make_loop in (asyncio.SelectorEventLoop, aio.EventLoop):
        loop = make_loop()
        try:
            observed.append(run_guarded(loop, scenario(loop, *args)))
        finally:
            loop.close()
    return observed


@pytest.mark.parametrize("name", [
    "_read_ready", "_read_ready__data_received", "_read_ready__on_eof",
    "write", "_maybe_pause_protocol", "_write_ready", "close"])
def test_patched_transport_method_is_called_as_on_asyncio(name):
    """Each phase reaches the patched method on fastsel.aio exactly when it
    does on asyncio's loop."""
    reference, ours = on_both_loops(transport_phases, name)
    assert any(reference[:4]), "the phases never reach it on asyncio's loop"
    assert ours == reference


async def loop_io_calls(loop, name):
    """Patch the loop's `name` (its _add_reader, _add_writer...), then take
    a connected transport through reading, pausing, a write larger than the
    socket takes at once, and the peer's close; return the callbacks the
    patched method was called with for the transport's fd."""
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    fd = ours.fileno()
    with mock.patch.object(loop, name, wraps=getattr(loop, name)) as spy:
        try:
            transport, protocol = await loop.connect_accepted_socket(
                lambda: Collect(loop), ours)
            await loop.sock_sendall(theirs, b"ping")
            while not protocol.chunks:
                await asyncio.sleep(0.001)
            transport.pause_reading()
            transport.resume_reading()
            payload = b"x" * (8 << 20)
            transport.write(payload)
            received = 0
            while received < len(payload):
                received += len(await loop.sock_recv(theirs, 1 << 20))
            theirs.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(protocol.lost, 5)
        finally:
            theirs.close()
    # (The test's own sock_recv waits go through the loop's methods too.)
    return [getattr(call.args[1], "__name__", None) if len(call.args) > 1 else None
            for call in spy.call_args_list if call.args[0] == fd]


@pytest.mark.parametrize("name", ["_add_reader", "_add_writer", "_remove_reader",
                                  "_remove_writer"])
def test_patched_loop_io_method_is_reached_through_a_transport(name):
    """A transport registers and drops its reader and writer through the
    loop's methods (replaced here on the instance) at the same points, with
    the same callbacks, on fastsel.aio as on asyncio's loop."""
    reference, ours = on_both_loops(loop_io_calls, name)
    assert reference, "asyncio's transport never calls it"
    assert ours == reference


# ------------------------------------------- how fastsel.aio notices them

compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the compiled implementation is not live")


@compiled
def test_instances_are_searched_once_a_method_was_shadowed():
    """Until an attribute shadows a class attribute of some loop, loops are
    not searched (the cheap path); from the first one on, they are."""
    code = textwrap.dedent("""
        import asyncio, time
        from unittest import mock
        from fastsel import aio, _aio_c
        loop = aio.EventLoop()
        loop.run_until_complete(asyncio.sleep(0.001))
        loop.own_attribute = 1
        del loop.own_attribute
        assert not _aio_c.loop_shadowing_seen()
        with mock.patch.object(loop, "time", lambda: time.monotonic() + 1000):
            assert _aio_c.loop_shadowing_seen()
            loop.run_until_complete(asyncio.wait_for(asyncio.sleep(0.01), 5))
        loop.close()
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_subclass_with_its_own_setattr():
    """A loop class whose __setattr__ bypasses EventLoop's gets asyncio's
    own iteration, which sees whatever is set on the instance."""
    class Loop(aio.EventLoop):
        def __setattr__(self, name, value):
            object.__setattr__(self, name, value)

    loop = Loop()
    try:
        with mock.patch.object(loop, "time", lambda: time.monotonic() + 1000):
            run_guarded(loop, asyncio.wait_for(asyncio.sleep(0.01), 5))
    finally:
        loop.close()


def test_ready_queue_of_a_deque_subclass_is_used_through_its_methods():
    """A ready queue replaced by a deque subclass gets every append and
    popleft through its own methods, as on asyncio's loop (a plain deque's
    are called directly)."""
    import collections

    counts = {}
    for label, make_loop in (("asyncio", asyncio.SelectorEventLoop), ("fastsel", aio.EventLoop)):
        calls = collections.Counter()

        class Recording(collections.deque):
            def append(self, item):
                calls["append"] += 1
                super().append(item)

            def popleft(self):
                calls["popleft"] += 1
                return super().popleft()

        loop = make_loop()
        try:
            loop._ready = Recording(loop._ready)
            run_guarded(loop, echo_once())
        finally:
            loop.close()
        counts[label] = dict(calls)
    assert counts["asyncio"]["append"] > 0 and counts["fastsel"] == counts["asyncio"]
