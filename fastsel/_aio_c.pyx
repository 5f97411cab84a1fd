# cython: language_level=3, boundscheck=False, wraparound=False
"""asyncio's loop iteration and the loop methods every callback and future
uses, compiled, for loops on a compiled fastsel selector.

`run_once`, `process_events`, `call_soon`, `create_future`, `get_debug`,
`time`, `call_later`, `call_at` and `timer_handle_cancelled` (see
includes/aio_timers.pxi) are drop-in replacements for the BaseEventLoop/BaseSelectorEventLoop methods
of those names in every CPython that fastsel._asyncio_versions mirrors
(the same steps, in the same order, on the same loop attributes). The gains: the wait goes straight to the selector's
buffer of ready fds (no (key, events) tuples, no result list); asyncio's
handles and timers are made and run without a Python frame of
Handle.__init__, TimerHandle.__init__, TimerHandle.__lt__ or Handle._run,
reading and writing their slots at the offsets of asyncio's own member
descriptors (includes/handle_slots.pxi).
What threads feeding the loop go through (call_soon_threadsafe,
_read_from_self, run_in_executor) is in _aio_threadsafe.pxi and
_aio_executor.pxi; create_task is in _aio_tasks.pxi; add_reader,
remove_reader, add_writer, remove_writer and the underscored methods behind
them are in _aio_readers.pxi, _make_socket_transport in _aio_transports.pxi.

Whenever an iteration cannot be sure it would do exactly what asyncio does
(debug mode, a selector that is not a plain compiled fastsel one, a loop
whose time/_process_events/_add_callback differ from asyncio's, on its class
or set on the instance, an interpreter version whose asyncio was not
checked) it runs asyncio's own _run_once; handles of other classes run their
own _run, and call_soon hands over to asyncio's in the same way (see
includes/overrides.pxd). asyncio's private tuning constants are read at
import.
"""
import heapq
import math
import selectors
from asyncio import base_events, events, format_helpers, futures
import contextvars

from cpython.exc cimport PyErr_CheckSignals
from cpython.long cimport PyLong_CheckExact
from cpython.contextvars cimport PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit
from cpython.object cimport PyObject, Py_TYPE, PyTypeObject
from cpython.list cimport PyList_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM

from ._asyncio_versions import has, mirrored
from ._selectors_c cimport KeyTable, ReadyEvent, Selector, _timeout_ms
from .includes.overrides cimport class_keeps, instance_keeps
from .includes.module_attrs cimport ModuleEntry, module_attr
from .includes.sockets cimport fastsel_is_address, fastsel_socket_error
from .includes.system cimport fastsel_time_monotonic
from ._transport_c cimport (WriteCoalescer, new_socket_transport, new_stdlib_socket,
                            plain_weak_values, set_loop_hooks,
                            weak_value_or_none)
from .includes.typecheck cimport TypeCheck, type_check_remember, type_check_remembers

# Whether this interpreter's asyncio is one this module mirrors, and how it
# differs from the others (see fastsel._asyncio_versions).
SUPPORTED = mirrored()
cdef bint _ADD_CALLBACK_ASSERTS_HANDLE = has("add_callback_asserts_handle")
cdef bint _CLAMP_WITH_COMPARISONS = has("timeout_clamped_by_comparisons")
cdef bint _FORMAT_WITH_DEBUG = has("handle_error_formats_with_debug")
cdef bint _DUE_WINDOW_AT_LEAST_ULP = has("due_window_at_least_ulp")
cdef int EVENT_READ = 1
cdef int EVENT_WRITE = 2

cdef object _heappop = heapq.heappop
cdef object _heapify = heapq.heapify
cdef object _ulp = math.ulp
cdef object _time = base_events.time
cdef object _asyncio_run_once = base_events.BaseEventLoop._run_once
cdef object _asyncio_time = base_events.BaseEventLoop.time
cdef object _asyncio_add_callback = base_events.BaseEventLoop._add_callback
cdef object _Handle = events.Handle
cdef object _SelectorKey = selectors.SelectorKey
cdef object _TimerHandle = events.TimerHandle
cdef object _asyncio_handle_run = events.Handle._run
cdef object _asyncio_handle_init = events.Handle.__init__
cdef object _compiled_select = Selector.select
cdef object _logger = base_events.logger
cdef object _format_handle = base_events._format_handle
cdef object _MAXIMUM_SELECT_TIMEOUT = base_events.MAXIMUM_SELECT_TIMEOUT
cdef object _MIN_SCHEDULED_TIMER_HANDLES = base_events._MIN_SCHEDULED_TIMER_HANDLES
cdef object _MIN_CANCELLED_FRACTION = base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION


