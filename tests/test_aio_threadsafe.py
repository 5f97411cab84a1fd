"""fastsel.aio's call_soon_threadsafe and self-pipe: asyncio's behaviour,
with at most one write to the self-pipe per wait, and no lost wake-up.

Each behaviour test runs on fastsel.aio.EventLoop and on asyncio's own
loop, the oracle."""
import asyncio
import concurrent.futures
import os
import signal
import sys
import threading
from asyncio import events

import pytest

import fastsel
from fastsel import aio
from reliability_helpers import JOIN_TIMEOUT, LoopThread, tiny_batches_from_threads

compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the compiled implementation is not live")

FACTORIES = {"fastsel.aio": aio.EventLoop, "asyncio": asyncio.SelectorEventLoop}


@pytest.fixture(params=list(FACTORIES))
def loop(request):
    made = FACTORIES[request.param]()
    yield made
    made.close()


def self_pipe_bytes(loop):
    """The bytes waiting in the loop's self-pipe, drained."""
    data = b""
    while True:
        try:
            data += loop._ssock.recv(4096)
        except BlockingIOError:
            return data


# ---------------------------------------------------------------- stalls

def test_no_wake_up_is_lost_under_many_threads(loop):
    """No lost wake-up, with threads sending tiny batches."""
    assert tiny_batches_from_threads(loop) == []


def test_every_callback_runs_once_in_order_per_thread(loop):
    senders, each = 4, 2000
    seen = {i: [] for i in range(senders)}
    finished = threading.Event()
    remaining = [senders]

    def record(sender, i):
        seen[sender].append(i)
        if i == each - 1:
            remaining[0] -= 1
            if not remaining[0]:
                finished.set()

    runner = LoopThread(loop)

    def send(sender):
        for i in range(each):
            loop.call_soon_threadsafe(record, sender, i)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    try:
        assert finished.wait(JOIN_TIMEOUT), "callbacks left unrun: a lost wake-up"
    finally:
        runner.stop()
    assert seen == {i: list(range(each)) for i in range(senders)}


# ---------------------------------------------------------------- writes

@compiled
def test_one_write_per_wait():
    """Calls made while a wake-up is pending do not write again; the next
    iteration with nothing ready lets the following call write."""
    loop = aio.EventLoop()
    try:
        for _ in range(100):
            loop.call_soon_threadsafe(int)
        assert self_pipe_bytes(loop) == b"\0"
        loop.stop()
        loop.run_forever()  # runs the callbacks: never idle, still pending
        loop.call_soon_threadsafe(int)
        assert self_pipe_bytes(loop) == b""
        loop.stop()
        loop.run_forever()  # runs that one, then an iteration with nothing ready
        loop.stop()
        loop.run_forever()
        for _ in range(100):
            loop.call_soon_threadsafe(int)
        assert self_pipe_bytes(loop) == b"\0"
    finally:
        loop.close()


def test_writes_of_asyncios_own_loop_are_not_coalesced():
    """The oracle writes once per call: the comparison above means something."""
    loop = asyncio.SelectorEventLoop()
    try:
        for _ in range(5):
            loop.call_soon_threadsafe(int)
        assert self_pipe_bytes(loop) == b"\0" * 5
    finally:
        loop.close()


class _OwnWriteLoop(aio.EventLoop):
    writes = 0

    def _write_to_self(self):
        self.writes += 1
        super()._write_to_self()


def test_overridden_write_to_self_is_called_for_every_call():
    loop = _OwnWriteLoop()
    try:
        for _ in range(5):
            loop.call_soon_threadsafe(int)
        assert loop.writes == 5
    finally:
        loop.close()


# ---------------------------------------------------------------- semantics

def test_handle_is_asyncios(loop):
    if sys.version_info >= (3, 14):
        expected = events._ThreadSafeHandle
    else:
        expected = events.Handle
    handle = loop.call_soon_threadsafe(print, 1, 2)
    assert type(handle) is expected
    assert handle._callback is print and handle._args == (1, 2)
    assert handle._loop is loop and not handle.cancelled()
    handle.cancel()
    assert handle.cancelled()


