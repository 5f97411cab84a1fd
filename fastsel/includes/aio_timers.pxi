# --------------------------------------------------------------- timers
# BaseEventLoop.call_later, call_at and _timer_handle_cancelled, and the
# timer heap's pushes and pops, which servers run for every request (a
# keep-alive or read timeout armed, then cancelled). A timer is asyncio's own
# TimerHandle, given what its __init__ would give it; the heap compares
# times as TimerHandle.__lt__ would; neither runs a Python frame.

cdef object _asyncio_call_later = base_events.BaseEventLoop.call_later
cdef object _asyncio_call_at = base_events.BaseEventLoop.call_at
cdef object _asyncio_timer_init = events.TimerHandle.__init__
cdef object _asyncio_timer_lt = events.TimerHandle.__lt__
cdef object _heappush = heapq.heappush
cdef TypeCheck _timer_loop_type_ok
cdef TypeCheck _timer_class_ok


cdef ModuleEntry _events_timer_seen


cdef bint _plain_timer_loop(object loop) except -1:
    """Making a timer here does what asyncio's call_at would: not in debug
    mode (which checks the thread and the callback, and records where the
    call came from), with asyncio's helpers on the loop and asyncio's
    TimerHandle, whose __init__ and __lt__ are asyncio's."""
    if (not SUPPORTED or _ltrue(loop, _loop_slotted(loop), LOOP_DEBUG)
            or not loop_keeps(&_timer_loop_type_ok, loop, _TIMER_HELPERS)):
        return False
    return (module_attr(events, "TimerHandle", &_events_timer_seen) is _TimerHandle
            and class_keeps(&_timer_class_ok, _TimerHandle, _TIMER_CLASS_METHODS)
            and _plain_handle_class(_Handle)
            and _handle_kind(_TimerHandle) == PLAIN_TIMER)


cdef bint _float_when(object handle, double *when) except -1:
    """handle is asyncio's TimerHandle with a float time: comparing with it
    runs TimerHandle.__lt__ on two floats, and nothing else."""
    if type(handle) is not _TimerHandle or _handle_kind(_TimerHandle) != PLAIN_TIMER:
        return False
    value = _slot_get(handle, SLOT_WHEN)
    if type(value) is not float:
        return False
    when[0] = <double>value
    return True


cdef int _push_timer(object heap, object timer) except -1:
    """heapq.heappush(heap, timer), comparing times in C where every
    comparison on the way would be TimerHandle.__lt__ on floats."""
    cdef Py_ssize_t pos, parent_pos
    cdef double when, parent_when
    cdef list items
    if type(heap) is not list or not _float_when(timer, &when):
        _heappush(heap, timer)
        return 0
    items = <list>heap
    # Find where the timer settles before moving anything, so that a heap
    # holding other objects goes to heappush untouched.
    pos = len(items)
    while pos > 0:
        parent_pos = (pos - 1) >> 1
        if not _float_when(items[parent_pos], &parent_when):
            _heappush(heap, timer)
            return 0
        if not (when < parent_when):
            break
        pos = parent_pos
    end = len(items)
    items.append(timer)
    while end > pos:
        parent_pos = (end - 1) >> 1
        items[end] = items[parent_pos]
        end = parent_pos
    items[pos] = timer
    return 0


cdef object _pop_timer(object heap):
    """heapq.heappop(heap), comparing times in C where every comparison it
    would make is TimerHandle.__lt__ on floats (checked before anything
    moves: a heap holding other objects goes to heappop untouched)."""
    # heappop moves the last item to the top, sifts it down to a leaf along
    # the smaller children, then back up. Only the items on that path move:
    # path[i] is the i-th position on it, path_when[i] the time of its item.
    cdef Py_ssize_t path[64]
    cdef double path_when[64]
    cdef Py_ssize_t size, child, depth = 0, settled, i
    cdef double last_when, right_when
    cdef list items
    if type(heap) is not list or len(<list>heap) < 2:
        return _heappop(heap)
    items = <list>heap
    size = len(items) - 1  # once the last item is taken off
    if not _float_when(items[size], &last_when):
        return _heappop(heap)
    path[0] = 0
    child = 1
    while child < size:
        if not _float_when(items[child], &path_when[depth + 1]):
            return _heappop(heap)
        if child + 1 < size:
            if not _float_when(items[child + 1], &right_when):
                return _heappop(heap)
            if not (path_when[depth + 1] < right_when):
                child += 1
                path_when[depth + 1] = right_when
        depth += 1
        path[depth] = child
        child = 2 * child + 1
    settled = depth
    while settled > 0 and last_when < path_when[settled]:
        settled -= 1
    first = items[0]
    last = items.pop()
    for i in range(settled):
        items[path[i]] = items[path[i + 1]]
    items[path[settled]] = last
    return first


