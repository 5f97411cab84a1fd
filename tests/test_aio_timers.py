"""call_later, call_at, time and TimerHandle.cancel's bookkeeping on
fastsel.aio: the timers, the heap and the errors are asyncio's."""
import asyncio
import contextvars
import fractions
import random
import time
from asyncio import base_events, events, futures

import pytest

import fastsel
from fastsel import aio
from test_aio_loop import python_calls

compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the compiled implementation is not live")


@pytest.fixture
def loops():
    made = [asyncio.SelectorEventLoop(), aio.EventLoop()]
    yield made
    for loop in made:
        loop.close()


def timer_state(loop, timer, start):
    callback = getattr(timer._callback, "__qualname__", timer._callback)
    return (type(timer), repr(timer._when - start), callback, timer._args,
            timer._scheduled, timer._cancelled, timer._repr,
            timer._source_traceback, type(timer._context), timer._loop is loop)


class LaterHandle(events.TimerHandle):
    __slots__ = ()


def heap_scenario(loop):
    """Timers at random, equal, integer, fractional and NaN times, some
    cancelled, and a heap holding another TimerHandle class: the heap's
    order and every timer's state, relative to a fixed start."""
    rng = random.Random(7)
    start = 1000.0
    seen = []
    timers = []
    for i in range(200):
        when = start + rng.choice([rng.random(), 0.5, 0.25])
        timers.append(loop.call_at(when, seen.append, i))
    timers.append(loop.call_at(int(start) + 1, seen.append, "int"))
    timers.append(loop.call_at(fractions.Fraction(2001, 2), seen.append, "fraction"))
    timers.append(loop.call_at(float("nan"), seen.append, "nan"))
    timers.append(loop.call_at(start + 0.1, seen.append, "context",
                               context=contextvars.Context()))
    for timer in timers[::5]:
        timer.cancel()
    counts = (len(loop._scheduled), loop._timer_cancelled_count)
    other = LaterHandle(start + 0.3, seen.append, ("other",), loop, None)
    loop._scheduled.insert(0, other)
    timers.append(loop.call_at(start + 0.2, seen.append, "after other"))
    order = [timers.index(t) if t in timers else "other" for t in loop._scheduled]
    states = [timer_state(loop, t, start) for t in timers]
    for timer in timers:
        timer.cancel()
    loop._scheduled.clear()
    loop._timer_cancelled_count = 0
    return counts, order, states


def test_heap_and_timers_as_asyncio(loops):
    reference, loop = loops
    assert heap_scenario(loop) == heap_scenario(reference)


def pop_scenario(loop):
    """Due timers at few distinct times (many ties), some cancelled, others
    far off: the order they run in and the heap left are heapq's."""
    rng = random.Random(11)
    start = loop.time() - 100
    seen = []
    timers = []
    for i in range(300):
        when = start + rng.choice([0, 0.001, 0.002, 0.003, 5000, 5001])
        timers.append(loop.call_at(when, seen.append, i))
    for timer in timers[::7]:
        timer.cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    left = [timers.index(t) for t in loop._scheduled]
    for timer in timers:
        timer.cancel()
    return seen, left, loop._timer_cancelled_count


def test_heap_pops_as_asyncio(loops):
    reference, loop = loops
    assert pop_scenario(loop) == pop_scenario(reference)


def later_scenario(loop):
    seen = []
    start = loop.time()
    timers = [loop.call_later(delay, seen.append, delay)
              for delay in (0.003, 0, -1, 0.001, 2, fractions.Fraction(1, 1000))]
    timers[4].cancel()
    cancelled_twice = timers[4].cancel()
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    return (seen, cancelled_twice, loop._timer_cancelled_count,
            [t._when - start >= d for t, d in zip(timers, (0.003, 0, -1, 0.001, 2))],
            [timer_state(loop, t, t._when)[2:] for t in timers])


def test_call_later_as_asyncio(loops):
    reference, loop = loops
    assert later_scenario(loop) == later_scenario(reference)


def error_of(call):
    try:
        call()
    except BaseException as exc:  # noqa: B902 - any error, compared across loops
        return type(exc), str(exc)
    return None


def test_errors_as_asyncio(loops):
    """None times, bad delays and a closed loop fail as on asyncio."""
    results = []
    for loop in loops:
        results.append([
            error_of(lambda: loop.call_at(None, print)),
            error_of(lambda: loop.call_later(None, print)),
            error_of(lambda: loop.call_later("1", print)),
        ])
        loop.close()
        results[-1] += [error_of(lambda: loop.call_at(1.0, print)),
                        error_of(lambda: loop.call_later(1, print))]
    reference, ours = results
    assert ours == reference
    assert all(reference)


