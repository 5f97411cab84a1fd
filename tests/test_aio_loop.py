"""fastsel.aio: its public names, and the compiled iteration doing exactly
what asyncio's does (the same callbacks in the same order, the same timer
bookkeeping), or handing over to asyncio's own when it cannot be sure."""
import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import warnings
from asyncio import base_events

import pytest

import fastsel
from fastsel import _impl, aio

compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the compiled implementation is not live")


def python_calls(loop, coro, functions):
    """Run coro on loop; return its result and how often each of the Python
    functions ran, in order."""
    codes = [function.__code__ for function in functions]
    counts = [0] * len(codes)

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            counts[codes.index(frame.f_code)] += 1

    sys.setprofile(profile)
    try:
        return loop.run_until_complete(coro), counts
    finally:
        sys.setprofile(None)


def asyncio_run_once_calls(loop, coro):
    """Run coro on loop; count how often asyncio's own _run_once ran."""
    result, (count,) = python_calls(loop, coro, [base_events.BaseEventLoop._run_once])
    return result, count


async def echo_once():
    async def pong(reader, writer):
        writer.write(b"pong")
        await writer.drain()
        writer.close()  # 3.12+: server.wait_closed() waits for connections

    server = await asyncio.start_server(pong, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = await reader.read()
    writer.close()
    server.close()
    await server.wait_closed()
    return data


@pytest.fixture
def make_loop():
    loops = []

    def make(factory):
        loop = factory()
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.close()


# ---------------------------------------------------------------- public API

def test_event_loop_is_asyncios_selector_loop_on_fastsel(make_loop):
    loop = make_loop(aio.new_event_loop)
    assert isinstance(loop, asyncio.SelectorEventLoop)
    assert type(loop._selector) is fastsel.DefaultSelector


def test_run_returns_result_and_closes_loop():
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        return await echo_once()

    assert aio.run(main()) == b"pong"
    assert isinstance(seen["loop"], aio.EventLoop)
    assert seen["loop"].is_closed()


def test_run_debug_flag():
    async def main():
        return asyncio.get_running_loop().get_debug()

    assert aio.run(main(), debug=True) is True
    assert aio.run(main(), debug=False) is False


def test_run_rejects_non_coroutine_and_nested_use():
    with pytest.raises((ValueError, TypeError)):
        aio.run(42)

    async def nested():
        coro = asyncio.sleep(0)
        try:
            aio.run(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError):
        aio.run(nested())


def test_run_cancels_leftover_tasks():
    cancelled = []

    async def forever():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)

    aio.run(main())
    assert cancelled == [True]


def test_event_loop_policy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        policy = aio.EventLoopPolicy()
        old = asyncio.get_event_loop_policy()
        asyncio.set_event_loop_policy(policy)
        try:
            loop = asyncio.new_event_loop()
            try:
                assert isinstance(loop, aio.EventLoop)
                assert loop.run_until_complete(echo_once()) == b"pong"
            finally:
                loop.close()
        finally:
            asyncio.set_event_loop_policy(old)


def test_pure_implementation_gives_plain_selector_loop():
    code = textwrap.dedent("""
        import asyncio, fastsel, fastsel.aio as aio
        assert fastsel.IMPLEMENTATION == "python"
        assert aio.EventLoop._run_once is asyncio.SelectorEventLoop._run_once
        assert aio.EventLoop._process_events is asyncio.SelectorEventLoop._process_events
        loop = aio.new_event_loop()
        assert type(loop._selector) is fastsel.DefaultSelector
        assert type(loop._selector).__module__ == "fastsel._selectors_py"
        loop.close()
        async def main():
            await asyncio.sleep(0.001)
            return 7
        assert aio.run(main()) == 7
    """)
    env = dict(os.environ, FASTSEL_IMPL="python")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# ---------------------------------------------------------- compiled or not

@compiled
def test_compiled_iteration_is_used(make_loop):
    loop = make_loop(aio.EventLoop)
    result, fallbacks = asyncio_run_once_calls(loop, echo_once())
    assert result == b"pong"
    assert fallbacks == 0


@compiled
def test_asyncios_python_hot_path_is_not_run(make_loop):
    """A streams exchange on aio.EventLoop runs none of the asyncio Python
    methods fastsel compiles; on asyncio's own loop it runs all of them."""
    from asyncio import events, futures, selector_events

    transport = selector_events._SelectorSocketTransport
    replaced = [base_events.BaseEventLoop._call_soon, events.Handle._run,
                base_events.BaseEventLoop.call_soon, base_events.BaseEventLoop.create_future,
                base_events.BaseEventLoop.get_debug, transport._read_ready,
                transport._read_ready__data_received, transport.write]
    assert futures.Future is asyncio.Future  # the C Future, which calls get_debug()
    reference = make_loop(asyncio.SelectorEventLoop)
    result, counts = python_calls(reference, echo_once(), replaced)
    assert result == b"pong" and all(counts), counts
    loop = make_loop(aio.EventLoop)
    result, counts = python_calls(loop, echo_once(), replaced)
    assert result == b"pong" and counts == [0] * len(replaced)


