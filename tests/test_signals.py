"""Signals during blocking waits (PEP 475): a storm of non-raising SIGALRMs
neither shortens nor stretches a timeout (the remaining time is recomputed
on every retry), a raising handler's exception comes out at once, and
Ctrl-C interrupts a wait blocked in the kernel."""
import signal
import threading
import time

import pytest

from reliability_helpers import READ, SocketPairs, selector_class, wait_until_blocked

TIMEOUT = 1.5
# A wait may end a little early by clock granularity; "not much longer" is
# generous for a loaded machine, but far below what restarting the full
# timeout on each signal would give (the storm lasts STORM_SIGNALS * period).
EARLY_TOLERANCE = 0.02
LATE_TOLERANCE = 1.0
STORM_PERIOD, STORM_SIGNALS = 0.02, 150


@pytest.fixture
def storm():
    """SIGALRM every STORM_PERIOD seconds, STORM_SIGNALS times, with a
    handler that only counts; the counts are returned."""
    received = []

    def handler(signum, frame):
        received.append(signum)
        if len(received) >= STORM_SIGNALS:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def start():
        signal.setitimer(signal.ITIMER_REAL, STORM_PERIOD, STORM_PERIOD)
        return received

    old = signal.signal(signal.SIGALRM, handler)
    yield start
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(params=["EpollSelector", "PollSelector"])
def selector(request, impl):
    sel = selector_class(impl, request.param)()
    pairs = SocketPairs()
    sel.register(pairs()[0], READ, lambda f, ev: pytest.fail("never ready"))
    yield sel
    sel.close()
    pairs.close()


def assert_honoured(elapsed, timeout, received):
    assert received, "no signal arrived during the wait"
    assert timeout - EARLY_TOLERANCE <= elapsed < timeout + LATE_TOLERANCE, elapsed


@pytest.mark.parametrize("method", ["select", "dispatch"])
def test_timeout_honoured_under_a_signal_storm(selector, storm, method):
    received = storm()
    start = time.monotonic()
    result = getattr(selector, method)(TIMEOUT)
    elapsed = time.monotonic() - start
    assert result in ([], 0)
    assert_honoured(elapsed, TIMEOUT, received)


def test_loop_timer_honoured_under_a_signal_storm(impl, storm):
    with impl.Loop() as loop:
        fired = []
        start = loop.time()
        loop.call_later(TIMEOUT, lambda: (fired.append(loop.time()), loop.stop()))
        received = storm()
        loop.run_forever()
        assert_honoured(fired[0] - start, TIMEOUT, received)


class Raised(Exception):
    pass


@pytest.fixture
def raising_alarm():
    """A SIGALRM handler that raises, armed to fire once shortly."""
    def handler(signum, frame):
        raise Raised()

    old = signal.signal(signal.SIGALRM, handler)
    yield lambda: signal.setitimer(signal.ITIMER_REAL, 0.05)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("method", ["select", "dispatch"])
def test_raising_handler_interrupts_a_wait(selector, raising_alarm, method):
    raising_alarm()
    start = time.monotonic()
    with pytest.raises(Raised):
        getattr(selector, method)(30)
    assert time.monotonic() - start < 10
    assert len(selector.get_map()) == 1        # still usable
    assert getattr(selector, method)(0) in ([], 0)


def test_raising_handler_interrupts_run_forever(impl, raising_alarm):
    with impl.Loop() as loop:
        raising_alarm()
        with pytest.raises(Raised):
            loop.run_forever()
        assert not loop.is_running()
        loop.call_soon(loop.stop)
        loop.run_forever()                     # still usable


@pytest.fixture
def ctrl_c():
    """Sends SIGINT to the main thread, from another thread, once the main
    thread is blocked in the kernel; the default handler raises
    KeyboardInterrupt."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread()
    threads = []

    def arm():
        def send():
            wait_until_blocked(main.native_id)
            signal.pthread_kill(main.ident, signal.SIGINT)
        thread = threading.Thread(target=send, daemon=True)
        threads.append(thread)
        thread.start()

    yield arm
    for thread in threads:
        thread.join(10)
    signal.signal(signal.SIGINT, old)


@pytest.mark.parametrize("method", ["select", "dispatch"])
def test_ctrl_c_interrupts_a_blocking_wait(selector, ctrl_c, method):
    ctrl_c()
    with pytest.raises(KeyboardInterrupt):
        getattr(selector, method)(None)


def test_ctrl_c_interrupts_run_forever(impl, ctrl_c):
    with impl.Loop() as loop:
        ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            loop.run_forever()
        assert not loop.is_running()


def test_keyboard_interrupt_raised_by_a_timer_signal(impl):
    """signal.raise_signal(SIGINT) from a SIGALRM handler: the interrupt
    comes out of run_forever() like a real Ctrl-C."""
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_alrm = signal.signal(signal.SIGALRM, lambda s, f: signal.raise_signal(signal.SIGINT))
    try:
        with impl.Loop() as loop:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            with pytest.raises(KeyboardInterrupt):
                loop.run_forever()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alrm)
        signal.signal(signal.SIGINT, old_int)