cdef object _make_timer(object loop, object when, object callback,
                        tuple args, object context):
    """The non-debug steps of BaseEventLoop.call_at after its `when` check:
    _check_closed(), TimerHandle(when, callback, args, loop, context), the
    push on loop._scheduled."""
    cdef bint slotted = _loop_slotted(loop)
    if _ltrue(loop, slotted, LOOP_CLOSED):
        raise RuntimeError('Event loop is closed')
    timer = PyType_GenericNew(<PyTypeObject *>_TimerHandle, NULL, NULL)
    _fill_handle(timer, loop, callback, args, context)
    _slot_set(timer, SLOT_WHEN, when)
    _slot_set(timer, SLOT_SCHEDULED, False)
    _push_timer(_lget(loop, slotted, LOOP_SCHEDULED), timer)
    _slot_set(timer, SLOT_SCHEDULED, True)
    return timer


cdef object _call_at(object loop, object when, object callback, tuple args,
                     object context):
    """call_at on a loop that passed _plain_timer_loop. asyncio's own runs
    for a None `when`, whose error differs between versions."""
    if when is None:
        return _asyncio_call_at(loop, when, callback, *args, context=context)
    return _make_timer(loop, when, callback, args, context)


def call_at(self, when, callback, *args, context=None):
    """BaseEventLoop.call_at: run callback(*args) at loop time `when`;
    returns its TimerHandle."""
    if not _plain_timer_loop(self):
        return _asyncio_call_at(self, when, callback, *args, context=context)
    return _call_at(self, when, callback, args, context)


def call_later(self, delay, callback, *args, context=None):
    """BaseEventLoop.call_later: call_at(time() + delay, ...)."""
    if delay is None or not _plain_timer_loop(self):
        return _asyncio_call_later(self, delay, callback, *args, context=context)
    return _call_at(self, _monotonic() + delay, callback, args, context)


cdef TypeCheck _call_later_loop_ok
cdef tuple _CALL_LATER = (("call_later", (call_later,)),) + _NOTES_SHADOWING


cdef object loop_call_later(object loop, object delay, object callback):
    if (delay is None or not loop_keeps(&_call_later_loop_ok, loop, _CALL_LATER)
            or not _plain_timer_loop(loop)):
        return loop.call_later(delay, callback)
    return _call_at(loop, _monotonic() + delay, callback, (), None)


def timer_handle_cancelled(self, handle):
    """BaseEventLoop._timer_handle_cancelled (alike in every mirrored
    version), which TimerHandle.cancel() calls."""
    if handle._scheduled:
        _count_cancelled_timer(self)


cdef inline int _count_cancelled_timer(object loop) except -1:
    cdef bint slotted = _loop_slotted(loop)
    _lset(loop, slotted, LOOP_TIMER_CANCELLED_COUNT,
          _lget(loop, slotted, LOOP_TIMER_CANCELLED_COUNT) + 1)
    return 0


cdef object _asyncio_timer_cancel = events.TimerHandle.cancel
cdef object _asyncio_timer_handle_cancelled = base_events.BaseEventLoop._timer_handle_cancelled
cdef tuple _TIMER_CANCEL = (("cancel", (_asyncio_timer_cancel,)),)
cdef tuple _CANCEL_HELPERS = (
    ("_timer_handle_cancelled", (_asyncio_timer_handle_cancelled, timer_handle_cancelled)),
) + _NOTES_SHADOWING
cdef TypeCheck _timer_cancel_ok
cdef TypeCheck _cancel_loop_ok


cdef int cancel_timer(object timer) except -1:
    """timer.cancel(), for compiled callers (the TLS protocol's timeouts).
    For asyncio's TimerHandle whose cancel and Handle.cancel are asyncio's
    (alike in every mirrored version), their steps without their frames; the
    loop's _timer_handle_cancelled too, while it is fastsel's or asyncio's."""
    if (_handle_kind(type(timer)) != PLAIN_TIMER
            or not class_keeps(&_timer_cancel_ok, _TimerHandle, _TIMER_CANCEL)
            or not class_keeps(&_handle_cancel_ok, _Handle, _HANDLE_CANCEL)):
        timer.cancel()
        return 0
    if _slot_true(timer, SLOT_CANCELLED):
        return 0
    loop = _slot_get(timer, SLOT_LOOP)
    if not loop_keeps(&_cancel_loop_ok, loop, _CANCEL_HELPERS):
        loop._timer_handle_cancelled(timer)
    elif _slot_true(timer, SLOT_SCHEDULED):
        _count_cancelled_timer(loop)
    _cancel_steps(timer)
    return 0


# What making a timer relies on, with the versions it accepts.
cdef tuple _TIMER_HELPERS = (
    ("time", (_asyncio_time, time)),
    ("call_at", (_asyncio_call_at, call_at)),
    ("_check_closed", (_asyncio_check_closed,)),
    ("get_debug", (_asyncio_get_debug, get_debug)),
) + _NOTES_SHADOWING
cdef tuple _TIMER_CLASS_METHODS = (
    ("__init__", (_asyncio_timer_init,)),
    ("__lt__", (_asyncio_timer_lt,)),
)