@compiled
def test_compiled_iteration_on_compiled_poll(make_loop):
    loop = make_loop(lambda: aio.EventLoop(_impl.load("c").PollSelector()))
    assert asyncio_run_once_calls(loop, echo_once()) == (b"pong", 0)


class _SpySelectSelector(fastsel.DefaultSelector if fastsel.IMPLEMENTATION == "c"
                         else object):
    def select(self, timeout=None):
        self.calls = getattr(self, "calls", 0) + 1
        return super().select(timeout)


class _OwnClockLoop(aio.EventLoop):
    def time(self):
        return super().time()


@compiled
@pytest.mark.parametrize("why", [
    "debug", "pure selector", "select overridden", "select patched on instance",
    "time overridden"])
def test_falls_back_to_asyncio(make_loop, why):
    """Whatever the compiled iteration cannot mirror exactly goes to asyncio."""
    if why == "pure selector":
        loop = make_loop(lambda: aio.EventLoop(_impl.load("python").DefaultSelector()))
    elif why == "select overridden":
        loop = make_loop(lambda: aio.EventLoop(_SpySelectSelector()))
    elif why == "time overridden":
        loop = make_loop(_OwnClockLoop)
    else:
        loop = make_loop(aio.EventLoop)
    if why == "debug":
        loop.set_debug(True)
    elif why == "select patched on instance":
        real = loop._selector.select
        loop._selector.select = lambda timeout=None: real(timeout)
    result, fallbacks = asyncio_run_once_calls(loop, echo_once())
    assert result == b"pong"
    assert fallbacks > 0
    if why == "select overridden":
        assert loop._selector.calls > 0


@pytest.mark.parametrize("kind", ["c", "python"])
def test_subclass_add_callback_is_called(make_loop, kind):
    """A loop class with its own _add_callback gets every I/O callback
    through it, on the compiled path and on asyncio's."""
    if kind == "c" and fastsel.IMPLEMENTATION != "c":
        pytest.skip("the compiled implementation is not live")
    added = []

    class Loop(aio.EventLoop):
        def _add_callback(self, handle):
            added.append(handle)
            super()._add_callback(handle)

    loop = make_loop(lambda: Loop(_impl.load(kind).DefaultSelector()))
    assert loop.run_until_complete(echo_once()) == b"pong"
    assert added


@compiled
def test_class_changed_after_first_use_is_checked_again(make_loop):
    """The compiled iteration remembers a checked loop class by its type
    version; replacing a method on the class afterwards must be seen."""
    import time

    class Loop(aio.EventLoop):
        pass

    loop = make_loop(Loop)
    assert asyncio_run_once_calls(loop, echo_once()) == (b"pong", 0)
    Loop.time = lambda self: time.monotonic()
    result, fallbacks = asyncio_run_once_calls(loop, echo_once())
    assert result == b"pong"
    assert fallbacks > 0


@compiled
def test_unsupported_python_falls_back(make_loop, monkeypatch):
    from fastsel import _aio_c

    monkeypatch.setattr(_aio_c, "SUPPORTED", False)
    loop = make_loop(aio.EventLoop)
    # SUPPORTED is read from the module: the flag above must be honoured.
    result, fallbacks = asyncio_run_once_calls(loop, echo_once())
    assert result == b"pong"
    assert fallbacks > 0


# ------------------------------------------- same behaviour as asyncio's loop

def selector_classes():
    """The selectors the compiled iteration runs on (and one it does not)."""
    from conftest import selector_names

    ns = _impl.load(fastsel.IMPLEMENTATION)
    return [getattr(ns, name) for name in selector_names(ns)]


def timer_scenario(loop):
    """Timers, cancellations (past the heap-rebuild threshold and at the
    head), call_soon ordering and stop(); returns what it observed. Every
    timer is already due, so that the run does not depend on the clock."""
    log = []
    past = loop.time() - 10
    handles = [loop.call_at(past + 0.001 * (i % 7), log.append, ("timer", i))
               for i in range(300)]
    for handle in handles[::3] + handles[1::3]:
        handle.cancel()
    log.append(("counts", len(loop._scheduled), loop._timer_cancelled_count))

    def chain(n):
        log.append(("soon", n))
        if n < 5:
            loop.call_soon(chain, n + 1)
            loop.call_soon(log.append, ("sibling", n))
        else:
            loop.stop()

    loop.call_soon(chain, 0)
    loop.run_forever()
    log.append(("counts", len(loop._scheduled), loop._timer_cancelled_count))
    # A cancelled timer at the head of the heap is popped and uncounted.
    head = loop.call_at(past, log.append, "never")
    tail = loop.call_at(past + 1, loop.stop)
    far = loop.call_later(3600, log.append, "far")
    head.cancel()
    log.append(("counts", len(loop._scheduled), loop._timer_cancelled_count))
    loop.run_forever()
    log.append(("counts", len(loop._scheduled), loop._timer_cancelled_count,
                head._scheduled, tail._scheduled, far._scheduled))
    far.cancel()
    return log


