# Included by _aio_c.pyx (after handle_slots.pxi): the loop state that the
# compiled methods read on every iteration and call, in slots of
# fastsel.aio.EventLoop, read and written at their offsets.
#
# asyncio keeps its loop's state in the instance __dict__, which compiled
# code reaches only by generic attribute access: a type lookup that finds
# nothing, then a dict lookup, each time. fastsel.aio.EventLoop declares the
# names below in __slots__ (none is a class attribute of asyncio's loops), so
# that each is a member descriptor on the class: asyncio's Python methods,
# tests and mock.patch.object reach them by name as before, and the code
# here reads the pointer at the descriptor's offset.
#
# That holds for EventLoop and for subclasses in which every name still
# finds EventLoop's descriptor, with object's __getattribute__ and
# EventLoop's own __setattr__ (checked once per class, and again when the
# class or a base changes: see includes/typecheck.pxd). Any other loop, and
# an unset slot, gets attribute access, with its AttributeError.

# The slots, by index, and their names (fastsel.aio declares LOOP_SLOT_NAMES).
cdef enum:
    LOOP_READY, LOOP_SCHEDULED, LOOP_SELECTOR, LOOP_DEBUG, LOOP_STOPPING
    LOOP_CLOSED, LOOP_CLOCK_RESOLUTION, LOOP_TIMER_CANCELLED_COUNT
    LOOP_WAKEUP_PENDING, LOOP_WRITE_COALESCER, LOOP_TASK_FACTORY, LOOP_CSOCK
    LOOP_TRANSPORTS, LOOP_RUN_FOREVER_STATE, LOOP_SLOT_COUNT

LOOP_SLOT_NAMES = ("_ready", "_scheduled", "_selector", "_debug", "_stopping",
                   "_closed", "_clock_resolution", "_timer_cancelled_count",
                   "_wakeup_pending", "_write_coalescer", "_task_factory",
                   "_csock", "_transports", "_run_forever_state")

# The class whose slots these are (None: attribute access throughout), the
# descriptors it has under the names, and their offsets.
cdef object _LoopSlotClass = None
cdef tuple _loop_slot_descriptors = ()
cdef Py_ssize_t _loop_slot[LOOP_SLOT_COUNT]
cdef TypeCheck _loop_slots_ok, _loop_slots_bad
cdef object _loop_setattr = loop_setattr  # EventLoop.__setattr__


def use_loop_slots(cls):
    """Read and write the LOOP_SLOT_NAMES of cls's instances (and of its
    subclasses' that keep them) at their offsets. fastsel.aio calls this once,
    with EventLoop; returns whether every name is a slot cls itself made."""
    global _LoopSlotClass, _loop_slot_descriptors
    cdef int which
    cdef void *found
    descriptors = []
    for which in range(LOOP_SLOT_COUNT):
        found = _type_lookup(<PyTypeObject *>cls, LOOP_SLOT_NAMES[which])
        if (found is NULL or fastsel_slot_offset(found) < 0
                or (<object>found).__objclass__ is not cls):
            return False
        descriptors.append(<object>found)
    for which in range(LOOP_SLOT_COUNT):
        _loop_slot[which] = fastsel_slot_offset(<void *>descriptors[which])
    _loop_slot_descriptors = tuple(descriptors)
    _LoopSlotClass = cls
    return True


cdef bint _keeps_loop_slots(object cls) except -1:
    """cls reaches EventLoop's descriptor under every slot name, through
    object's __getattribute__, and sets attributes with EventLoop's
    __setattr__ (which a write at the offset stands for)."""
    cdef int which
    if _LoopSlotClass is None or not issubclass(cls, _LoopSlotClass):
        return False
    if ((<_AttrAccess *>cls).tp_getattro != _GENERIC_GETATTR
            or _type_lookup(<PyTypeObject *>cls, "__setattr__") != <void *>_loop_setattr):
        return False
    for which in range(LOOP_SLOT_COUNT):
        if (_type_lookup(<PyTypeObject *>cls, LOOP_SLOT_NAMES[which])
                != <void *>_loop_slot_descriptors[which]):
            return False
    return True


cdef inline bint _loop_slotted(object loop) except -1:
    """The slots of loop may be used at their offsets."""
    cls = type(loop)
    if type_check_remembers(&_loop_slots_ok, cls):
        return True
    if type_check_remembers(&_loop_slots_bad, cls):
        return False
    if _keeps_loop_slots(cls):
        type_check_remember(&_loop_slots_ok, cls)
        return True
    type_check_remember(&_loop_slots_bad, cls)
    return False


cdef object _lget_by_name(object loop, int which):
    # Out of line, so that the C compiler inlines the offset reads.
    return getattr(loop, <str>LOOP_SLOT_NAMES[which])


cdef inline object _lget(object loop, bint slotted, int which):
    """loop.<name of slot `which`>."""
    cdef PyObject *value
    if slotted:
        value = fastsel_slot_get(loop, _loop_slot[which])
        if value is not NULL:
            return <object>value
    return _lget_by_name(loop, which)


cdef inline object _lget_or_none(object loop, bint slotted, int which):
    """getattr(loop, <name of slot `which`>, None)."""
    cdef PyObject *value
    if slotted:
        value = fastsel_slot_get(loop, _loop_slot[which])
        return <object>value if value is not NULL else None
    return getattr(loop, <str>LOOP_SLOT_NAMES[which], None)


cdef inline bint _ltrue(object loop, bint slotted, int which) except -1:
    """bool(loop.<name of slot `which`>)."""
    cdef PyObject *value
    if slotted:
        value = fastsel_slot_get(loop, _loop_slot[which])
        if value == _PY_TRUE:
            return True
        if value == _PY_FALSE:
            return False
    return _ltrue_by_name(loop, slotted, which)


cdef bint _ltrue_by_name(object loop, bint slotted, int which) except -1:
    return bool(_lget(loop, slotted, which))


cdef inline int _lset(object loop, bint slotted, int which, object value) except -1:
    """loop.<name of slot `which`> = value."""
    if slotted:
        fastsel_slot_set(loop, _loop_slot[which], value)
    else:
        setattr(loop, <str>LOOP_SLOT_NAMES[which], value)
    return 0


def _reads_loop_slots(loop):
    """Whether the compiled methods read loop's state at its offsets (tests)."""
    return _loop_slotted(loop)
