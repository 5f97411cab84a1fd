# Included by _aio_c.pyx: asyncio's own Handle, TimerHandle and (3.14+)
# _ThreadSafeHandle, read and written at their slots' offsets.
#
# Handles are asyncio's __slots__ classes. At import, each slot's member
# descriptor is taken from asyncio's classes; its offset is used for that
# slot only while it is exactly what `handle.name` would reach (see
# includes/handle_slots.h). A class is used this way only while _handle_kind
# says it is one of asyncio's three classes, with asyncio's _run (and
# __init__ where fastsel makes its instances), object's attribute access and
# the import-time descriptors under every slot name; anything else gets
# attribute access and its own _run.

import threading as _threading_module

from cpython.ref cimport Py_DECREF, Py_INCREF, Py_REFCNT, PyObject

cdef extern from "includes/handle_slots.h":
    Py_ssize_t fastsel_slot_offset(void *descr)
    PyObject *fastsel_slot_get(object obj, Py_ssize_t offset)
    void fastsel_slot_set(object obj, Py_ssize_t offset, object value)
    void fastsel_slot_clear(object obj, Py_ssize_t offset)
    int fastsel_no_weakrefs(object obj)
    bint FASTSEL_SPARE_HANDLES

cdef extern from "Python.h":
    PyObject *_PY_TRUE "Py_True"
    PyObject *_PY_FALSE "Py_False"
    object PyObject_Vectorcall(object callable, PyObject **args,
                               size_t nargsf, void *kwnames)
    ctypedef struct _AttrAccess "PyTypeObject":
        void *tp_getattro
        void *tp_setattro
    void *_GENERIC_GETATTR "((void *)PyObject_GenericGetAttr)"
    void *_GENERIC_SETATTR "((void *)PyObject_GenericSetAttr)"
    void *_type_lookup "_PyType_Lookup"(PyTypeObject *cls, object name)

# The slots, by index; SLOT_WHEN and SLOT_SCHEDULED are TimerHandle's own,
# SLOT_LOCK _ThreadSafeHandle's.
cdef enum:
    SLOT_CONTEXT, SLOT_LOOP, SLOT_CALLBACK, SLOT_ARGS, SLOT_CANCELLED, SLOT_REPR
    SLOT_SOURCE_TRACEBACK, SLOT_WHEN, SLOT_SCHEDULED, SLOT_LOCK, SLOT_COUNT
    HANDLE_SLOTS = SLOT_WHEN  # the slots of Handle itself: 0 to SLOT_WHEN - 1

cdef tuple _SLOT_NAMES = ("_context", "_loop", "_callback", "_args", "_cancelled",
                          "_repr", "_source_traceback", "_when", "_scheduled", "_lock")

cdef ModuleEntry _events_handle_seen


cdef inline bint _events_has_handle() except -1:
    """events.Handle is asyncio's class: asyncio looks it up there on each
    call_soon."""
    return module_attr(events, "Handle", &_events_handle_seen) is _Handle


# What each handle's class is, for the code below.
cdef enum HandleKind:
    OTHER_HANDLE = 0
    PLAIN_HANDLE = 1
    PLAIN_TIMER = 2
    PLAIN_THREADSAFE = 3

cdef bint _THREAD_SAFE_HANDLE = has("thread_safe_handle")
cdef object _ThreadSafeHandle = events._ThreadSafeHandle if _THREAD_SAFE_HANDLE else None
cdef object _asyncio_threadsafe_run = _ThreadSafeHandle._run if _THREAD_SAFE_HANDLE else None
cdef object _asyncio_threadsafe_init = (_ThreadSafeHandle.__init__
                                        if _THREAD_SAFE_HANDLE else None)
cdef TypeCheck _threadsafe_handle_type_ok


cdef object _slot_owner(int which):
    if which == SLOT_LOCK:
        return _ThreadSafeHandle
    if which >= SLOT_WHEN:
        return _TimerHandle
    return _Handle