def io_scenario(loop):
    """Several fds ready in one wait, one of them with a reader handle that
    was cancelled (asyncio then unregisters it), one writer; returns the
    callbacks seen per iteration."""
    log = []
    pairs = [socket.socketpair() for _ in range(4)]
    try:
        for a, b in pairs:
            a.setblocking(False)
            b.send(b"x")
        for i, (a, _) in enumerate(pairs):
            loop.add_reader(a, log.append, ("read", i))
        loop.add_writer(pairs[0][0], log.append, ("write", 0))
        loop._selector.get_key(pairs[2][0]).data[0].cancel()
        for _ in range(3):
            loop.call_soon(log.append, "tick")
            loop.call_soon(loop.stop)
            loop.run_forever()
        registered = sorted(key.fd for key in loop._selector.get_map().values())
        fds = [a.fileno() for a, _ in pairs]
        log.append(("registered", [fds.index(fd) for fd in registered if fd in fds]))
        for a, _ in pairs:
            loop.remove_reader(a)
        loop.remove_writer(pairs[0][0])
    finally:
        for a, b in pairs:
            a.close()
            b.close()
    return log


def heap_threshold_scenario(loop):
    """The heap of timers at asyncio's rebuild threshold: with as many timers
    as its minimum (not rebuilt), one more (rebuilt when more than its
    fraction are cancelled), and exactly that fraction cancelled (not
    rebuilt). Every timer is far in the future."""
    from asyncio import base_events
    minimum = base_events._MIN_SCHEDULED_TIMER_HANDLES
    fraction = base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION
    log = []
    for count, cancelled in ((minimum, minimum - 1), (minimum + 1, minimum),
                             (minimum * 2, int(minimum * 2 * fraction))):
        handles = [loop.call_later(3600 + i, log.append, i) for i in range(count)]
        for handle in handles[1:cancelled + 1]:
            handle.cancel()
        loop.call_soon(loop.stop)
        loop.run_forever()
        log.append((count, cancelled, len(loop._scheduled), loop._timer_cancelled_count))
        for handle in handles:
            handle.cancel()
        loop._scheduled.clear()
        loop._timer_cancelled_count = 0
    return log


@pytest.mark.parametrize("selector", selector_classes(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("scenario", [timer_scenario, io_scenario, heap_threshold_scenario])
def test_same_observations_as_asyncio(make_loop, selector, scenario):
    """aio.EventLoop and asyncio's SelectorEventLoop on the same selector."""
    # Both loops first: the scenarios then get the same fd numbers, which
    # decide the order of select()'s results.
    reference = make_loop(lambda: asyncio.SelectorEventLoop(selector()))
    loop = make_loop(lambda: aio.EventLoop(selector()))
    assert scenario(loop) == scenario(reference)


def failing_callback_report(loop):
    """What the exception handler gets for a failing callback, with the
    handle's repr in the message made comparable across loops."""
    contexts = []
    loop.set_exception_handler(lambda loop, context: contexts.append(context))

    def boom(n):
        raise ZeroDivisionError(n)

    loop.call_soon(boom, 1)
    loop.call_later(0, boom, 2)
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.call_later(0, loop.stop)
    loop.run_forever()
    return [(sorted(c), c["message"], type(c["handle"]), c["exception"].args)
            for c in contexts]


@pytest.mark.parametrize("debug", [False, True])
def test_exception_in_callback_reported_as_asyncio_does(make_loop, debug):
    reference = make_loop(asyncio.SelectorEventLoop)
    loop = make_loop(aio.EventLoop)
    for each in (reference, loop):
        each.set_debug(debug)
    assert failing_callback_report(loop) == failing_callback_report(reference)


def test_callbacks_run_in_their_context(make_loop):
    import contextvars

    loop = make_loop(aio.EventLoop)
    var = contextvars.ContextVar("var", default="unset")
    seen = []

    def look(label):
        seen.append((label, var.get()))
        var.set("changed by " + label)

    var.set("at call_soon")
    loop.call_soon(look, "copied")
    explicit = contextvars.copy_context()
    explicit.run(var.set, "explicit")
    loop.call_soon(look, "explicit", context=explicit)
    loop.call_soon(look, "explicit again", context=explicit)
    # Entering a context the running callback is already in fails, as
    # Context.run does under asyncio's Handle._run.
    loop.call_soon(lambda: explicit.run(look, "nested"), context=explicit)
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context["exception"]))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [("copied", "at call_soon"), ("explicit", "explicit"),
                    ("explicit again", "changed by explicit")]
    assert [type(e) for e in errors] == [RuntimeError]
    assert var.get() == "at call_soon"
    assert explicit[var] == "changed by explicit again"


