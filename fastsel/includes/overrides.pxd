# Whether an object still has, under given names, the methods that compiled
# code stands in for. asyncio calls them as self.name(...), which finds an
# attribute set on the instance first, then the class's: a shortcut is exact
# only while neither differs from what it was written against.
#
# `methods` is a tuple of (name, allowed objects) pairs: asyncio's own method
# and, where there is one, the compiled version of it.

from .typecheck cimport TypeCheck, class_keeps

cdef extern from "Python.h":
    ctypedef struct _DictOffset "PyTypeObject":
        Py_ssize_t tp_dictoffset
    ctypedef struct PyObject
    object PyObject_GenericGetDict(object o, void *context)
    bint PyDict_Contains(object d, object key) except -1
    Py_ssize_t PyDict_GET_SIZE(object d)


cdef extern from "includes/dict_version.h":
    ctypedef unsigned long long fastsel_dict_version
    fastsel_dict_version fastsel_dict_version_of(object d)


cdef inline bint _dict_lacks(object instance_dict, tuple methods) except -1:
    """None of the names of `methods` is a key of instance_dict."""
    for pair in methods:
        if PyDict_Contains(instance_dict, (<tuple>pair)[0]):
            return False
    return True


cdef inline bint instance_keeps(object obj, tuple methods) except -1:
    """None of the names is set on obj itself: a lookup per name in its
    __dict__ (which CPython 3.11+ then makes, if the values lived in obj)."""
    cdef object cls = type(obj)
    cdef Py_ssize_t offset = (<_DictOffset *>cls).tp_dictoffset
    cdef PyObject *own_dict
    if offset == 0:
        return True  # no instance dict: nothing can be set on obj
    if offset > 0:
        # The dict pointer at a fixed offset (every class before 3.11, a
        # compiled class's after): nothing is set on obj while that dict is
        # unmade or empty, as it mostly is.
        own_dict = (<PyObject **>(<char *><void *>obj + offset))[0]
        if own_dict == NULL or PyDict_GET_SIZE(<object>own_dict) == 0:
            return True
    return _dict_lacks(PyObject_GenericGetDict(obj, NULL), methods)


cdef inline bint instance_keeps_since(object obj, tuple methods,
                                      fastsel_dict_version *checked) except -1:
    """instance_keeps(obj, methods), where `checked` remembers the version
    of obj's __dict__ when it last held none of the names: while the dict
    keeps that version, its lookups are spared."""
    cdef fastsel_dict_version version
    cdef object cls = type(obj)
    if (<_DictOffset *>cls).tp_dictoffset == 0:
        return True
    instance_dict = PyObject_GenericGetDict(obj, NULL)
    version = fastsel_dict_version_of(instance_dict)
    if version != 0 and version == checked[0]:
        return True
    if not _dict_lacks(instance_dict, methods):
        return False
    checked[0] = version
    return True
