# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled callback loop: asyncio's low-level loop API (readers and
writers, call_soon, timers, run_forever/stop) for callback-style servers.

One iteration, as asyncio's _run_once: drop cancelled timers, wait for I/O
(no wait when callbacks are ready), queue the ready readers and writers and
the expired timers, then run what was queued. With a compiled selector the
wait and the event scan read the selector's own buffer and table directly.
"""
import os
import threading
import time

cimport cython
from cpython.contextvars cimport PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit
from libc.errno cimport EINTR, errno
from libc.math cimport ceil
from posix.unistd cimport read, write

from .includes.debug cimport (
    FASTSEL_COUNT, FASTSEL_COUNTER, FASTSEL_DEBUG_BUILD, FASTSEL_HANDLES_CREATED)
from ._selectors_c cimport KEY_DATA, KeyTable, ReadyEvent, Selector, key_field

from ._loop_common import (
    CANCELLED_FRACTION_TO_COMPACT, FORKED_LOOP_MESSAGE, MAX_WAIT_SECONDS, MIN_TIMERS_TO_COMPACT,
    call_exception_handler, callback_repr, check_callback, check_handler,
    default_exception_handler, unwatch, watch)

cdef enum:
    _READ = 1
    _WRITE = 2

_monotonic = time.monotonic
_get_ident = threading.get_ident


# ---------------------------------------------------------------- handles

cdef inline Handle _init_handle(Handle handle, object callback, tuple args, Loop loop,
                               object context):
    handle._callback = callback
    handle._args = args
    handle._loop = loop
    handle._context = PyContext_CopyCurrent() if context is None else context
    FASTSEL_COUNT(FASTSEL_HANDLES_CREATED, 1)
    return handle


cdef Handle _new_handle(object callback, tuple args, Loop loop, object context):
    # Handle.__new__ with no arguments goes straight to the type's tp_new:
    # no argument parsing on the call_soon path.
    return _init_handle(Handle.__new__(Handle), callback, args, loop, context)


@cython.freelist(256)
cdef class Handle:
    """A callback scheduled on a Loop; cancel() stops it from running.

    Handles are made by the loop, not by user code."""

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

    cdef int _run(self) except -1:
        """Run the callback in its context; errors go to the exception
        handler, except KeyboardInterrupt and SystemExit, which propagate."""
        context = self._context
        PyContext_Enter(context)
        try:
            self._callback(*self._args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                "message": f"Exception in callback {callback_repr(self._callback, self._args)}",
                "exception": exc,
                "handle": self,
            })
        finally:
            PyContext_Exit(context)
        return 0


cdef class TimerHandle(Handle):
    """A Handle that runs at a point in time of the loop's clock."""

    def when(self):
        return self._when

    def cancel(self):
        if not self._cancelled:
            Handle.cancel(self)
            if self._scheduled:
                self._loop._timer_cancelled(self)


# ---------------------------------------------------------------- timer heap
# A binary min-heap on a list, ordered by (when, seq), with C comparisons.

cdef inline bint _earlier(TimerHandle a, TimerHandle b):
    return a._when < b._when or (a._when == b._when and a._seq < b._seq)


cdef void _sift_up(list heap, Py_ssize_t pos):
    cdef TimerHandle item = heap[pos]
    cdef Py_ssize_t parent
    while pos > 0:
        parent = (pos - 1) >> 1
        if not _earlier(item, heap[parent]):
            break
        heap[pos] = heap[parent]
        pos = parent
    heap[pos] = item


cdef void _sift_down(list heap, Py_ssize_t pos):
    cdef Py_ssize_t size = len(heap)
    cdef TimerHandle item = heap[pos]
    cdef Py_ssize_t child
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _earlier(heap[child + 1], heap[child]):
            child += 1
        if not _earlier(heap[child], item):
            break
        heap[pos] = heap[child]
        pos = child
    heap[pos] = item


cdef TimerHandle _heap_pop(list heap):
    cdef TimerHandle first = heap[0]
    last = heap.pop()
    if heap:
        heap[0] = last
        _sift_down(heap, 0)
    return first


# ---------------------------------------------------------------- loop

