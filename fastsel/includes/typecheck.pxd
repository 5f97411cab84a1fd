# "This type passed a check", remembered until the type changes: CPython
# gives a type a new version tag whenever it or a base class is modified,
# and never reuses a tag, so (type, tag) identifies what was checked.

cdef extern from "Python.h":
    ctypedef struct _TypeVersion "PyTypeObject":
        unsigned long tp_flags
        unsigned int tp_version_tag
    unsigned long Py_TPFLAGS_VALID_VERSION_TAG

ctypedef struct TypeCheck:
    void *checked_type  # compared, never dereferenced
    unsigned int tag


cdef inline bint type_check_remembers(TypeCheck *check, object cls):
    cdef _TypeVersion *t = <_TypeVersion *>cls
    return (<void *>cls == check.checked_type
            and t.tp_flags & Py_TPFLAGS_VALID_VERSION_TAG
            and t.tp_version_tag == check.tag)


cdef inline void type_check_remember(TypeCheck *check, object cls):
    cdef _TypeVersion *t = <_TypeVersion *>cls
    if t.tp_flags & Py_TPFLAGS_VALID_VERSION_TAG:
        check.checked_type = <void *>cls
        check.tag = t.tp_version_tag