cdef extern from "Python.h":
    object PyType_GenericNew(PyTypeObject *type, void *args, void *kwds)


include "includes/loop_overrides.pxi"


cdef TypeCheck _selector_type_ok
cdef TypeCheck _loop_type_ok
cdef TypeCheck _handle_type_ok
cdef TypeCheck _timer_handle_type_ok


include "includes/handle_slots.pxi"
include "includes/loop_slots.pxi"
include "includes/deques.pxi"


cdef object _BUILTIN_MONOTONIC = _time.monotonic
cdef ModuleEntry _time_monotonic_seen


cdef inline bint _builtin_clock() except -1:
    """time.monotonic is the builtin one: reading it has no effect a program
    could see (a patched clock, such as a test's or freezegun's, may)."""
    return module_attr(_time, "monotonic", &_time_monotonic_seen) is _BUILTIN_MONOTONIC


cdef inline object _monotonic():
    # BaseEventLoop.time(), which looks its clock up on every call; read
    # here while it is the builtin one.
    cdef double now
    if _builtin_clock() and fastsel_time_monotonic(&now) == 0:
        return now
    return _time.monotonic()


def time(self):
    """BaseEventLoop.time: the monotonic clock."""
    return _monotonic()


cdef tuple _SELECT = (("select", (_compiled_select,)),)


cdef bint _plain_selector(object selector) except -1:
    """A compiled fastsel selector whose select() is the compiled one."""
    cls = type(selector)
    if not type_check_remembers(&_selector_type_ok, cls):
        if not isinstance(selector, Selector) or cls.select is not _compiled_select:
            return False
        type_check_remember(&_selector_type_ok, cls)
    return instance_keeps(selector, _SELECT)


cdef inline bint _plain_loop(object loop) except -1:
    """A loop whose class and instance leave asyncio's own versions of the
    helpers that the iteration inlines."""
    return loop_keeps(&_loop_type_ok, loop, _ITERATION_HELPERS)


cdef inline int _add_callback(object loop, object ready, object handle,
                              bint inline) except -1:
    # BaseEventLoop._add_callback, inlined when the loop's class has that one
    # (_plain_loop), unless that one asserts the handle's type. `ready` is
    # the loop's ready queue.
    if _ADD_CALLBACK_ASSERTS_HANDLE or not inline:
        loop._add_callback(handle)
    elif not _handle_cancelled(handle):
        _append(ready, handle)
    return 0


cdef int _handle_key(object loop, object ready, object key, int mask,
                     bint inline=True) except -1:
    """One (key, mask) pair, as BaseSelectorEventLoop._process_events does."""
    if type(key) is _SelectorKey:
        # What its fileobj and data properties read. key[i] would go through
        # the generic sq_item slot CPython gives tuple subclasses, which
        # calls __getitem__ as a method.
        fileobj = <object>PyTuple_GET_ITEM(key, 0)
        reader, writer = <object>PyTuple_GET_ITEM(key, 3)
    else:
        fileobj = key[0]
        reader, writer = key[3]
    if mask & EVENT_READ and reader is not None:
        if _handle_cancelled(reader):
            loop._remove_reader(fileobj)
        else:
            _add_callback(loop, ready, reader, inline)
    if mask & EVENT_WRITE and writer is not None:
        if _handle_cancelled(writer):
            loop._remove_writer(fileobj)
        else:
            _add_callback(loop, ready, writer, inline)
    return 0


def process_events(self, event_list):
    """BaseSelectorEventLoop._process_events: turn (key, mask) pairs into
    ready callbacks, dropping readers and writers that were cancelled."""
    cdef bint inline = _plain_loop(self)
    ready = _lget(self, _loop_slotted(self), LOOP_READY)
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


