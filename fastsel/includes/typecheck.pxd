# "This type passed a check", remembered until the type changes: CPython
# gives a type a new version tag whenever it or a base class is modified,
# and never reuses a tag, so (type, tag) identifies what was checked.

from cpython.version cimport PY_VERSION_HEX

cdef extern from "Python.h":
    ctypedef struct _TypeVersion "PyTypeObject":
        unsigned long tp_flags
        unsigned int tp_version_tag
    unsigned long Py_TPFLAGS_VALID_VERSION_TAG

ctypedef struct TypeCheck:
    void *checked_type  # compared, never dereferenced
    unsigned int tag


cdef inline bint _has_version_tag(_TypeVersion *t):
    # Up to 3.12 a flag says whether tp_version_tag is valid; from 3.13 the
    # flag is no longer kept and a tag of 0 means none.
    if PY_VERSION_HEX >= 0x030D0000:
        return t.tp_version_tag != 0
    return t.tp_flags & Py_TPFLAGS_VALID_VERSION_TAG != 0


cdef inline bint type_check_remembers(TypeCheck *check, object cls):
    cdef _TypeVersion *t = <_TypeVersion *>cls
    return (<void *>cls == check.checked_type
            and _has_version_tag(t)
            and t.tp_version_tag == check.tag)


cdef inline void type_check_remember(TypeCheck *check, object cls):
    cdef _TypeVersion *t = <_TypeVersion *>cls
    if _has_version_tag(t):
        check.checked_type = <void *>cls
        check.tag = t.tp_version_tag
