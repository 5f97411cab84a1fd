# cython: language_level=3, boundscheck=False, wraparound=False
"""asyncio's loop iteration, compiled, for loops on a compiled fastsel selector.

`run_once` and `process_events` are drop-in replacements for
BaseEventLoop._run_once and BaseSelectorEventLoop._process_events of
CPython 3.9-3.13 (the same steps, in the same order, on the same loop
attributes). The gain is that the wait goes straight to the selector's
buffer of ready fds: no (key, events) tuples, no result list.

Whenever an iteration cannot be sure it would do exactly what asyncio does
(debug mode, a selector that is not a plain compiled fastsel one, a loop
whose time/_process_events/_add_callback were replaced, an interpreter
version whose asyncio was not checked) it runs asyncio's own _run_once.
"""
import heapq
import sys
from asyncio import base_events

from ._selectors_c cimport KeyTable, ReadyEvent, Selector, _timeout_ms

# The asyncio versions whose _run_once/_process_events this module mirrors.
SUPPORTED = (3, 9) <= sys.version_info[:2] <= (3, 13)

cdef bint _PY39 = sys.version_info[:2] == (3, 9)
# 3.13 clamps the timeout with comparisons; before, with min(max(0, t), MAX):
# they differ only for a NaN deadline (3.13: ValueError from select, else 0).
cdef bint _CLAMP_WITH_COMPARISONS = sys.version_info[:2] >= (3, 13)
cdef int EVENT_READ = 1
cdef int EVENT_WRITE = 2

cdef object _heappop = heapq.heappop
cdef object _heapify = heapq.heapify
# Read on every iteration, as asyncio does, so a patched constant is seen.
cdef dict _asyncio_globals = base_events.__dict__
cdef object _asyncio_run_once = base_events.BaseEventLoop._run_once
cdef object _asyncio_time = base_events.BaseEventLoop.time
cdef object _asyncio_add_callback = base_events.BaseEventLoop._add_callback
cdef object _compiled_select = Selector.select


cdef inline object _monotonic():
    # BaseEventLoop.time(), which looks its clock up on every call.
    return _asyncio_globals["time"].monotonic()


cdef inline bint _plain_selector(object selector):
    """A compiled fastsel selector whose select() is the compiled one."""
    if not isinstance(selector, Selector):
        return False
    if type(selector).select is not _compiled_select:
        return False
    own = getattr(selector, "__dict__", None)
    return own is None or "select" not in own


cdef inline bint _plain_loop(object loop):
    """A loop whose helpers this module inlines are asyncio's own."""
    cls = type(loop)
    if (getattr(cls, "time", None) is not _asyncio_time
            or getattr(cls, "_process_events", None) is not process_events
            or getattr(cls, "_add_callback", None) is not _asyncio_add_callback):
        return False
    own = loop.__dict__
    return not ("time" in own or "_process_events" in own
                or "_add_callback" in own)


cdef inline int _add_callback(object loop, object handle) except -1:
    # BaseEventLoop._add_callback; 3.9's also asserts the handle's type.
    if _PY39:
        loop._add_callback(handle)
    elif not handle._cancelled:
        loop._ready.append(handle)
    return 0


cdef int _handle_key(object loop, object key, int mask) except -1:
    """One (key, mask) pair, as BaseSelectorEventLoop._process_events does."""
    fileobj = key[0]
    reader, writer = key[3]
    if mask & EVENT_READ and reader is not None:
        if reader._cancelled:
            loop._remove_reader(fileobj)
        else:
            _add_callback(loop, reader)
    if mask & EVENT_WRITE and writer is not None:
        if writer._cancelled:
            loop._remove_writer(fileobj)
        else:
            _add_callback(loop, writer)
    return 0


def process_events(self, event_list):
    """BaseSelectorEventLoop._process_events: turn (key, mask) pairs into
    ready callbacks, dropping readers and writers that were cancelled."""
    for key, mask in event_list:
        _handle_key(self, key, mask)


cdef int _dispatch_ready(object loop, KeyTable table, ReadyEvent *ready,
                         int nready) except -1:
    """_process_events straight from the selector's wait buffer.

    asyncio looks every key up before handling any (select() builds its list
    first); handling one can unregister an fd, so with several events the
    keys are looked up first here too."""
    cdef int i, fd
    cdef list keys
    if nready == 1:
        fd = ready[0].fd
        key = table.find(fd)
        if key is not None:
            _handle_key(loop, key, ready[0].events & table.mask_of(fd, key))
        return 0
    keys = []
    for i in range(nready):
        fd = ready[i].fd
        key = table.find(fd)
        if key is not None:
            ready[i].events &= table.mask_of(fd, key)
        keys.append(key)
    for i in range(nready):
        key = keys[i]
        if key is not None:
            _handle_key(loop, key, ready[i].events)
    return 0