cdef int _wait_and_dispatch(object loop, object ready, Selector selector,
                            int timeout_ms) except -1:
    """selector.select(timeout) followed by loop._process_events(...)."""
    cdef char *buf
    cdef int nready
    selector._check_open()
    buf = selector._take_buffer()
    try:
        nready = selector._wait_retrying(buf, selector._prepare_wait(buf),
                                         timeout_ms)
        _dispatch_ready(loop, ready, selector._table, <ReadyEvent *>buf,
                        nready)
    finally:
        selector._give_back(buf)
    return 0


cdef object _select_timeout(object loop, bint slotted, object ready,
                            object scheduled):
    """The timeout _run_once hands to select(): None blocks."""
    if _has_items(ready) or _ltrue(loop, slotted, LOOP_STOPPING):
        return 0
    if not _has_items(scheduled):
        return None
    maximum = _MAXIMUM_SELECT_TIMEOUT
    timeout = _timer_when(scheduled[0]) - _monotonic()
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


# _MIN_SCHEDULED_TIMER_HANDLES as a C integer where it is an int (-1 where
# it is not: then compared as asyncio compares it).
cdef Py_ssize_t _MIN_SCHEDULED_COUNT = (
    _MIN_SCHEDULED_TIMER_HANDLES
    if type(_MIN_SCHEDULED_TIMER_HANDLES) is int and 0 <= _MIN_SCHEDULED_TIMER_HANDLES < 2**62
    else -1)


cdef int _drop_cancelled_timers(object loop, bint slotted, object scheduled) except -1:
    """The timer-heap housekeeping at the start of _run_once."""
    cdef bint rebuild
    if type(scheduled) is list and _MIN_SCHEDULED_COUNT >= 0:
        # What the steps below come to, with the heap's size counted in C:
        # asyncio only divides past the minimum.
        if PyList_GET_SIZE(scheduled) == 0:
            return 0
        rebuild = (PyList_GET_SIZE(scheduled) > _MIN_SCHEDULED_COUNT
                   and _lget(loop, slotted, LOOP_TIMER_CANCELLED_COUNT)
                   / PyList_GET_SIZE(scheduled) > _MIN_CANCELLED_FRACTION)
    else:
        sched_count = len(scheduled)
        rebuild = (sched_count > _MIN_SCHEDULED_TIMER_HANDLES and
                   _lget(loop, slotted, LOOP_TIMER_CANCELLED_COUNT) / sched_count
                   > _MIN_CANCELLED_FRACTION)
    if rebuild:
        # Too many cancelled timers: rebuild the heap without them.
        new_scheduled = []
        for handle in scheduled:
            if _handle_cancelled(handle):
                _timer_set_scheduled(handle, False)
            else:
                new_scheduled.append(handle)
        _heapify(new_scheduled)
        _lset(loop, slotted, LOOP_SCHEDULED, new_scheduled)
        _lset(loop, slotted, LOOP_TIMER_CANCELLED_COUNT, 0)
    else:
        # Pop cancelled timers from the head of the heap.
        while _has_items(scheduled) and _handle_cancelled(scheduled[0]):
            _lset(loop, slotted, LOOP_TIMER_CANCELLED_COUNT,
                  _lget(loop, slotted, LOOP_TIMER_CANCELLED_COUNT) - 1)
            handle = _pop_timer(scheduled)
            _timer_set_scheduled(handle, False)
    return 0


cdef inline bint _plain_handle_class(object cls) except -1:
    """asyncio's own Handle or TimerHandle class, with asyncio's _run (and
    for Handle its __init__) and its slots (see includes/handle_slots.pxi):
    what _run_handle and call_soon do in their place is then exactly what
    those do."""
    cdef int kind = _handle_kind(cls)
    return kind == PLAIN_HANDLE or kind == PLAIN_TIMER


cdef object _Context = contextvars.Context


cdef int _call_in_context(object context, object callback,
                          object args) except -1:
    """context.run(callback, *args), without the method call and the
    argument tuple it would build when context and args are the usual
    Context and tuple."""
    if type(context) is not _Context or type(args) is not tuple:
        context.run(callback, *args)
        return 0
    PyContext_Enter(context)
    try:
        callback(*<tuple>args)
    finally:
        PyContext_Exit(context)
    return 0


