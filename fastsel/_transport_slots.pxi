# The transport's state in slots, read and written by the compiled methods
# at their offsets (included by _transport_c.pyx).
#
# asyncio keeps a socket transport's state in its instance __dict__ (only
# _extra, _loop, _protocol_paused, _high_water and _low_water are slots of
# its base classes), which compiled code can only reach through generic
# attribute access: a type lookup and a dict lookup per read. SocketTransport
# gives the names asyncio's __init__ sets (those of the running version) and
# fastsel's own slots instead: member descriptors, which asyncio's methods,
# tests and mock.patch.object read and write by name as before, and which
# the functions below read and write at the offset the descriptor gives.
#
# That holds for SocketTransport and for subclasses in which every one of
# those names still finds the same member descriptor, with the generic
# __getattribute__ and __setattr__ (checked once per class, and again when
# the class or a base changes). Any other class, one defining a property or
# a slot of its own under one of the names say, gets generic attribute
# access throughout. An unset slot reads through getattr too, so that it
# raises asyncio's AttributeError.
cdef extern from "includes/handle_slots.h":
    Py_ssize_t fastsel_slot_offset(void *descr)
    PyObject *fastsel_slot_get(object obj, Py_ssize_t offset)
    void fastsel_slot_set(object obj, Py_ssize_t offset, object value)

cdef extern from "Python.h":
    void *FASTSEL_GENERIC_GETATTRO "((void *)PyObject_GenericGetAttr)"
    void *FASTSEL_GENERIC_SETATTRO "((void *)PyObject_GenericSetAttr)"
    ctypedef struct _AttrSlots "PyTypeObject":
        void *tp_getattro
        void *tp_setattro

# The names asyncio's socket transport sets on itself in this version,
# and fastsel's own (see SocketTransport).
_OWN_SLOTS = ("_write_coalescer", "_held_writes", "_held_size")
_SLOTS = (("_sock", "_sock_fd", "_protocol", "_protocol_connected", "_server",
           "_buffer", "_conn_lost", "_closing", "_paused", "_eof",
           "_empty_waiter", "_read_ready_cb")
          + (("_write_ready",) if has("write_ready_is_attribute") else ())
          + (("_buffer_size",) if _COUNTS_BUFFER else ())
          + (("_context",) if _HAS_CONTEXT else ())
          + _OWN_SLOTS)
# The slots asyncio's base classes have (BaseTransport, _FlowControlMixin),
# which its __init__ sets too.
_BASE_SLOTS = ("_extra", "_loop", "_protocol_paused", "_high_water", "_low_water")
# What a new transport has under those names before its __init__ runs:
# asyncio's class attributes (_sock = None), fastsel's defaults.
_SLOT_DEFAULTS = (
    tuple((name, getattr(selector_events._SelectorSocketTransport, name))
          for name in _SLOTS
          if hasattr(selector_events._SelectorSocketTransport, name))
    + (("_write_coalescer", None), ("_held_writes", None), ("_held_size", 0)))

# Offsets in a SocketTransport (-1: not a slot in this version).
cdef Py_ssize_t _SOCK = -1, _SOCK_FD = -1, _PROTOCOL = -1, _PROTOCOL_CONNECTED = -1
cdef Py_ssize_t _SERVER = -1, _BUFFER = -1, _CONN_LOST = -1, _CLOSING = -1
cdef Py_ssize_t _PAUSED = -1, _EOF = -1, _EMPTY_WAITER = -1, _READ_READY_CB = -1
cdef Py_ssize_t _WRITE_READY = -1, _BUFFER_SIZE = -1, _CONTEXT = -1
cdef Py_ssize_t _WRITE_COALESCER = -1, _HELD_WRITES = -1, _HELD_SIZE = -1
# asyncio's own slots, of BaseTransport and _FlowControlMixin.
cdef Py_ssize_t _EXTRA = -1, _LOOP = -1, _PROTOCOL_PAUSED = -1, _HIGH_WATER = -1
cdef Py_ssize_t _LOW_WATER = -1

# (offset, value) for each of _SLOT_DEFAULTS, once the offsets are known.
cdef list _slot_default_offsets = []

# name -> the member descriptor that SocketTransport finds under it (its
# own slots, and those of its asyncio base classes, _BASE_SLOTS).
cdef dict _descriptors = {}
cdef object _SlotClass = None  # SocketTransport, once defined
cdef TypeCheck _slots_own_ok, _slots_sub_ok, _slots_sub_bad


cdef Py_ssize_t _member_offset(object cls, str name) except -2:
    """The offset of the object slot cls has under name, after checking
    that it is one (see includes/handle_slots.h); -1 otherwise."""
    descriptor = getattr(cls, name, None)
    cdef Py_ssize_t offset = fastsel_slot_offset(<void *>descriptor)
    if offset >= 0:
        _descriptors[name] = descriptor
    return offset


