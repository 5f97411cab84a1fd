"""fastsel.Loop, compiled and pure: callbacks, timers, readers and writers,
errors, threads and the loop's life cycle."""
import contextvars
import gc
import logging
import socket
import threading
import time
import tracemalloc

import pytest


@pytest.fixture
def loop(impl):
    with impl.Loop() as loop:
        yield loop


def run_until(loop, predicate, timeout=5.0):
    """Run the loop until predicate() is true (checked after each callback
    batch), failing after `timeout` seconds."""
    deadline = loop.time() + timeout

    def check():
        if predicate() or loop.time() > deadline:
            loop.stop()
        else:
            loop.call_later(0.001, check)

    loop.call_soon(check)
    loop.run_forever()
    assert predicate(), "condition not reached in time"


def test_call_soon_runs_in_order_with_args(loop):
    out = []
    for i in range(5):
        loop.call_soon(out.append, i)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == [0, 1, 2, 3, 4]


def test_cancelled_handle_does_not_run(loop):
    out = []
    handle = loop.call_soon(out.append, "no")
    assert not handle.cancelled()
    handle.cancel()
    handle.cancel()
    assert handle.cancelled()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == []


def test_callbacks_scheduled_by_callbacks_run_next_iteration(loop):
    out = []

    def first():
        out.append("first")
        loop.call_soon(out.append, "scheduled")
        loop.stop()

    loop.call_soon(first)
    loop.call_soon(out.append, "second")
    loop.run_forever()
    assert out == ["first", "second"]
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == ["first", "second", "scheduled"]


def test_timers_fire_in_deadline_order_ties_in_scheduling_order(loop):
    out = []
    now = loop.time()
    loop.call_at(now + 0.03, out.append, "c")
    loop.call_at(now + 0.01, out.append, "a1")
    loop.call_at(now + 0.02, out.append, "b")
    loop.call_at(now + 0.01, out.append, "a2")
    loop.call_later(0.01, out.append, "a3")
    loop.call_at(now + 0.04, loop.stop)
    loop.run_forever()
    assert out == ["a1", "a2", "a3", "b", "c"]


def test_call_later_waits_at_least_its_delay(loop):
    fired = []
    start = time.monotonic()
    timer = loop.call_later(0.05, lambda: fired.append(time.monotonic()))
    assert start <= timer.when() <= loop.time() + 0.05
    run_until(loop, lambda: fired)
    assert fired[0] - start >= 0.05 - loop_clock_resolution()


def loop_clock_resolution():
    return time.get_clock_info("monotonic").resolution


def test_cancelled_timer_does_not_fire(loop):
    out = []
    timer = loop.call_later(0.01, out.append, "no")
    timer.cancel()
    assert timer.cancelled()
    loop.call_later(0.03, loop.stop)
    loop.run_forever()
    assert out == []


def test_time_is_monotonic_clock(loop):
    before = time.monotonic()
    now = loop.time()
    assert before <= now <= time.monotonic()


def test_call_later_rejects_none_delay(loop):
    with pytest.raises(TypeError):
        loop.call_later(None, print)


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_callback_must_be_callable(loop, method):
    with pytest.raises(TypeError):
        getattr(loop, method)("not callable")


def test_reader_and_writer(loop):
    a, b = socket.socketpair()
    a.setblocking(False)
    got = []
    try:
        loop.add_reader(a, lambda: got.append(a.recv(100)))
        loop.add_writer(b, lambda: (b.send(b"ping"), loop.remove_writer(b)))
        run_until(loop, lambda: got)
        assert got == [b"ping"]
        assert loop.remove_reader(a) is True
        assert loop.remove_reader(a) is False
        assert loop.remove_writer(b) is False
    finally:
        a.close()
        b.close()


def test_add_reader_replaces_and_cancels_previous(loop):
    a, b = socket.socketpair()
    try:
        calls = []
        loop.add_reader(a, calls.append, "old")
        loop.add_reader(a, lambda: (calls.append("new"), a.recv(10), loop.stop()))
        b.send(b"x")
        loop.run_forever()
        assert calls == ["new"]
        assert loop.remove_reader(a) is True
    finally:
        a.close()
        b.close()


def test_reader_and_writer_on_same_fd_independent(loop):
    a, b = socket.socketpair()
    try:
        loop.add_reader(a, print)
        loop.add_writer(a, print)
        assert loop.remove_writer(a) is True
        assert loop.remove_reader(a) is True
        assert loop.remove_reader(a) is False
    finally:
        a.close()
        b.close()


def test_stop_before_run_forever_runs_one_iteration(loop):
    out = []
    loop.call_soon(out.append, 1)
    loop.stop()
    loop.run_forever()
    assert out == [1]
    assert not loop.is_running()