cdef int _run_handle(object handle) except -1:
    """events.Handle._run: the callback in its context; errors
    other than SystemExit and KeyboardInterrupt go to the handle's loop's
    exception handler with the same context dict."""
    try:
        _call_in_context(_slot_get(handle, SLOT_CONTEXT),
                         _slot_get(handle, SLOT_CALLBACK),
                         _slot_get(handle, SLOT_ARGS))
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        if _FORMAT_WITH_DEBUG:
            cb = format_helpers._format_callback_source(
                handle._callback, handle._args,
                debug=handle._loop.get_debug())
        else:
            cb = format_helpers._format_callback_source(
                handle._callback, handle._args)
        context = {
            'message': f'Exception in callback {cb}',
            'exception': exc,
            'handle': handle,
        }
        if handle._source_traceback:
            context['source_traceback'] = handle._source_traceback
        handle._loop.call_exception_handler(context)
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


# What the iteration inlines, with the versions it accepts (set here, once
# process_events exists).
cdef tuple _ITERATION_HELPERS = (
    ("time", (_asyncio_time, time)),
    ("_process_events", (process_events,)),
    ("_add_callback", (_asyncio_add_callback,)),
) + _NOTES_SHADOWING


cdef int _ready_due_timers(object loop, bint slotted, object ready,
                           object scheduled) except -1:
    """Move the timers that are due from the heap to the ready queue."""
    if _DUE_WINDOW_AT_LEAST_ULP:
        # Strictly after now, even where the clock's resolution is below
        # the spacing of floats at now.
        now = _monotonic()
        end_time = now + max(_lget(loop, slotted, LOOP_CLOCK_RESOLUTION), _ulp(now))
    else:
        end_time = _monotonic() + _lget(loop, slotted, LOOP_CLOCK_RESOLUTION)
    while _has_items(scheduled):
        handle = scheduled[0]
        if _timer_when(handle) >= end_time:
            break
        handle = _pop_timer(scheduled)
        _timer_set_scheduled(handle, False)
        _append(ready, handle)
    return 0


cdef TypeCheck _run_once_kept_ok


cdef inline bint _run_once_kept(object loop) except -1:
    """loop._run_once() is run_once below."""
    return loop_keeps(&_run_once_kept_ok, loop, _RUN_ONCE)


# run_forever's states, in the loop's _run_forever_state slot (0 while no
# run_forever below runs): whether run_once was called by that run_forever,
# and is running iterations.
cdef object _DRIVEN = 1
cdef object _ITERATING = 2
# The iterations one run_once call runs for run_forever at most. Between two
# calls asyncio's run_forever runs Python code, where the interpreter hands
# the GIL to a thread that waits for it and runs pending calls: at most this
# many iterations go by without that (signal handlers run after each).
cdef int _ITERATIONS_PER_CALL = 16


def run_forever(self, asyncio_run_forever):
    """asyncio_run_forever(), the loop's inherited run_forever, whose loop
    calls self._run_once(): called so, run_once runs up to
    _ITERATIONS_PER_CALL iterations while the loop is not stopping, where
    asyncio's loop would call it for each."""
    cdef bint slotted = _loop_slotted(self)
    previous = _lget(self, slotted, LOOP_RUN_FOREVER_STATE)
    if _run_once_kept(self):
        _lset(self, slotted, LOOP_RUN_FOREVER_STATE, _DRIVEN)
    try:
        return asyncio_run_forever()
    finally:
        _lset(self, _loop_slotted(self), LOOP_RUN_FOREVER_STATE, previous)


def run_once(self):
    """BaseEventLoop._run_once: one iteration of the loop (called by
    run_forever above: up to _ITERATIONS_PER_CALL of them while the loop is
    not stopping, checking for signals between two)."""
    cdef int count
    cdef bint slotted = _loop_slotted(self)
    if _lget(self, slotted, LOOP_RUN_FOREVER_STATE) is not _DRIVEN:
        _iterate(self, slotted)
        return
    _lset(self, slotted, LOOP_RUN_FOREVER_STATE, _ITERATING)
    try:
        for count in range(_ITERATIONS_PER_CALL):
            if count:
                PyErr_CheckSignals()
            _iterate(self, slotted)
            if _ltrue(self, slotted, LOOP_STOPPING) or not _run_once_kept(self):
                break
            slotted = _loop_slotted(self)
    finally:
        _lset(self, slotted, LOOP_RUN_FOREVER_STATE, _DRIVEN)


cdef tuple _RUN_ONCE = (("_run_once", (run_once,)),) + _NOTES_SHADOWING


