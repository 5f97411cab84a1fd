"""The pure-Python twin of the compiled callback loop (fastsel/_loop_c.pyx):
the same API and the same iteration, asyncio's _run_once."""
import collections
import contextvars
import heapq
import math
import os
import sys
import threading
import time

from ._loop_common import (
    CANCELLED_FRACTION_TO_COMPACT, FORKED_LOOP_MESSAGE, MAX_WAIT_SECONDS, MIN_TIMERS_TO_COMPACT,
    call_exception_handler, callback_repr, check_callback, check_handler,
    default_exception_handler, unwatch, watch)

_READ = 1
_WRITE = 2
# Coalescing wake-ups relies on the GIL ordering the flag and the queue;
# without it (free-threaded builds) every call writes.
_COALESCE_WAKEUPS = getattr(sys, "_is_gil_enabled", lambda: True)()


class Handle:
    """A callback scheduled on a Loop; cancel() stops it from running."""

    __slots__ = ("_callback", "_args", "_loop", "_context", "_cancelled", "__weakref__")

    def __init__(self, callback, args, loop, context=None):
        self._callback = callback
        self._args = args
        self._loop = loop
        self._context = contextvars.copy_context() if context is None else context
        self._cancelled = False

    def cancel(self):
        """Do not run the callback; drop it and its arguments at once."""
        if not self._cancelled:
            self._cancelled = True
            self._callback = None
            self._args = None

    def cancelled(self):
        return self._cancelled

    def __repr__(self):
        state = "cancelled" if self._cancelled else callback_repr(self._callback, self._args)
        return f"<{type(self).__name__} {state}>"

    def _run(self):
        try:
            self._context.run(self._callback, *self._args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                "message": f"Exception in callback {callback_repr(self._callback, self._args)}",
                "exception": exc,
                "handle": self,
            })


class TimerHandle(Handle):
    """A Handle that runs at a point in time of the loop's clock."""

    __slots__ = ("_when", "_seq", "_scheduled")

    def __init__(self, when, seq, callback, args, loop, context=None):
        super().__init__(callback, args, loop, context)
        self._when = when
        self._seq = seq
        self._scheduled = True

    def when(self):
        return self._when

    def __lt__(self, other):
        return (self._when, self._seq) < (other._when, other._seq)

    def cancel(self):
        if not self._cancelled:
            super().cancel()
            if self._scheduled:
                self._loop._timer_cancelled()