# The descriptors found at import (None where the class has none) and their
# offsets (-1 where attribute access is used instead).
cdef list _slot_descriptors = []
cdef Py_ssize_t _slot[SLOT_COUNT]


cdef int _find_slots() except -1:
    cdef int which
    cdef void *found
    for which in range(SLOT_COUNT):
        owner = _slot_owner(which)
        _slot[which] = -1
        _slot_descriptors.append(None)
        if owner is None:
            continue
        found = _type_lookup(<PyTypeObject *>owner, _SLOT_NAMES[which])
        if found is NULL:
            continue
        descriptor = <object>found
        _slot[which] = fastsel_slot_offset(found)
        # The slot must be one that asyncio's class itself (or its base) made.
        if (_slot[which] < 0
                or not isinstance(owner, type)
                or not issubclass(owner, descriptor.__objclass__)):
            _slot[which] = -1
        else:
            _slot_descriptors[which] = descriptor
    return 0


_find_slots()


cdef bint _slots_intact(object cls, int first, int end) except -1:
    """cls reaches, under each slot name of [first, end), the descriptor of
    import time or (where none was usable) anything, through object's
    attribute access."""
    cdef int which
    if ((<_AttrAccess *>cls).tp_getattro != _GENERIC_GETATTR
            or (<_AttrAccess *>cls).tp_setattro != _GENERIC_SETATTR):
        return False
    for which in range(first, end):
        if _slot[which] < 0:
            continue
        if _type_lookup(<PyTypeObject *>cls, _SLOT_NAMES[which]) \
                != <void *>_slot_descriptors[which]:
            return False
    return True


cdef bint _handle_class_checks(object cls) except -1:
    """The checks of _handle_kind, for one of asyncio's classes."""
    if cls is _ThreadSafeHandle:
        return (cls._run is _asyncio_threadsafe_run
                and cls.__init__ is _asyncio_threadsafe_init
                # Its _run and __init__ call Handle's.
                and _Handle._run is _asyncio_handle_run
                and _Handle.__init__ is _asyncio_handle_init
                and _slots_intact(cls, 0, HANDLE_SLOTS)
                and _slots_intact(cls, SLOT_LOCK, SLOT_LOCK + 1))
    if cls._run is not _asyncio_handle_run:
        return False
    if cls is _TimerHandle:
        return _slots_intact(cls, 0, SLOT_LOCK)
    return cls.__init__ is _asyncio_handle_init and _slots_intact(cls, 0, HANDLE_SLOTS)


cdef inline int _handle_kind(object cls) except -1:
    """Which of asyncio's handle classes cls is, when it has asyncio's _run
    (and, but for TimerHandle, asyncio's __init__), object's attribute access
    and the slots of import time; OTHER_HANDLE otherwise. Remembered per
    class until it or a base class changes."""
    if cls is _Handle and type_check_remembers(&_handle_type_ok, cls):
        return PLAIN_HANDLE
    if cls is _TimerHandle and type_check_remembers(&_timer_handle_type_ok, cls):
        return PLAIN_TIMER
    return _handle_kind_checked(cls)


cdef int _handle_kind_checked(object cls) except -1:
    cdef TypeCheck *check
    cdef int kind
    if cls is _Handle:
        check = &_handle_type_ok
        kind = PLAIN_HANDLE
    elif cls is _TimerHandle:
        check = &_timer_handle_type_ok
        kind = PLAIN_TIMER
    elif cls is _ThreadSafeHandle and _THREAD_SAFE_HANDLE:
        check = &_threadsafe_handle_type_ok
        kind = PLAIN_THREADSAFE
    else:
        return OTHER_HANDLE
    if type_check_remembers(check, cls):
        return kind
    if not _handle_class_checks(cls):
        return OTHER_HANDLE
    type_check_remember(check, cls)
    return kind


# Slot access, for an instance of a class that _handle_kind accepted (a slot
# of SLOT_WHEN or later only for its own class). Where no offset was found,
# or the slot is empty, it is attribute access, with its AttributeError.