def test_handle_run_replaced_is_called(make_loop, monkeypatch):
    """Handles are run inline only while Handle._run is asyncio's own."""
    from asyncio import events

    calls = []
    original = events.Handle._run

    def spy(self):
        calls.append(self)
        return original(self)

    loop = make_loop(aio.EventLoop)
    loop.call_soon(lambda: None)
    loop.call_soon(loop.stop)
    loop.run_forever()
    monkeypatch.setattr(events.Handle, "_run", spy)
    loop.call_soon(lambda: None)
    loop.call_later(0, loop.stop)
    loop.run_forever()
    assert len(calls) == 2


def test_slow_callback_warning_in_debug(make_loop, caplog):
    import time

    loop = make_loop(aio.EventLoop)
    loop.slow_callback_duration = 0.001

    def slow_then_debug():
        time.sleep(0.01)

    def enable_debug():
        # Debug mode switched on by a callback applies from the next one on.
        loop.set_debug(True)

    loop.call_soon(enable_debug)
    loop.call_soon(slow_then_debug)
    loop.call_soon(loop.stop)
    with caplog.at_level("WARNING", logger="asyncio"):
        loop.run_forever()
    assert any("took" in r.getMessage() and "slow_then_debug" in r.getMessage()
               for r in caplog.records)


# ----------------------------------------------------------------- call_soon

def soon_handle_state(loop, **kwargs):
    """What call_soon gives back, in terms comparable across loops."""
    handle = loop.call_soon(print, 1, "two", **kwargs)
    state = (type(handle), handle._callback, handle._args, handle._cancelled,
             handle._loop is loop, handle._repr, handle._source_traceback,
             type(handle._context), repr(handle), handle in loop._ready)
    handle.cancel()
    return state


@pytest.mark.parametrize("with_context", [False, True])
def test_call_soon_makes_asyncios_handle(make_loop, with_context):
    import contextvars

    kwargs = {"context": contextvars.Context()} if with_context else {}
    reference = make_loop(asyncio.SelectorEventLoop)
    loop = make_loop(aio.EventLoop)
    assert soon_handle_state(loop, **kwargs) == soon_handle_state(reference, **kwargs)
    if with_context:
        assert loop.call_soon(print, **kwargs)._context is kwargs["context"]


def test_call_soon_on_a_closed_loop(make_loop):
    loop = make_loop(aio.EventLoop)
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.call_soon(print)


def test_call_soon_in_debug_records_the_caller(make_loop):
    loop = make_loop(aio.EventLoop)
    loop.set_debug(True)
    handle = loop.call_soon(print)  # the line recorded
    frame = handle._source_traceback[-1]
    assert frame.name == "test_call_soon_in_debug_records_the_caller"
    assert "the line recorded" in frame.line
    handle.cancel()


def test_call_soon_defers_to_overridden_helpers(make_loop, monkeypatch):
    from asyncio import events

    made = []

    class OwnHandle(events.Handle):
        __slots__ = ()

    class Recording(aio.EventLoop):
        def _call_soon(self, callback, args, context):
            made.append(callback)
            return super()._call_soon(callback, args, context)

    loop = make_loop(Recording)
    loop.call_soon(print).cancel()
    assert made == [print]
    plain = make_loop(aio.EventLoop)
    monkeypatch.setattr(events, "Handle", OwnHandle)
    assert type(plain.call_soon(print)) is OwnHandle


def test_create_future_and_get_debug_as_asyncio(make_loop, monkeypatch):
    from asyncio import futures

    loop = make_loop(aio.EventLoop)
    future = loop.create_future()
    assert type(future) is asyncio.Future and future.get_loop() is loop
    assert loop.get_debug() is False
    loop.set_debug(True)
    assert loop.get_debug() is True
    assert loop.create_future()._source_traceback  # the Future asked get_debug()

    class OwnFuture(asyncio.Future):
        pass

    # Looked up at each call, as asyncio's create_future does.
    monkeypatch.setattr(futures, "Future", OwnFuture)
    assert type(loop.create_future()) is OwnFuture