class Loop:
    """The core of an event loop for callback-style servers (pure Python).

    See the compiled Loop for the API; both behave the same."""

    def __init__(self, selector=None):
        if selector is None:
            from ._impl import load
            selector = load("python").DefaultSelector()
        self._selector = selector
        self._ready = collections.deque()
        self._timers = []
        self._cancelled_timers = 0
        self._timer_seq = 0
        self._stopping = False
        self._closed = False
        self._running_thread = None
        self._owner_pid = os.getpid()
        self._exception_handler = None
        self._clock_resolution = time.get_clock_info("monotonic").resolution
        self._wakeup_pending = False
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)
        self.add_reader(self._wakeup_read, self._drain_wakeup)

    # -- state

    def time(self):
        """The loop's clock: time.monotonic()."""
        return time.monotonic()

    def is_running(self):
        return self._running_thread is not None

    def is_closed(self):
        return self._closed

    def _check_closed(self):
        if self._closed:
            raise RuntimeError("Event loop is closed")

    # -- callbacks

    def call_soon(self, callback, *args, context=None):
        """Run callback(*args) on the next iteration; return its Handle."""
        self._check_closed()
        check_callback(callback, "call_soon")
        handle = Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(self, callback, *args, context=None):
        """call_soon() from any thread: also wakes a loop blocked in the kernel."""
        self._check_closed()
        check_callback(callback, "call_soon_threadsafe")
        handle = Handle(callback, args, self, context)
        self._ready.append(handle)
        # Only when no wake-up is pending: the argument is in the compiled
        # Loop's (fastsel/_loop_c.pyx).
        if not self._wakeup_pending:
            self._wakeup_pending = _COALESCE_WAKEUPS
            try:
                os.write(self._wakeup_write, b"\0")
            except (BlockingIOError, InterruptedError):
                pass  # the pipe is full: the loop will wake anyway
        return handle

    def _drain_wakeup(self):
        try:
            while os.read(self._wakeup_read, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def call_at(self, when, callback, *args, context=None):
        """Run callback(*args) at loop time `when`; return its TimerHandle."""
        self._check_closed()
        check_callback(callback, "call_at")
        timer = TimerHandle(float(when), self._timer_seq, callback, args, self, context)
        self._timer_seq += 1
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay, callback, *args, context=None):
        """Run callback(*args) after `delay` seconds; return its TimerHandle."""
        if delay is None:
            raise TypeError("delay must not be None")
        return self.call_at(time.monotonic() + delay, callback, *args, context=context)

    def _should_compact(self):
        return (len(self._timers) > MIN_TIMERS_TO_COMPACT and self._cancelled_timers
                > CANCELLED_FRACTION_TO_COMPACT * len(self._timers))

    def _timer_cancelled(self):
        self._cancelled_timers += 1
        if self._should_compact():
            self._compact_timers()

    def _compact_timers(self):
        # In place: a traceback kept from a callback's exception holds a frame
        # of _run_once, whose local still points at this list.
        timers = self._timers
        for timer in timers:
            if timer._cancelled:
                timer._scheduled = False
        timers[:] = [timer for timer in timers if not timer._cancelled]
        heapq.heapify(timers)
        self._cancelled_timers = 0

    # -- readers and writers

    def _add_handler(self, which, fileobj, callback, args):
        self._check_closed()
        check_callback(callback, "add_reader" if which == _READ else "add_writer")
        old = watch(self._selector, which, fileobj, Handle(callback, args, self))
        if old is not None:
            old.cancel()

    def _remove_handler(self, which, fileobj):
        old = None if self._closed else unwatch(self._selector, which, fileobj)
        if old is None:
            return False
        old.cancel()
        return True

    def add_reader(self, fileobj, callback, *args):
        """Call callback(*args) whenever fileobj is readable."""
        self._add_handler(_READ, fileobj, callback, args)

    def add_writer(self, fileobj, callback, *args):
        """Call callback(*args) whenever fileobj is writable."""
        self._add_handler(_WRITE, fileobj, callback, args)

    def remove_reader(self, fileobj):
        """Stop watching fileobj for reading; return whether it was watched."""
        return self._remove_handler(_READ, fileobj)

    def remove_writer(self, fileobj):
        """Stop watching fileobj for writing; return whether it was watched."""
        return self._remove_handler(_WRITE, fileobj)

    # -- errors

    def set_exception_handler(self, handler):
        """handler(loop, context) replaces the default, logging one; None
        restores it."""
        check_handler(handler)
        self._exception_handler = handler

    def get_exception_handler(self):
        return self._exception_handler

    def default_exception_handler(self, context):
        default_exception_handler(self, context)

    def call_exception_handler(self, context):
        call_exception_handler(self, self._exception_handler, context)

    # -- running

    def _run_once(self):
        timers = self._timers
        if self._should_compact():
            self._compact_timers()
        else:
            while timers and timers[0]._cancelled:
                self._cancelled_timers -= 1
                heapq.heappop(timers)._scheduled = False

        if not self._ready:
            self._wakeup_pending = False  # the next wait may block
        if self._ready or self._stopping:
            timeout = 0
        elif timers:
            delay = min(max(timers[0]._when - time.monotonic(), 0.0), MAX_WAIT_SECONDS)
            # In whole milliseconds, rounded up, as the compiled loop waits.
            timeout = math.ceil(delay * 1e3) / 1e3
        else:
            timeout = None
        ready = self._ready
        for key, events in self._selector.select(timeout):
            reader, writer = key.data
            if events & _READ and reader is not None and not reader._cancelled:
                ready.append(reader)
            if events & _WRITE and writer is not None and not writer._cancelled:
                ready.append(writer)

        end_time = time.monotonic() + self._clock_resolution
        while timers and timers[0]._when < end_time:
            timer = heapq.heappop(timers)
            timer._scheduled = False
            ready.append(timer)

        # Run only what is queued now: what these callbacks schedule waits
        # for the next iteration. On KeyboardInterrupt or SystemExit the
        # handles not yet run stay queued, at the front.
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()

    def run_forever(self):
        """Run until stop() is called."""
        self._check_closed()
        if self._running_thread is not None:
            raise RuntimeError("This event loop is already running")
        if self._owner_pid != os.getpid():
            raise RuntimeError(FORKED_LOOP_MESSAGE)
        self._running_thread = threading.get_ident()
        try:
            while True:
                self._run_once()
                if self._stopping:
                    break
        finally:
            self._stopping = False
            self._running_thread = None

    def stop(self):
        """Stop run_forever() after the current iteration (a loop stopped
        before it runs still polls I/O once and runs what that queues)."""
        self._stopping = True

    def close(self):
        """Drop every pending callback and close the selector. A running loop
        cannot be closed; closing twice does nothing."""
        if self._running_thread is not None:
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        self._closed = True
        self._ready.clear()
        self._timers.clear()    # in place, as _compact_timers
        self._cancelled_timers = 0
        self._selector.close()
        os.close(self._wakeup_read)
        os.close(self._wakeup_write)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