cdef inline object _slot_get(object handle, int which):
    cdef Py_ssize_t offset = _slot[which]
    cdef PyObject *value
    if offset >= 0:
        value = fastsel_slot_get(handle, offset)
        if value is not NULL:
            return <object>value
    return getattr(handle, <str>_SLOT_NAMES[which])


cdef inline bint _slot_true(object handle, int which) except -1:
    cdef Py_ssize_t offset = _slot[which]
    cdef PyObject *value
    if offset >= 0:
        value = fastsel_slot_get(handle, offset)
        if value == _PY_TRUE:
            return True
        if value == _PY_FALSE:
            return False
    return bool(_slot_get(handle, which))


cdef inline int _slot_set(object handle, int which, object value) except -1:
    cdef Py_ssize_t offset = _slot[which]
    if offset >= 0:
        fastsel_slot_set(handle, offset, value)
    else:
        setattr(handle, <str>_SLOT_NAMES[which], value)
    return 0


cdef inline bint _handle_cancelled(object handle) except -1:
    """handle._cancelled, for any handle."""
    if _handle_kind(type(handle)) != OTHER_HANDLE:
        return _slot_true(handle, SLOT_CANCELLED)
    return bool(handle._cancelled)


cdef object _asyncio_handle_cancel = events.Handle.cancel
cdef tuple _HANDLE_CANCEL = (("cancel", (_asyncio_handle_cancel,)),)
cdef TypeCheck _handle_cancel_ok
cdef object _asyncio_handle_cancelled = events.Handle.cancelled


cdef bint _call_cancelled(object handle) except -1:
    """handle.cancelled(): for asyncio's Handle with asyncio's cancelled
    (alike in every mirrored version), its slot without the method's frame."""
    if (_handle_kind(type(handle)) == PLAIN_HANDLE
            and _Handle.cancelled is _asyncio_handle_cancelled):
        return _slot_true(handle, SLOT_CANCELLED)
    return bool(handle.cancelled())


cdef int _cancel_handle(object handle) except -1:
    """handle.cancel(): for asyncio's Handle with asyncio's cancel (alike in
    every mirrored version), its steps without its frame."""
    if (_handle_kind(type(handle)) != PLAIN_HANDLE
            or not class_keeps(&_handle_cancel_ok, _Handle, _HANDLE_CANCEL)):
        handle.cancel()
        return 0
    _cancel_steps(handle)
    return 0


cdef int _cancel_steps(object handle) except -1:
    """Handle.cancel's steps, on a handle of a class _handle_kind accepted."""
    if _slot_true(handle, SLOT_CANCELLED):
        return 0
    _slot_set(handle, SLOT_CANCELLED, True)
    if _slot_get(handle, SLOT_LOOP).get_debug():
        # What asyncio keeps in debug mode to describe the callback later.
        _slot_set(handle, SLOT_REPR, repr(handle))
    _slot_set(handle, SLOT_CALLBACK, None)
    _slot_set(handle, SLOT_ARGS, None)
    return 0


cdef int _fill_handle(object handle, object loop, object callback, tuple args,
                      object context) except -1:
    """Handle.__init__(handle, callback, args, loop, context) outside debug
    mode, on a new instance of a class that _handle_kind accepted."""
    if context is None:
        context = PyContext_CopyCurrent()
    _slot_set(handle, SLOT_CONTEXT, context)
    _slot_set(handle, SLOT_LOOP, loop)
    _slot_set(handle, SLOT_CALLBACK, callback)
    _slot_set(handle, SLOT_ARGS, args)
    _slot_set(handle, SLOT_CANCELLED, False)
    _slot_set(handle, SLOT_REPR, None)
    _slot_set(handle, SLOT_SOURCE_TRACEBACK, None)
    return 0


# ------------------------------------------------ spare handles

