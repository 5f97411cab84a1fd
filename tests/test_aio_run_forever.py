"""fastsel.aio's run_forever: the compiled _run_once runs the iterations of
run_forever's loop in turns of several, and the callbacks, stops and
replacements come out as asyncio's loop, calling it once per iteration,
makes them."""
import asyncio
import ctypes
import functools
import signal
import sys

import pytest

import fastsel
from fastsel import aio

LOOPS = {"asyncio": asyncio.SelectorEventLoop, "fastsel.aio pure": aio._PureEventLoop,
         "fastsel.aio": aio.EventLoop}
compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the compiled implementation is not live")


@pytest.fixture(params=list(LOOPS))
def loop(request):
    loop = LOOPS[request.param]()
    yield loop
    loop.close()


def chain(loop, log, last, stops=(), on_step=None):
    """Callbacks 0..last, each scheduling the next (one per iteration);
    those in `stops` stop the loop."""
    def step(n):
        log.append(n)
        if n < last:
            loop.call_soon(step, n + 1)
        if on_step is not None:
            on_step(n)
        if n in stops:
            loop.stop()

    loop.call_soon(step, 0)


def test_stop_ends_each_run_after_its_iteration(loop):
    log, runs = [], []
    chain(loop, log, 40, stops=(5, 25, 40))
    for _ in range(3):
        loop.run_forever()
        runs.append(list(log))
    assert runs == [list(range(6)), list(range(26)), list(range(41))]


def test_stop_before_the_run_runs_one_iteration(loop):
    log = []
    chain(loop, log, 40, stops=(40,))
    loop.stop()
    loop.run_forever()
    assert log == [0]


def test_run_once_replaced_during_the_run_is_called_from_then_on(loop):
    calls = []
    original = loop._run_once

    def counted():
        calls.append(1)
        original()

    def on_step(n):
        if n == 3:
            loop._run_once = counted

    log = []
    chain(loop, log, 30, stops=(30,), on_step=on_step)
    loop.run_forever()
    assert log == list(range(31))
    # One call for each iteration after step 3's (steps 4 to 30).
    assert len(calls) == 27


def test_run_once_called_by_a_callback_runs_one_iteration(loop):
    nested = []

    def on_step(n):
        if n == 3:
            loop._run_once()
            nested.append(list(log))

    log = []
    chain(loop, log, 30, stops=(30,), on_step=on_step)
    loop.run_forever()
    assert nested == [[0, 1, 2, 3, 4]]
    assert log == list(range(31))


def test_run_once_after_a_run_runs_one_iteration(loop):
    log = []
    chain(loop, log, 30, stops=(2,))
    loop.run_forever()
    loop._run_once()
    assert log == [0, 1, 2, 3]


def test_error_in_an_iteration_ends_the_run_and_the_next_run_goes_on(loop):
    def on_step(n):
        if n == 20:
            raise KeyboardInterrupt  # what callbacks let through

    log = []
    chain(loop, log, 40, stops=(40,), on_step=on_step)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert log == list(range(21))
    assert not loop.is_running()
    loop.run_forever()
    assert log == list(range(41))


@compiled
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_signal_handler_runs_between_two_iterations():
    """Callbacks written in C run no Python code, where the interpreter runs
    signal handlers: the loop runs them after each iteration, as asyncio's
    run_forever does between its calls of _run_once."""
    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted

    # raise() from C: os.kill() would run the handler before it returns.
    send_signal = getattr(ctypes.CDLL(None), "raise")
    loop = aio.EventLoop()
    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        ran = []
        loop.call_soon(send_signal, signal.SIGUSR1)
        loop.call_soon(loop.call_soon, ran.append, "next iteration")
        # In the iteration after, what loop.stop() does, from C too: else the
        # handler's exception would keep loop.stop() from stopping the loop.
        stop = functools.partial(setattr, loop, "_stopping", True)
        loop.call_soon(loop.call_soon, loop.call_soon, stop)
        with pytest.raises(Interrupted):
            loop.run_forever()
        assert ran == []
    finally:
        signal.signal(signal.SIGUSR1, previous)
        loop.close()


def test_run_until_complete_on_a_long_chain(loop):
    async def main():
        for _ in range(100):
            await asyncio.sleep(0)
        return "done"

    assert loop.run_until_complete(main()) == "done"
    assert not loop.is_running()