def test_context_is_kept(loop):
    import contextvars
    var = contextvars.ContextVar("var", default="unset")
    seen = []
    context = contextvars.copy_context()
    context.run(var.set, "given")
    loop.call_soon_threadsafe(lambda: seen.append(var.get()), context=context)
    var.set("current")
    loop.call_soon_threadsafe(lambda: seen.append(var.get()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["given", "current"]


def test_cancelled_handle_does_not_run(loop):
    seen = []
    loop.call_soon_threadsafe(seen.append, 1).cancel()
    loop.call_soon_threadsafe(seen.append, 2)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [2]


def test_closed_loop_refuses(loop):
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.call_soon_threadsafe(int)


def test_debug_mode_checks_the_callback_and_records_the_caller(loop):
    loop.set_debug(True)
    with pytest.raises(TypeError, match="call_soon_threadsafe"):
        loop.call_soon_threadsafe(None)
    handle = loop.call_soon_threadsafe(int)
    frames = handle._source_traceback
    assert frames and frames[-1].name == "test_debug_mode_checks_the_callback_and_records_the_caller"


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1")
def test_signal_handler_runs_through_the_self_pipe(loop):
    """add_signal_handler makes signal.set_wakeup_fd write the signal's
    number to the self-pipe; the loop still sees it among the zeros that
    call_soon_threadsafe writes."""
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, "signal")
    try:
        loop.call_soon_threadsafe(got.append, "call")
        # As signal.set_wakeup_fd does, a byte after a wake-up's zero.
        loop._csock.send(bytes([0, signal.SIGUSR1]))
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert sorted(got) == ["call", "signal"]
        os.kill(os.getpid(), signal.SIGUSR1)
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert got.count("signal") == 2
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


def test_signal_wakes_a_blocked_loop(loop):
    """A signal alone (no thread calls) wakes a loop blocked with nothing
    to do: Ctrl-C through asyncio.Runner relies on this."""
    got = []

    def handler():
        got.append(True)
        loop.stop()

    loop.add_signal_handler(signal.SIGUSR1, handler)
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1))
    guard = loop.call_later(JOIN_TIMEOUT, loop.stop)
    try:
        timer.start()
        loop.run_forever()
    finally:
        timer.join()
        guard.cancel()
        loop.remove_signal_handler(signal.SIGUSR1)
    assert got == [True]


def test_ctrl_c_interrupts_a_runner_waiting_on_a_thread():
    """Ctrl-C while asyncio.run waits for a thread's result: the main task
    is cancelled and KeyboardInterrupt comes out, as on asyncio's loop."""
    if sys.version_info < (3, 11):
        pytest.skip("asyncio.Runner's SIGINT handling is 3.11+")
    release = threading.Event()

    async def main():
        threading.Timer(0.05, signal.pthread_kill,
                        (threading.main_thread().ident, signal.SIGINT)).start()
        try:
            await asyncio.to_thread(release.wait, JOIN_TIMEOUT)
        finally:
            release.set()  # else closing the runner waits for the thread

    try:
        with pytest.raises(KeyboardInterrupt):
            with asyncio.Runner(loop_factory=aio.new_event_loop) as runner:
                runner.run(main())
    finally:
        release.set()


def test_run_coroutine_threadsafe_and_executors(loop):
    """Both directions of the executor path: run_in_executor/to_thread and
    wrap_future into the loop, run_coroutine_threadsafe out of a thread."""
    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    def from_thread():
        return asyncio.run_coroutine_threadsafe(double(21), loop).result(JOIN_TIMEOUT)

    async def main():
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = await loop.run_in_executor(pool, from_thread)
            b = await asyncio.wrap_future(pool.submit(pow, 2, 5))
            with pytest.raises(ZeroDivisionError):
                await loop.run_in_executor(pool, divmod, 1, 0)
        c = [await asyncio.to_thread(int, "7") for _ in range(50)]
        return a, b, c

    assert loop.run_until_complete(main()) == (42, 32, [7] * 50)
    loop.run_until_complete(loop.shutdown_default_executor())