cdef int _init_slots(object cls) except -1:
    """Take the offsets from cls (SocketTransport)."""
    global _SlotClass, _SOCK, _SOCK_FD, _PROTOCOL, _PROTOCOL_CONNECTED, _SERVER
    global _BUFFER, _CONN_LOST, _CLOSING, _PAUSED, _EOF, _EMPTY_WAITER
    global _READ_READY_CB, _WRITE_READY, _BUFFER_SIZE, _CONTEXT
    global _WRITE_COALESCER, _HELD_WRITES, _HELD_SIZE
    global _EXTRA, _LOOP, _PROTOCOL_PAUSED, _HIGH_WATER, _LOW_WATER
    offsets = {name: _member_offset(cls, name) for name in _SLOTS + _BASE_SLOTS}
    if -1 in offsets.values():
        return 0  # not as expected: generic access throughout
    _SOCK = offsets["_sock"]
    _SOCK_FD = offsets["_sock_fd"]
    _PROTOCOL = offsets["_protocol"]
    _PROTOCOL_CONNECTED = offsets["_protocol_connected"]
    _SERVER = offsets["_server"]
    _BUFFER = offsets["_buffer"]
    _CONN_LOST = offsets["_conn_lost"]
    _CLOSING = offsets["_closing"]
    _PAUSED = offsets["_paused"]
    _EOF = offsets["_eof"]
    _EMPTY_WAITER = offsets["_empty_waiter"]
    _READ_READY_CB = offsets["_read_ready_cb"]
    _WRITE_READY = offsets.get("_write_ready", -1)
    _BUFFER_SIZE = offsets.get("_buffer_size", -1)
    _CONTEXT = offsets.get("_context", -1)
    _WRITE_COALESCER = offsets["_write_coalescer"]
    _HELD_WRITES = offsets["_held_writes"]
    _HELD_SIZE = offsets["_held_size"]
    _EXTRA = offsets["_extra"]
    _LOOP = offsets["_loop"]
    _PROTOCOL_PAUSED = offsets["_protocol_paused"]
    _HIGH_WATER = offsets["_high_water"]
    _LOW_WATER = offsets["_low_water"]
    _slot_default_offsets[:] = [(offsets[name], value) for name, value in _SLOT_DEFAULTS]
    _SlotClass = cls
    return 0


cdef bint _keeps_slots(object cls) except -1:
    """Every slotted name of cls finds SocketTransport's member descriptor,
    through generic attribute access (so cls is a subclass of it)."""
    if not issubclass(cls, _SlotClass):
        return False
    if ((<_AttrSlots *>cls).tp_getattro != FASTSEL_GENERIC_GETATTRO
            or (<_AttrSlots *>cls).tp_setattro != FASTSEL_GENERIC_SETATTRO):
        return False
    for name, descriptor in _descriptors.items():
        for klass in cls.__mro__:
            found = klass.__dict__.get(name, _descriptors)  # _descriptors: absent
            if found is not _descriptors:
                if found is not descriptor:
                    return False
                break
        else:
            return False
    return True


cdef inline bint _slotted(object transport) except -1:
    """The compiled methods may use the slots of transport at their offsets."""
    cls = type(transport)
    if cls is _SlotClass:
        if type_check_remembers(&_slots_own_ok, cls):
            return True
        if not _keeps_slots(cls):
            return False
        type_check_remember(&_slots_own_ok, cls)
        return True
    if _SlotClass is None or type_check_remembers(&_slots_sub_bad, cls):
        return False
    if type_check_remembers(&_slots_sub_ok, cls):
        return True
    if _keeps_slots(cls):
        type_check_remember(&_slots_sub_ok, cls)
        return True
    type_check_remember(&_slots_sub_bad, cls)
    return False


cdef inline object _get(object transport, bint slotted, Py_ssize_t offset, str name):
    """transport.<name>."""
    cdef PyObject *value
    if slotted:
        value = fastsel_slot_get(transport, offset)
        if value is not NULL:
            return <object>value
    return getattr(transport, name)


cdef inline int _set(object transport, bint slotted, Py_ssize_t offset, str name,
                     object value) except -1:
    """transport.<name> = value."""
    if slotted:
        fastsel_slot_set(transport, offset, value)
    else:
        setattr(transport, name, value)
    return 0


cdef int _set_slot_defaults(object transport) except -1:
    """Give a new transport what it has under the slot names before its
    __init__ runs (_SLOT_DEFAULTS)."""
    cdef Py_ssize_t offset
    if _slotted(transport):
        for offset, value in _slot_default_offsets:
            _set(transport, True, offset, "", value)
    else:
        for name, value in _SLOT_DEFAULTS:
            setattr(transport, name, value)
    return 0