cdef int _iterate(object self, bint slotted) except -1:
    """One iteration: drops cancelled timers, waits for I/O (not at all
    when callbacks are ready), queues the callbacks of ready fds and due
    timers, then runs the callbacks that were ready when the iteration
    started, holding back their writes to socket transports to send them
    together."""
    cdef Py_ssize_t i, ntodo
    cdef int kind
    cdef WriteCoalescer writes
    ready = _lget(self, slotted, LOOP_READY)  # never replaced
    # Before either iteration computes its timeout (see _aio_threadsafe.pxi).
    _clear_wakeup_if_idle(self, slotted, ready)
    selector = _lget(self, slotted, LOOP_SELECTOR)
    coalescer = _lget_or_none(self, slotted, LOOP_WRITE_COALESCER)
    if (not SUPPORTED or _ltrue(self, slotted, LOOP_DEBUG) or not _plain_loop(self)
            or not _plain_selector(selector)
            or not isinstance(coalescer, WriteCoalescer)):
        _asyncio_run_once(self)
        return 0

    _drop_cancelled_timers(self, slotted, _lget(self, slotted, LOOP_SCHEDULED))
    # Read after the housekeeping, which may have replaced the heap; nothing
    # else replaces it.
    scheduled = _lget(self, slotted, LOOP_SCHEDULED)
    timeout = _select_timeout(self, slotted, ready, scheduled)
    _wait_and_dispatch(self, ready, <Selector>selector, _timeout_ms(timeout))

    # Timers that are due move to the ready queue. With none, asyncio's
    # reading of the clock only shows where the clock is not the builtin.
    if _has_items(scheduled) or not _builtin_clock():
        _ready_due_timers(self, slotted, ready, scheduled)

    # Run what is ready now; callbacks queued meanwhile wait for the next
    # iteration (after another poll for I/O). Their writes to each socket
    # transport go out together once they are done.
    ntodo = len(ready)
    writes = <WriteCoalescer>coalescer
    writes.hold()
    try:
        for i in range(ntodo):
            handle = _popleft(ready)
            kind = _handle_kind(type(handle))
            if kind != OTHER_HANDLE:
                if _slot_true(handle, SLOT_CANCELLED):
                    continue
            elif handle._cancelled:
                continue
            if _ltrue(self, slotted, LOOP_DEBUG):
                _run_debug(self, handle)
            elif kind == PLAIN_HANDLE:
                _run_handle(handle)
                _retire_handle(handle)
            elif kind == PLAIN_TIMER:
                _run_handle(handle)
            elif kind == PLAIN_THREADSAFE:
                _run_threadsafe_handle(handle)
            else:
                handle._run()
    finally:
        writes.flush()
    return 0


# ------------------------------------------------------------- call_soon

cdef object _asyncio_call_soon = base_events.BaseEventLoop.call_soon
cdef object _asyncio_call_soon_helper = base_events.BaseEventLoop._call_soon
cdef object _asyncio_check_closed = base_events.BaseEventLoop._check_closed
cdef object _asyncio_get_debug = base_events.BaseEventLoop.get_debug
cdef TypeCheck _call_soon_loop_type_ok


cdef inline bint _plain_call_soon_loop(object loop) except -1:
    """A loop whose class and instance leave asyncio's versions of what
    call_soon calls."""
    return loop_keeps(&_call_soon_loop_type_ok, loop, _CALL_SOON_HELPERS)


def call_soon(self, callback, *args, context=None):
    """BaseEventLoop.call_soon (alike in every mirrored version): queue callback(*args) to
    run in the next iteration, in `context` (by default a copy of the
    current one); returns its Handle.

    The Handle gets what asyncio's Handle.__init__ would give it, without
    running that Python method. asyncio's own call_soon runs instead in debug
    mode (which records where the call came from), and whenever the loop's
    class or asyncio's Handle differ from asyncio's own."""
    handle = _call_soon_steps(self, callback, args, context)
    if handle is NotImplemented:
        return _asyncio_call_soon(self, callback, *args, context=context)
    return handle


cdef object _call_soon_steps(object loop, object callback, tuple args, object context):
    """call_soon's steps, or NotImplemented where asyncio's own must run."""
    cdef bint slotted = _loop_slotted(loop)
    if (not _plain_call_soon_loop(loop) or _ltrue(loop, slotted, LOOP_DEBUG)
            or not _events_has_handle() or not _plain_handle_class(_Handle)):
        return NotImplemented
    if _ltrue(loop, slotted, LOOP_CLOSED):
        raise RuntimeError('Event loop is closed')
    handle = _new_handle(loop, callback, args, context)
    _append(_lget(loop, slotted, LOOP_READY), handle)
    return handle