def test_life_cycle(impl):
    loop = impl.Loop()
    seen = []

    def inside():
        seen.append(loop.is_running())
        with pytest.raises(RuntimeError):
            loop.run_forever()
        with pytest.raises(RuntimeError):
            loop.close()
        loop.stop()

    loop.call_soon(inside)
    loop.run_forever()
    assert seen == [True]
    assert not loop.is_running() and not loop.is_closed()
    loop.close()
    loop.close()
    assert loop.is_closed()
    for call in (lambda: loop.call_soon(print), lambda: loop.call_later(1, print),
                 loop.run_forever, lambda: loop.add_reader(0, print)):
        with pytest.raises(RuntimeError):
            call()
    assert loop.remove_reader(0) is False


def test_context_manager_closes(impl):
    with impl.Loop() as loop:
        assert not loop.is_closed()
    assert loop.is_closed()


def test_call_soon_threadsafe_wakes_blocked_loop(loop):
    # Nothing scheduled: the loop blocks in the kernel until woken.
    started = threading.Event()
    loop.call_soon(started.set)

    def other_thread():
        started.wait(5)
        time.sleep(0.05)
        loop.call_soon_threadsafe(loop.stop)

    thread = threading.Thread(target=other_thread)
    thread.start()
    begin = time.monotonic()
    loop.run_forever()
    thread.join()
    assert time.monotonic() - begin < 5


def test_many_threads_call_soon_threadsafe(loop):
    count = []
    threads = [threading.Thread(target=lambda: [loop.call_soon_threadsafe(count.append, 1)
                                                for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run_until(loop, lambda: len(count) == 2000)


def test_callback_error_is_logged_and_loop_goes_on(loop, caplog):
    out = []

    def boom():
        raise ZeroDivisionError("boom")

    loop.call_soon(boom)
    loop.call_soon(out.append, "after")
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.ERROR, logger="fastsel"):
        loop.run_forever()
    assert out == ["after"]
    [record] = [r for r in caplog.records if r.name == "fastsel"]
    assert "Exception in callback" in record.getMessage()
    assert record.exc_info[0] is ZeroDivisionError


def test_custom_exception_handler(loop, caplog):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append((lp, ctx)))
    assert loop.get_exception_handler() is not None

    def boom():
        raise ValueError("x")

    handle = loop.call_soon(boom)
    loop.call_soon(loop.stop)
    loop.run_forever()
    [(got_loop, context)] = contexts
    assert got_loop is loop
    assert isinstance(context["exception"], ValueError)
    assert context["handle"] is handle
    with pytest.raises(TypeError):
        loop.set_exception_handler("not callable")
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_raising_exception_handler_is_logged(loop, caplog):
    def bad_handler(lp, ctx):
        raise RuntimeError("handler broke")

    loop.set_exception_handler(bad_handler)
    loop.call_soon(lambda: 1 / 0)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.ERROR, logger="fastsel"):
        loop.run_forever()
    assert any("Unhandled error in exception handler" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_propagate(loop, exc):
    out = []

    def interrupt():
        raise exc

    loop.call_soon(interrupt)
    loop.call_soon(out.append, "kept")
    with pytest.raises(exc):
        loop.run_forever()
    assert not loop.is_running()
    # What was queued behind the interruption still runs, in order.
    loop.call_soon(out.append, "later")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == ["kept", "later"]


def test_callbacks_run_in_the_context_they_were_scheduled_in(loop):
    var = contextvars.ContextVar("var", default="default")
    seen = []
    var.set("scheduled")
    loop.call_soon(lambda: seen.append(var.get()))
    other = contextvars.Context()
    loop.call_soon(lambda: seen.append(var.get()), context=other)
    var.set("changed")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["scheduled", "default"]


def memory_after_cancelling_timers(loop):
    """(bytes held by 20,000 timers, bytes held once 99% are cancelled)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        payload = [bytes(100) for _ in range(200)]
        timers = [loop.call_later(3600, payload.append, i) for i in range(20_000)]
        full = tracemalloc.get_traced_memory()[0] - base
        for i, timer in enumerate(timers):
            if i % 100:
                timer.cancel()
        del timers
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return full, left


def test_many_cancelled_timers_do_not_hold_memory(impl):
    """20,000 timers, 99% cancelled: the memory held is about that of the
    200 left, not of all of them (asyncio compacts its heap likewise)."""
    with impl.Loop() as loop:
        full, left = memory_after_cancelling_timers(loop)
    assert left < full * 0.1, (left, full)


def test_cancelled_timers_are_freed_while_an_exception_context_is_kept(impl):
    """An exception handler that stores the context (as error reporters do)
    keeps the traceback, and with it the frames the callback ran under:
    they must not hold the timers that compaction dropped."""
    contexts = []

    def fail():
        raise ValueError("kept by the handler")

    with impl.Loop() as loop:
        loop.set_exception_handler(lambda loop, context: contexts.append(context))
        loop.call_soon(fail)
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert contexts[0]["exception"].__traceback__ is not None
        full, left = memory_after_cancelling_timers(loop)
    assert left < full * 0.1, (left, full)
