# Methods of asyncio's loop replaced on a loop *instance*, as tests do with
# mock.patch.object(loop, "time", ...). Looking in the instance's __dict__ on
# every call would cost more than some of the shortcuts save (on 3.11+ it
# also makes the loop keep a real dict): EventLoop's __setattr__ and
# __delattr__ note instead whether an attribute ever shadowed one of its
# class's, and only from then on are loop instances searched.

cdef extern from "Python.h":
    int PyObject_GenericSetAttr(object o, object name, object value) except -1
    int PyObject_GenericDelAttr "PyObject_GenericSetAttr"(
        object o, object name, void *null) except -1
    void *_PyType_Lookup(PyTypeObject *cls, object name)
    ctypedef struct _DescriptorSet "PyTypeObject":
        void *tp_descr_set

# Whether any EventLoop has had an attribute set that shadows its class's.
cdef bint _loop_shadowing_seen = False


cdef inline int _note_shadowing(object loop, object name) except -1:
    global _loop_shadowing_seen
    cdef void *found
    cdef object cls = type(loop)
    if _loop_shadowing_seen:
        return 0
    found = _PyType_Lookup(<PyTypeObject *>cls, name)
    # A data descriptor (EventLoop's slots, a property with a setter) takes
    # the value itself: nothing lands in the instance's dict.
    if found != NULL and (<_DescriptorSet *>Py_TYPE(<object>found)).tp_descr_set == NULL:
        _loop_shadowing_seen = True
    return 0


def loop_setattr(self, name, value):
    """EventLoop.__setattr__: object's, noting a shadowed class attribute."""
    _note_shadowing(self, name)
    PyObject_GenericSetAttr(self, name, value)


def loop_delattr(self, name):
    """EventLoop.__delattr__: object's (see loop_setattr)."""
    _note_shadowing(self, name)
    PyObject_GenericDelAttr(self, name, NULL)


def loop_shadowing_seen():
    """Whether loop instances are searched for replaced methods (tests)."""
    return _loop_shadowing_seen


# A loop class that keeps these notes what is set on its instances.
cdef tuple _NOTES_SHADOWING = (
    ("__setattr__", (loop_setattr,)),
    ("__delattr__", (loop_delattr,)),
)


cdef inline bint loop_keeps(TypeCheck *check, object loop,
                            tuple methods) except -1:
    """loop's class and loop itself leave the methods as they were: asyncio's
    self.name(...) would run one of the allowed methods under every name.
    `methods` ends with _NOTES_SHADOWING."""
    return (class_keeps(check, type(loop), methods)
            and (not _loop_shadowing_seen or instance_keeps(loop, methods)))