# An events.Handle that has run and that nothing else references (no
# reference, no weak reference) is emptied and kept, up to SPARE_HANDLES of
# them, for _new_handle to fill again: one allocation and one freeing fewer
# per call_soon. No program can tell: an object nothing refers to cannot be
# looked at. Where any of Handle's slots is reached by attribute access, none
# is kept.
cdef enum:
    SPARE_HANDLES = 64
cdef PyObject *_spare_handles[SPARE_HANDLES]
cdef Py_ssize_t _spare_count = 0
cdef bint _HANDLES_KEPT = FASTSEL_SPARE_HANDLES and all(
    _slot[which] >= 0 for which in range(HANDLE_SLOTS))


cdef int _retire_handle(object handle) except -1:
    """Keep `handle`, an events.Handle whose run is over, for reuse when the
    caller's is its only reference."""
    global _spare_count
    cdef int which
    if (not _HANDLES_KEPT or _spare_count == SPARE_HANDLES or Py_REFCNT(handle) != 1
            or fastsel_no_weakrefs(handle) != 1):
        return 0
    for which in range(HANDLE_SLOTS):
        fastsel_slot_clear(handle, _slot[which])
    Py_INCREF(handle)
    _spare_handles[_spare_count] = <PyObject *>handle
    _spare_count += 1
    return 0


cdef inline object _spare_handle():
    """An emptied events.Handle kept by _retire_handle, or None."""
    global _spare_count
    if _spare_count == 0:
        return None
    _spare_count -= 1
    handle = <object>_spare_handles[_spare_count]
    Py_DECREF(handle)  # the reference the spares held; `handle` keeps one
    return handle


# ------------------------------------------------ 3.14+: _ThreadSafeHandle

cdef object _threading = _threading_module
cdef object _asyncio_rlock_factory = _threading_module.RLock
cdef object _CRLock = getattr(_threading_module, "_CRLock", None)
cdef object _rlock_enter = _CRLock.__enter__ if _CRLock is not None else None
cdef object _rlock_release = _CRLock.release if _CRLock is not None else None


cdef object _new_rlock():
    """threading.RLock(), as _ThreadSafeHandle.__init__ calls it: the C lock
    type itself while threading's factory would return one."""
    if (_CRLock is not None and _threading.RLock is _asyncio_rlock_factory
            and _threading._CRLock is _CRLock):
        return _CRLock()
    return _threading.RLock()


cdef object _new_threadsafe_handle(object loop, object callback, tuple args,
                                   object context):
    """events._ThreadSafeHandle(callback, args, loop, context) outside debug
    mode, when _handle_kind accepts the class."""
    handle = PyType_GenericNew(<PyTypeObject *>_ThreadSafeHandle, NULL, NULL)
    _fill_handle(handle, loop, callback, args, context)
    _slot_set(handle, SLOT_LOCK, _new_rlock())
    return handle


cdef int _run_threadsafe_handle(object handle) except -1:
    """_ThreadSafeHandle._run: under the handle's lock, nothing if it was
    cancelled meanwhile, else Handle._run."""
    lock = _slot_get(handle, SLOT_LOCK)
    if type(lock) is not _CRLock or _CRLock is None:
        handle._run()
        return 0
    _rlock_enter(lock)
    try:
        if _slot_true(handle, SLOT_CANCELLED):
            return 0
        _run_handle(handle)
    finally:
        _rlock_release(lock)
    return 0


# ------------------------------------------------------------- timers

cdef inline object _timer_when(object handle):
    """handle._when, for any handle."""
    if _handle_kind(type(handle)) == PLAIN_TIMER:
        return _slot_get(handle, SLOT_WHEN)
    return handle._when


cdef inline int _timer_set_scheduled(object handle, object value) except -1:
    """handle._scheduled = value, for any handle."""
    if _handle_kind(type(handle)) == PLAIN_TIMER:
        _slot_set(handle, SLOT_SCHEDULED, value)
    else:
        handle._scheduled = value
    return 0