def test_debug_records_where_the_timer_was_made(loops):
    for loop in loops:
        loop.set_debug(True)
        timer = loop.call_later(10, print)  # the line recorded
        frame = timer._source_traceback[-1]
        assert frame.name == "test_debug_records_where_the_timer_was_made"
        assert "the line recorded" in frame.line
        timer.cancel()


@compiled
def test_asyncios_python_timer_methods_are_not_run():
    """A workload of timers on aio.EventLoop runs none of asyncio's Python
    timer methods; on asyncio's own loop it runs each of them."""
    replaced = [base_events.BaseEventLoop.call_later, base_events.BaseEventLoop.call_at,
                base_events.BaseEventLoop.time, base_events.BaseEventLoop._timer_handle_cancelled,
                events.TimerHandle.__init__, events.TimerHandle.__lt__]

    async def workload():
        loop = asyncio.get_running_loop()
        for i in range(20):
            loop.call_later(10 + i % 3, print).cancel()
            loop.call_at(loop.time() + 5, print).cancel()
        await asyncio.sleep(0.001)
        return True

    counts = []
    for make in (asyncio.SelectorEventLoop, aio.EventLoop):
        loop = make()
        try:
            result, calls = python_calls(loop, workload(), replaced)
        finally:
            loop.close()
        assert result
        counts.append(calls)
    assert all(counts[0]), counts[0]
    assert counts[1] == [0] * len(replaced)


def test_time_is_the_monotonic_clock(loops):
    for loop in loops:
        before = time.monotonic()
        now = loop.time()
        assert type(now) is float and before <= now <= time.monotonic()


def clock_reads(loop, monkeypatch):
    """loop.time() and the calls of time.monotonic, patched, while the loop
    runs iterations with nothing scheduled, then with timers."""
    reads = []
    real = time.monotonic

    def counting():
        reads.append(None)
        return real()

    async def scenario():
        seen = [len(reads)]
        for _ in range(3):
            await asyncio.sleep(0)
            seen.append(len(reads))
        await asyncio.sleep(0.001)
        seen.append(len(reads))
        return seen

    monkeypatch.setattr(time, "monotonic", counting)
    try:
        seen = loop.run_until_complete(scenario())
        monkeypatch.setattr(time, "monotonic", lambda: 12.5)
        return seen, loop.time()
    finally:
        monkeypatch.undo()


def test_a_patched_clock_is_read_as_asyncio_reads_it(loops, monkeypatch):
    """Where time.monotonic is not the builtin (a test's, freezegun's), the
    loop calls it as often as asyncio's does, iterations without timers
    included."""
    reference, loop = loops
    expected = clock_reads(reference, monkeypatch)
    assert expected[1] == 12.5
    assert clock_reads(loop, monkeypatch) == expected


def classes_made(loop, monkeypatch):
    """The classes create_future, call_later and call_soon make, before and
    while asyncio's futures.Future, events.TimerHandle and events.Handle are
    replaced, and once they are back."""
    class OtherFuture(asyncio.Future):
        pass

    class OtherTimer(events.TimerHandle):
        __slots__ = ()

    class OtherHandle(events.Handle):
        __slots__ = ()

    def made():
        timer = loop.call_later(60, print)
        handle = loop.call_soon(print)
        kinds = [type(loop.create_future()).__name__, type(timer).__name__,
                 type(handle).__name__]
        timer.cancel()
        handle.cancel()
        return kinds

    before = made()
    monkeypatch.setattr(futures, "Future", OtherFuture)
    monkeypatch.setattr(events, "TimerHandle", OtherTimer)
    monkeypatch.setattr(events, "Handle", OtherHandle)
    replaced = made()
    monkeypatch.undo()
    return before, replaced, made()


def test_replaced_asyncio_classes_are_made_as_asyncio_makes_them(loops, monkeypatch):
    # asyncio looks these classes up in their modules on every call; the
    # compiled loop remembers what it found only while the module is unchanged.
    reference, loop = loops
    expected = classes_made(reference, monkeypatch)
    assert expected[1] == ["OtherFuture", "OtherTimer", "OtherHandle"]
    assert classes_made(loop, monkeypatch) == expected
