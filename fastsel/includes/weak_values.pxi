# Included by _transport_c.pyx, and declared in its .pxd for _aio_c: the
# loop's _transports (fd -> transport, a weakref.WeakValueDictionary) read
# and written without the Python frames of WeakValueDictionary and KeyedRef.
# Each connection writes it once and every add_reader/add_writer on a socket
# reads it; the stdlib's lookup of a missing fd raises KeyError. The steps
# are the stdlib methods' own, taken only while the mapping is exactly that
# class and it and KeyedRef have their own methods; callers otherwise use
# the mapping.

import weakref as _weakref

from .includes.overrides cimport class_keeps
from .includes.typecheck cimport TypeCheck

cdef object _WeakValueDictionary = _weakref.WeakValueDictionary
cdef object _KeyedRef = _weakref.KeyedRef
# What weakref.ref.__new__(cls, ...) calls, without its argument checks and
# copy.
cdef newfunc _weakref_tp_new = (<PyTypeObject *>_weakref.ref).tp_new
cdef TypeCheck _weak_values_type_ok
cdef TypeCheck _keyed_ref_type_ok
cdef tuple _WEAK_VALUES_METHODS = (
    ("__getitem__", (_WeakValueDictionary.__getitem__,)),
    ("__setitem__", (_WeakValueDictionary.__setitem__,)),
    ("get", (_WeakValueDictionary.get,)),
)
cdef tuple _KEYED_REF_METHODS = (
    ("__new__", (_KeyedRef.__new__,)),
    ("__init__", (_KeyedRef.__init__,)),
)


cdef bint plain_weak_values(object mapping) except -1:
    """mapping is a WeakValueDictionary that the steps below stand in for."""
    return (type(mapping) is _WeakValueDictionary
            and class_keeps(&_weak_values_type_ok, _WeakValueDictionary,
                            _WEAK_VALUES_METHODS)
            and class_keeps(&_keyed_ref_type_ok, _KeyedRef, _KEYED_REF_METHODS))


# Up to 3.13 the mapping defers the removal of dead references while it is
# being iterated, and its methods first drop the deferred ones; from 3.14 it
# removes them at once and keeps no such list.
cdef bint _DEFERS_REMOVALS = hasattr(_WeakValueDictionary(), "_pending_removals")


cdef inline int _commit_weak_removals(object mapping) except -1:
    if _DEFERS_REMOVALS and mapping._pending_removals:
        mapping._commit_removals()
    return 0


cdef object weak_value_or_none(object mapping, object key):
    """mapping.get(key) of a plain_weak_values mapping."""
    _commit_weak_removals(mapping)
    ref = (<dict?>mapping.data).get(key)
    return None if ref is None else ref()


cdef int set_weak_value(object mapping, object key, object value) except -1:
    """mapping[key] = value, for any mapping."""
    if not plain_weak_values(mapping):
        mapping[key] = value
        return 0
    _commit_weak_removals(mapping)
    # KeyedRef(value, mapping._remove, key): the weakref made by ref's own
    # __new__, then its key (KeyedRef's __init__ only hands the same
    # arguments to ref's, which does nothing with them). The callback takes
    # the steps of mapping._remove.
    args = (value, _removal_for(mapping))
    ref = _weakref_tp_new(_KeyedRef, <PyObject *>args, NULL)
    ref.key = key
    (<dict?>mapping.data)[key] = ref
    return 0


cdef object _remove_dead_weakref = __import__("_weakref")._remove_dead_weakref


cdef class _DeadValueRemoval:
    """The steps of a WeakValueDictionary's own `remove` callback, run when
    one of its values dies (the mapping's entry for it dropped, or up to
    3.13, while the mapping is iterated, its key kept for later), without
    that closure's Python frame: the bound method `remove` is the callback
    of the references that set_weak_value makes."""
    cdef object mapping_ref

    def remove(self, dead):
        mapping = self.mapping_ref()
        if mapping is None:
            return
        if _DEFERS_REMOVALS and mapping._iterating:
            mapping._pending_removals.append(dead.key)
        else:
            _remove_dead_weakref(mapping.data, dead.key)


# The last removal made, for its mapping, and its bound `remove`.
cdef _DeadValueRemoval _last_removal = None
cdef object _last_remove = None


cdef object _removal_for(object mapping):
    """The removal callback for mapping's references: the last one made,
    while it is for the same mapping."""
    global _last_removal, _last_remove
    if _last_removal is None or _last_removal.mapping_ref() is not mapping:
        _last_removal = _DeadValueRemoval.__new__(_DeadValueRemoval)
        _last_removal.mapping_ref = _weakref.ref(mapping)
        _last_remove = _last_removal.remove
    return _last_remove