cdef TypeCheck _transport_soon_loop_ok


cdef object _transport_call_soon(object loop, object callback, tuple args, object context):
    """What a compiled transport's loop.call_soon(callback, *args) comes to
    where the loop's call_soon is the one above: its steps without the
    method call (the hook _transport_c calls); NotImplemented otherwise."""
    if not loop_keeps(&_transport_soon_loop_ok, loop, _TRANSPORT_CALL_SOON):
        return NotImplemented
    return _call_soon_steps(loop, callback, args, context)


cdef object _new_handle(object loop, object callback, tuple args, object context):
    """events.Handle(callback, args, loop, context) outside debug mode,
    without running Handle.__init__."""
    handle = _spare_handle()
    if handle is None:
        handle = PyType_GenericNew(<PyTypeObject *>_Handle, NULL, NULL)
    _fill_handle(handle, loop, callback, args, context)
    return handle


# ------------------------------------------ what futures ask of their loop

def get_debug(self):
    """BaseEventLoop.get_debug: whether the loop is in debug mode (every
    Future and Task asks when it is made)."""
    return _lget(self, _loop_slotted(self), LOOP_DEBUG)


cdef ModuleEntry _futures_future_seen


def create_future(self):
    """BaseEventLoop.create_future: a Future attached to this loop."""
    return module_attr(futures, "Future", &_futures_future_seen)(loop=self)


# What call_soon relies on, with the versions it accepts.
cdef tuple _CALL_SOON_HELPERS = (
    ("_check_closed", (_asyncio_check_closed,)),
    ("_call_soon", (_asyncio_call_soon_helper,)),
    ("get_debug", (_asyncio_get_debug, get_debug)),
) + _NOTES_SHADOWING
# What the hook checks before _call_soon_steps checks the rest.
cdef tuple _TRANSPORT_CALL_SOON = (("call_soon", (call_soon,)),) + _NOTES_SHADOWING


include "includes/aio_timers.pxi"
include "_aio_threadsafe.pxi"
include "_aio_executor.pxi"
include "_aio_tasks.pxi"
include "_aio_readers.pxi"
include "_aio_transports.pxi"
include "_aio_connect.pxi"


# ------------------------------------ what compiled transports ask of a loop

cdef object _transport_add_io(object loop, object fd, object callback, tuple args,
                              object context, bint read):
    """A compiled transport's loop._add_reader(fd, callback, *args) (read) or
    _add_writer(...) where those are the ones above: their steps without the
    method call; NotImplemented otherwise."""
    if not _plain_io_loop(loop):
        return NotImplemented
    return _add_io(loop, fd, callback, args, context, read)


cdef object _transport_remove_io(object loop, object fd, bint read):
    """A compiled transport's loop._remove_reader(fd) (read) or
    _remove_writer(fd) where those are the ones above: their steps without
    the method call; NotImplemented otherwise."""
    if not _plain_io_loop(loop):
        return NotImplemented
    return _remove_io(loop, fd, read)


cdef TypeCheck _transport_debug_loop_ok
cdef tuple _GET_DEBUG = (("get_debug", (_asyncio_get_debug, get_debug)),) + _NOTES_SHADOWING


cdef int _transport_loop_debug(object loop) except -2:
    """A compiled transport's bool(loop.get_debug()) where that method is
    asyncio's or fastsel's; -1 otherwise."""
    if not loop_keeps(&_transport_debug_loop_ok, loop, _GET_DEBUG):
        return -1
    return _ltrue(loop, _loop_slotted(loop), LOOP_DEBUG)


set_loop_hooks(_transport_call_soon, _transport_add_io, _transport_remove_io,
               _transport_loop_debug)


cdef object loop_call_soon(object loop, object callback, tuple args):
    handle = _transport_call_soon(loop, callback, args, None)
    if handle is NotImplemented:
        return loop.call_soon(callback, *args)
    return handle


cdef bint loop_debug(object loop) except -1:
    cdef int debug = _transport_loop_debug(loop)
    return loop.get_debug() if debug < 0 else debug
