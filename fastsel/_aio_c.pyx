# cython: language_level=3, boundscheck=False, wraparound=False
"""asyncio's loop iteration, compiled, for loops on a compiled fastsel selector.

`run_once` and `process_events` are drop-in replacements for
BaseEventLoop._run_once and BaseSelectorEventLoop._process_events of
CPython 3.9-3.13 (the same steps, in the same order, on the same loop
attributes). The gain is that the wait goes straight to the selector's
buffer of ready fds: no (key, events) tuples, no result list.

Whenever an iteration cannot be sure it would do exactly what asyncio does
(debug mode, a selector that is not a plain compiled fastsel one, a loop
class whose time/_process_events/_add_callback differ from asyncio's, an
interpreter version whose asyncio was not checked) it runs asyncio's own
_run_once. Two things it does not look for on every iteration, to stay
cheap: those methods replaced on a loop *instance* (a subclass is the way to
change them), and asyncio's private tuning constants patched after import.
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
cdef object _time = base_events.time
cdef object _asyncio_run_once = base_events.BaseEventLoop._run_once
cdef object _asyncio_time = base_events.BaseEventLoop.time
cdef object _asyncio_add_callback = base_events.BaseEventLoop._add_callback
cdef object _compiled_select = Selector.select
cdef object _logger = base_events.logger
cdef object _format_handle = base_events._format_handle
cdef object _MAXIMUM_SELECT_TIMEOUT = base_events.MAXIMUM_SELECT_TIMEOUT
cdef object _MIN_SCHEDULED_TIMER_HANDLES = base_events._MIN_SCHEDULED_TIMER_HANDLES
cdef object _MIN_CANCELLED_FRACTION = base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION


cdef inline object _monotonic():
    # BaseEventLoop.time(), which looks its clock up on every call.
    return _time.monotonic()


cdef extern from "Python.h":
    ctypedef struct TypeVersion "PyTypeObject":
        unsigned long tp_flags
        unsigned int tp_version_tag
    unsigned long Py_TPFLAGS_VALID_VERSION_TAG
    object PyObject_GenericGetDict(object o, void *context)
    bint PyDict_Contains_ "PyDict_Contains"(object d, object key) except -1


cdef class _TypeCheck:
    """Remembers one type that passed a check, with the version tag it had:
    CPython gives a type a new tag whenever it or a base class changes, so
    a type that was modified since is checked again."""
    cdef object checked_type
    cdef unsigned int tag

    cdef inline bint remembers(self, object cls):
        cdef TypeVersion *t = <TypeVersion *>cls
        return (cls is self.checked_type
                and t.tp_flags & Py_TPFLAGS_VALID_VERSION_TAG
                and t.tp_version_tag == self.tag)

    cdef inline void remember(self, object cls):
        cdef TypeVersion *t = <TypeVersion *>cls
        if t.tp_flags & Py_TPFLAGS_VALID_VERSION_TAG:
            self.checked_type = cls
            self.tag = t.tp_version_tag


cdef _TypeCheck _selector_type_ok = _TypeCheck()
cdef _TypeCheck _loop_type_ok = _TypeCheck()


cdef bint _plain_selector(object selector) except -1:
    """A compiled fastsel selector whose select() is the compiled one."""
    cls = type(selector)
    if not _selector_type_ok.remembers(cls):
        if not isinstance(selector, Selector) or cls.select is not _compiled_select:
            return False
        _selector_type_ok.remember(cls)
    return not PyDict_Contains_(PyObject_GenericGetDict(selector, NULL), "select")


cdef bint _plain_loop(object loop) except -1:
    """A loop whose class has asyncio's own versions of the helpers that
    this module inlines."""
    cls = type(loop)
    if _loop_type_ok.remembers(cls):
        return True
    if (getattr(cls, "time", None) is not _asyncio_time
            or getattr(cls, "_process_events", None) is not process_events
            or getattr(cls, "_add_callback", None) is not _asyncio_add_callback):
        return False
    _loop_type_ok.remember(cls)
    return True


cdef inline int _add_callback(object loop, object ready, object handle,
                              bint inline) except -1:
    # BaseEventLoop._add_callback, inlined when the loop's class has that one
    # (_plain_loop); 3.9's also asserts the handle's type.
    if _PY39 or not inline:
        loop._add_callback(handle)
    elif not handle._cancelled:
        ready.append(handle)
    return 0


cdef int _handle_key(object loop, object ready, object key, int mask,
                     bint inline=True) except -1:
    """One (key, mask) pair, as BaseSelectorEventLoop._process_events does."""
    fileobj = key[0]
    reader, writer = key[3]
    if mask & EVENT_READ and reader is not None:
        if reader._cancelled:
            loop._remove_reader(fileobj)
        else:
            _add_callback(loop, ready, reader, inline)
    if mask & EVENT_WRITE and writer is not None:
        if writer._cancelled:
            loop._remove_writer(fileobj)
        else:
            _add_callback(loop, ready, writer, inline)
    return 0


def process_events(self, event_list):
    """BaseSelectorEventLoop._process_events: turn (key, mask) pairs into
    ready callbacks, dropping readers and writers that were cancelled."""
    cdef bint inline = _plain_loop(self)
    ready = self._ready
    for key, mask in event_list:
        _handle_key(self, ready, key, mask, inline)


cdef int _dispatch_ready(object loop, object ready_queue, KeyTable table,
                         ReadyEvent *ready, int nready) except -1:
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
            _handle_key(loop, ready_queue, key,
                        ready[0].events & table.mask_of(fd, key))
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
            _handle_key(loop, ready_queue, key, ready[i].events)
    return 0


cdef int _wait_and_dispatch(object loop, object ready_queue, Selector selector,
                            int timeout_ms) except -1:
    """selector.select(timeout) followed by loop._process_events(...)."""
    cdef char *buf
    cdef int nready
    selector._check_open()
    buf = selector._take_buffer()
    try:
        nready = selector._wait_retrying(buf, selector._prepare_wait(buf),
                                         timeout_ms)
        _dispatch_ready(loop, ready_queue, selector._table, <ReadyEvent *>buf,
                        nready)
    finally:
        selector._give_back(buf)
    return 0


cdef object _select_timeout(object loop, object ready, object scheduled):
    """The timeout _run_once hands to select(): None blocks."""
    if ready or loop._stopping:
        return 0
    if not scheduled:
        return None
    maximum = _MAXIMUM_SELECT_TIMEOUT
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


cdef int _drop_cancelled_timers(object loop, object scheduled) except -1:
    """The timer-heap housekeeping at the start of _run_once."""
    sched_count = len(scheduled)
    if (sched_count > _MIN_SCHEDULED_TIMER_HANDLES and
            loop._timer_cancelled_count / sched_count > _MIN_CANCELLED_FRACTION):
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
            _logger.warning("Executing %s took %.3f seconds",
                            _format_handle(handle), dt)
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
    if (not SUPPORTED or self._debug or not _plain_loop(self)
            or not _plain_selector(selector)):
        return _asyncio_run_once(self)

    _drop_cancelled_timers(self, self._scheduled)
    # Read after the housekeeping, which may have replaced the heap; nothing
    # else replaces it, and _ready is never replaced.
    scheduled = self._scheduled
    ready = self._ready
    timeout = _select_timeout(self, ready, scheduled)
    _wait_and_dispatch(self, ready, <Selector>selector, _timeout_ms(timeout))

    # Timers that are due move to the ready queue.
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



# ------------------------------------------------ the socket transport's read

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize


def read_ready__data_received(self):
    """_SelectorSocketTransport._read_ready__data_received (3.9-3.13 alike),
    reading with recv_into into the loop's buffer instead of recv(): the
    protocol gets bytes of what arrived, as with recv()."""
    cdef Py_ssize_t nbytes
    cdef bytearray buf
    if self._conn_lost:
        return
    try:
        size = self.max_size
        loop = self._loop
        buf = loop._read_bytes
        if buf is None or PyByteArray_GET_SIZE(buf) < size:
            buf = loop._read_buffer(size)
        nbytes = self._sock.recv_into(buf, size)
    except (BlockingIOError, InterruptedError):
        return
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        self._fatal_error(exc, 'Fatal read error on socket transport')
        return

    if not nbytes:
        self._read_ready__on_eof()
        return
    data = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(buf), nbytes)

    try:
        self._protocol.data_received(data)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        self._fatal_error(
            exc, 'Fatal error: protocol.data_received() call failed.')