cdef class Loop:
    """The core of an event loop for callback-style servers.

    The names and semantics follow asyncio's low-level loop API where they
    overlap: add_reader/add_writer/remove_reader/remove_writer, call_soon,
    call_later, call_at, call_soon_threadsafe, time, run_forever, stop,
    close, is_running, is_closed, and the exception handler calls."""

    def __cinit__(self, *args, **kwargs):
        self._wakeup_read = -1
        self._wakeup_write = -1

    def __init__(self, selector=None):
        if selector is None:
            from ._impl import load
            selector = load("c").DefaultSelector()
        self._selector = selector
        self._compiled = selector if isinstance(selector, Selector) else None
        self._ready = []
        self._timers = []
        self._cancelled_timers = 0
        self._timer_seq = 0
        self._stopping = False
        self._closed = False
        self._running_thread = None
        self._owner_pid = os.getpid()
        self._exception_handler = None
        self._clock_resolution = time.get_clock_info("monotonic").resolution
        # The self-pipe that call_soon_threadsafe() writes to wake the wait.
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)
        self.add_reader(self._wakeup_read, self._drain_wakeup)

    def __dealloc__(self):
        if self._wakeup_read >= 0:
            os.close(self._wakeup_read)
            os.close(self._wakeup_write)

    # -- state

    def time(self):
        """The loop's clock: time.monotonic()."""
        return _monotonic()

    def is_running(self):
        return self._running_thread is not None

    def is_closed(self):
        return self._closed

    cdef int _check_closed(self) except -1:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        return 0

    # -- callbacks

    cdef Handle _call_soon(self, object callback, tuple args, object context):
        handle = _new_handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_soon(self, callback, *args, context=None):
        """Run callback(*args) on the next iteration; return its Handle."""
        self._check_closed()
        if not callable(callback):
            check_callback(callback, "call_soon")
        return self._call_soon(callback, args, context)

    # Wake-ups are coalesced: call_soon_threadsafe() writes to the self-pipe
    # only when no wake-up is pending since the loop last found nothing ready,
    # and _run_once clears the flag then, before it computes its timeout.
    # No wake-up is lost: the loop blocks only in an iteration where it
    # cleared the flag (C) and then found _ready empty (R). A call appends
    # (A), then reads the flag (F). If A < R, the loop sees the handle and
    # does not block; otherwise C < R < A < F, and at F the flag is clear (this
    # call writes) or was set after C by another call, which writes after
    # setting it. Either way a byte is written after C, and only
    # _drain_wakeup, a callback run after a wait, reads the pipe: the first
    # wait after C, the one that might block, returns.

    def call_soon_threadsafe(self, callback, *args, context=None):
        """call_soon() from any thread: also wakes a loop blocked in the kernel."""
        self._check_closed()
        if not callable(callback):
            check_callback(callback, "call_soon_threadsafe")
        handle = self._call_soon(callback, args, context)
        if not self._wakeup_pending:
            self._wakeup_pending = True
            # With the GIL kept: a non-blocking write never waits, and
            # close() cannot close the fd in the middle.
            while write(self._wakeup_write, b"\0", 1) < 0 and errno == EINTR:
                pass  # any other error: the pipe is full, the loop will wake
        return handle

    def _drain_wakeup(self):
        cdef char buf[4096]
        cdef ssize_t n
        while True:
            n = read(self._wakeup_read, buf, sizeof(buf))
            if n <= 0 and not (n < 0 and errno == EINTR):
                return

    def call_at(self, when, callback, *args, context=None):
        """Run callback(*args) at loop time `when`; return its TimerHandle."""
        self._check_closed()
        if not callable(callback):
            check_callback(callback, "call_at")
        cdef TimerHandle timer = TimerHandle.__new__(TimerHandle)
        _init_handle(timer, callback, args, self, context)
        timer._when = when
        timer._seq = self._timer_seq
        self._timer_seq += 1
        timer._scheduled = True
        self._timers.append(timer)
        _sift_up(self._timers, len(self._timers) - 1)
        return timer

    def call_later(self, delay, callback, *args, context=None):
        """Run callback(*args) after `delay` seconds; return its TimerHandle."""
        if delay is None:
            raise TypeError("delay must not be None")
        return self.call_at(_monotonic() + delay, callback, *args, context=context)

    cdef int _timer_cancelled(self, TimerHandle timer) except -1:
        # Cancelled timers stay in the heap until they reach its top or the
        # heap is compacted; compacting here, not only when the loop runs,
        # keeps memory bounded even while the loop is not iterating.
        self._cancelled_timers += 1
        if (len(self._timers) > MIN_TIMERS_TO_COMPACT and self._cancelled_timers
                > CANCELLED_FRACTION_TO_COMPACT * len(self._timers)):
            self._compact_timers()
        return 0

    cdef int _compact_timers(self) except -1:
        cdef TimerHandle timer
        cdef list kept = []
        cdef Py_ssize_t i
        for timer in self._timers:
            if timer._cancelled:
                timer._scheduled = False
            else:
                kept.append(timer)
        for i in range(len(kept) // 2 - 1, -1, -1):
            _sift_down(kept, i)
        self._timers = kept
        self._cancelled_timers = 0
        return 0

    # -- readers and writers

    def _add_handler(self, int which, fileobj, callback, tuple args):
        self._check_closed()
        if not callable(callback):
            check_callback(callback, "add_reader" if which == _READ else "add_writer")
        old = watch(self._selector, which, fileobj, _new_handle(callback, args, self, None))
        if old is not None:
            old.cancel()

    def _remove_handler(self, int which, fileobj):
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

    cdef int _poll_io(self, int timeout_ms) except -1:
        """Wait for I/O and queue the handles of what is ready."""
        cdef Selector selector = self._compiled
        cdef KeyTable table
        cdef char *buf
        cdef ReadyEvent *ready
        cdef int nready, i, fd, events
        cdef Handle handle
        cdef list queue = self._ready
        if selector is None:
            timeout = None if timeout_ms < 0 else timeout_ms / 1000.0
            for key, events in self._selector.select(timeout):
                reader, writer = key.data
                if events & _READ and reader is not None and not (<Handle>reader)._cancelled:
                    queue.append(reader)
                if events & _WRITE and writer is not None and not (<Handle>writer)._cancelled:
                    queue.append(writer)
            return 0
        table = selector._table
        selector._check_open()
        buf = selector._take_buffer()
        try:
            nready = selector._wait_retrying(buf, selector._prepare_wait(buf), timeout_ms)
            ready = <ReadyEvent *>buf
            for i in range(nready):
                fd = ready[i].fd
                key = table.find(fd)
                if key is None:
                    continue
                events = ready[i].events & table.mask_of(fd, key)
                reader, writer = key_field(key, KEY_DATA)
                if events & _READ and reader is not None:
                    handle = reader
                    if not handle._cancelled:
                        queue.append(handle)
                if events & _WRITE and writer is not None:
                    handle = writer
                    if not handle._cancelled:
                        queue.append(handle)
        finally:
            selector._give_back(buf)
        return 0

    cdef int _run_once(self) except -1:
        cdef list timers = self._timers
        cdef TimerHandle timer
        cdef Handle handle
        cdef int timeout_ms
        cdef double delay, end_time
        cdef Py_ssize_t i, n

        if (len(timers) > MIN_TIMERS_TO_COMPACT and self._cancelled_timers
                > CANCELLED_FRACTION_TO_COMPACT * len(timers)):
            self._compact_timers()
            timers = self._timers
        else:
            while timers and (<TimerHandle>timers[0])._cancelled:
                self._cancelled_timers -= 1
                _heap_pop(timers)._scheduled = False

        if not self._ready:
            self._wakeup_pending = False  # the next wait may block (see call_soon_threadsafe)
        if self._ready or self._stopping:
            timeout_ms = 0
        elif timers:
            delay = (<TimerHandle>timers[0])._when - _monotonic()
            delay = min(max(delay, 0.0), MAX_WAIT_SECONDS)
            timeout_ms = <int>ceil(delay * 1e3)
        else:
            timeout_ms = -1
        self._poll_io(timeout_ms)

        end_time = _monotonic() + self._clock_resolution
        while timers:
            timer = timers[0]
            if timer._when >= end_time:
                break
            _heap_pop(timers)
            timer._scheduled = False
            self._ready.append(timer)

        # Run what is queued now; what these callbacks schedule waits for the
        # next iteration. On KeyboardInterrupt or SystemExit the handles not
        # yet run go back to the front of the queue.
        ready = self._ready
        self._ready = []
        n = len(ready)
        for i in range(n):
            handle = ready[i]
            if handle._cancelled:
                continue
            try:
                handle._run()
            except BaseException:
                self._ready[0:0] = ready[i + 1:]
                raise
        return 0

    def run_forever(self):
        """Run until stop() is called."""
        self._check_closed()
        if self._running_thread is not None:
            raise RuntimeError("This event loop is already running")
        if self._owner_pid != os.getpid():
            raise RuntimeError(FORKED_LOOP_MESSAGE)
        self._running_thread = _get_ident()
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
        self._ready = []
        self._timers = []
        self._cancelled_timers = 0
        self._selector.close()
        os.close(self._wakeup_read)
        os.close(self._wakeup_write)
        self._wakeup_read = self._wakeup_write = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _debug_counters():
    """The debug build's internal counters (handles created and freed); None
    in a release build.

    Freed handles are the created ones no longer alive, found by a scan of
    the objects the garbage collector tracks (handles are tracked while alive,
    untracked in the free list): a __dealloc__ that counted would cost every
    handle of a release build a few nanoseconds."""
    if not FASTSEL_DEBUG_BUILD:
        return None
    import gc
    created = FASTSEL_COUNTER(FASTSEL_HANDLES_CREATED)
    alive = sum(1 for o in gc.get_objects() if isinstance(o, Handle))
    return {"handles_created": created, "handles_freed": created - alive}