# ---------------------------------------------------------------- executors

def _asyncio_chain_functions():
    """asyncio's Python functions on the executor path, closures included."""
    from asyncio import base_events, futures, selector_events

    closures = [c for c in futures._chain_future.__code__.co_consts
                if hasattr(c, "co_name")]
    return ([base_events.BaseEventLoop.run_in_executor.__code__,
             futures.wrap_future.__code__, futures._chain_future.__code__,
             base_events.BaseEventLoop.call_soon_threadsafe.__code__,
             selector_events.BaseSelectorEventLoop._read_from_self.__code__]
            + closures)


def _executor_python_calls(loop):
    """Round trips through to_thread; which of asyncio's executor-path
    functions ran, in any thread."""
    codes = _asyncio_chain_functions()
    ran = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            ran.add(frame.f_code.co_name)

    async def trips():
        return [await asyncio.to_thread(int, "5") for _ in range(3)]

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        assert loop.run_until_complete(trips()) == [5, 5, 5]
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
        loop.run_until_complete(loop.shutdown_default_executor())
    return ran


@compiled
def test_executor_path_is_compiled():
    """A to_thread round trip on aio.EventLoop runs none of asyncio's Python
    functions of the executor path; on asyncio's loop it runs them all."""
    names = {code.co_name for code in _asyncio_chain_functions()}
    names.discard("_call_check_cancel")  # runs only when the destination is cancelled
    reference = asyncio.SelectorEventLoop()
    loop = aio.EventLoop()
    try:
        assert _executor_python_calls(reference) >= names
        assert _executor_python_calls(loop) == set()
    finally:
        reference.close()
        loop.close()


class RecordingPool(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that keeps the futures it makes."""

    def __init__(self, *args):
        super().__init__(*args)
        self.made = []

    def submit(self, *args, **kwargs):
        self.made.append(super().submit(*args, **kwargs))
        return self.made[-1]


def test_cancelling_the_wrapper_cancels_the_queued_call(loop):
    release = threading.Event()
    with RecordingPool(1) as pool:
        busy = loop.run_in_executor(pool, release.wait, JOIN_TIMEOUT)
        queued = loop.run_in_executor(pool, int)
        queued.cancel()
        # The cancellation reaches the pool's future from a callback: let it
        # run while the pool's one worker is still busy.
        loop.run_until_complete(asyncio.sleep(0))
        release.set()
        assert loop.run_until_complete(busy) is True
        assert queued.cancelled() and pool.made[1].cancelled()


def test_result_arriving_after_close_is_dropped_as_asyncio_does(loop, caplog):
    """The worker finishes after the loop closed: from 3.10 nothing is
    scheduled; 3.9's call_soon_threadsafe raises, and concurrent.futures
    logs it. The same on both loops."""
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        loop.run_in_executor(pool, release.wait, JOIN_TIMEOUT)
        loop.close()
        with caplog.at_level("ERROR", logger="concurrent.futures"):
            release.set()
            pool.shutdown(wait=True)
    logged = [r.getMessage() for r in caplog.records]
    if sys.version_info >= (3, 10):
        assert logged == []
    else:
        assert len(logged) == 1 and "exception calling callback" in logged[0]


def test_replaced_wrap_future_is_called(loop, monkeypatch):
    from asyncio import futures

    seen = []
    original = futures.wrap_future

    def wrap_future(future, *, loop=None):
        seen.append(future)
        return original(future, loop=loop)

    monkeypatch.setattr(futures, "wrap_future", wrap_future)
    assert loop.run_until_complete(loop.run_in_executor(None, int, "3")) == 3
    loop.run_until_complete(loop.shutdown_default_executor())
    assert len(seen) == 1