cdef int _wait_and_dispatch(object loop, Selector selector,
                            int timeout_ms) except -1:
    """selector.select(timeout) followed by loop._process_events(...)."""
    cdef char *buf
    cdef int nready
    selector._check_open()
    buf = selector._take_buffer()
    try:
        nready = selector._wait_retrying(buf, selector._prepare_wait(buf),
                                         timeout_ms)
        _dispatch_ready(loop, selector._table, <ReadyEvent *>buf, nready)
    finally:
        selector._give_back(buf)
    return 0


cdef object _select_timeout(object loop, object ready, object scheduled):
    """The timeout _run_once hands to select(): None blocks."""
    if ready or loop._stopping:
        return 0
    if not scheduled:
        return None
    maximum = _asyncio_globals["MAXIMUM_SELECT_TIMEOUT"]
    timeout = scheduled[0]._when - _monotonic()
    if _CLAMP_WITH_COMPARISONS:
        if timeout > maximum:
            timeout = maximum
        elif timeout < 0:
            timeout = 0
        return timeout
    # min(max(0, timeout), maximum), keeping the builtins' choice of operand.
    if not (timeout > 0):
        timeout = 0
    if maximum < timeout:
        timeout = maximum
    return timeout


cdef int _drop_cancelled_timers(object loop) except -1:
    """The timer-heap housekeeping at the start of _run_once."""
    scheduled = loop._scheduled
    sched_count = len(scheduled)
    if (sched_count > _asyncio_globals["_MIN_SCHEDULED_TIMER_HANDLES"] and
            loop._timer_cancelled_count / sched_count >
            _asyncio_globals["_MIN_CANCELLED_TIMER_HANDLES_FRACTION"]):
        # Too many cancelled timers: rebuild the heap without them.
        new_scheduled = []
        for handle in scheduled:
            if handle._cancelled:
                handle._scheduled = False
            else:
                new_scheduled.append(handle)
        _heapify(new_scheduled)
        loop._scheduled = new_scheduled
        loop._timer_cancelled_count = 0
    else:
        # Pop cancelled timers from the head of the heap.
        while scheduled and scheduled[0]._cancelled:
            loop._timer_cancelled_count -= 1
            handle = _heappop(scheduled)
            handle._scheduled = False
    return 0


cdef int _run_debug(object loop, object handle) except -1:
    """Run one handle as debug mode does: time it, warn when slow."""
    try:
        loop._current_handle = handle
        t0 = loop.time()
        handle._run()
        dt = loop.time() - t0
        if dt >= loop.slow_callback_duration:
            _asyncio_globals["logger"].warning(
                "Executing %s took %.3f seconds",
                _asyncio_globals["_format_handle"](handle), dt)
    finally:
        loop._current_handle = None
    return 0


def run_once(self):
    """BaseEventLoop._run_once: one iteration of the loop.

    Drops cancelled timers, waits for I/O (not at all when callbacks are
    ready), queues the callbacks of ready fds and due timers, then runs the
    callbacks that were ready when the iteration started."""
    cdef Py_ssize_t i, ntodo
    selector = self._selector
    if (not SUPPORTED or self._debug or not _plain_selector(selector)
            or not _plain_loop(self)):
        return _asyncio_run_once(self)

    _drop_cancelled_timers(self)
    ready = self._ready
    timeout = _select_timeout(self, ready, self._scheduled)
    _wait_and_dispatch(self, <Selector>selector, _timeout_ms(timeout))

    # Timers that are due move to the ready queue.
    scheduled = self._scheduled
    end_time = _monotonic() + self._clock_resolution
    while scheduled:
        handle = scheduled[0]
        if handle._when >= end_time:
            break
        handle = _heappop(scheduled)
        handle._scheduled = False
        ready.append(handle)

    # Run what is ready now; callbacks queued meanwhile wait for the next
    # iteration (after another poll for I/O).
    ntodo = len(ready)
    for i in range(ntodo):
        handle = ready.popleft()
        if handle._cancelled:
            continue
        if self._debug:
            _run_debug(self, handle)
        else:
            handle._run()
    handle = None
