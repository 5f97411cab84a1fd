/* "This type passed a check", remembered until the type changes: CPython
   gives a type a new version tag whenever it or a base class is modified,
   and never reuses a tag, so (type, tag) identifies what was checked.

   Compiled code asks this of every loop, transport and protocol it is about
   to stand in for, several times per callback: the remembered case is
   forced inline (a C compiler weighing a large module would otherwise leave
   it a call), the first check of a type stays out of line. */
#ifndef FASTSEL_TYPECHECK_H
#define FASTSEL_TYPECHECK_H

#include <Python.h>

#if defined(__GNUC__) || defined(__clang__)
#  define FASTSEL_ALWAYS_INLINE static inline __attribute__((always_inline))
#  define FASTSEL_OUT_OF_LINE static __attribute__((noinline, unused))
#else
#  define FASTSEL_ALWAYS_INLINE static inline
#  define FASTSEL_OUT_OF_LINE static
#endif

typedef struct {
    void *checked_type;  /* compared, never dereferenced */
    unsigned int tag;
} fastsel_type_check;

FASTSEL_ALWAYS_INLINE int fastsel_has_version_tag(PyTypeObject *t) {
    /* Up to 3.12 a flag says whether tp_version_tag is valid; from 3.13 the
       flag is no longer kept and a tag of 0 means none. */
#if PY_VERSION_HEX >= 0x030D0000
    return t->tp_version_tag != 0;
#else
    return (t->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) != 0;
#endif
}

FASTSEL_ALWAYS_INLINE int fastsel_type_check_remembers(const fastsel_type_check *check,
                                                       PyObject *cls) {
    PyTypeObject *t = (PyTypeObject *)cls;
    return (void *)cls == check->checked_type && fastsel_has_version_tag(t)
           && t->tp_version_tag == check->tag;
}

static inline void fastsel_type_check_remember(fastsel_type_check *check, PyObject *cls) {
    PyTypeObject *t = (PyTypeObject *)cls;
    if (fastsel_has_version_tag(t)) {
        check->checked_type = (void *)cls;
        check->tag = t->tp_version_tag;
    }
}

/* cls has, under each name of `methods` (a tuple of (name, allowed objects)
   pairs), one of the allowed objects, as getattr(cls, name, None) finds it.
   1, 0, or -1 with an exception set. */
FASTSEL_OUT_OF_LINE int fastsel_class_keeps_checked(fastsel_type_check *check, PyObject *cls,
                                                    PyObject *methods) {
    Py_ssize_t i;
    for (i = 0; i < PyTuple_GET_SIZE(methods); i++) {
        PyObject *pair = PyTuple_GET_ITEM(methods, i);
        PyObject *found = PyObject_GetAttr(cls, PyTuple_GET_ITEM(pair, 0));
        int allowed;
        if (found == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear();
            Py_INCREF(Py_None);
            found = Py_None;
        }
        allowed = PySequence_Contains(PyTuple_GET_ITEM(pair, 1), found);
        Py_DECREF(found);
        if (allowed <= 0)
            return allowed;
    }
    fastsel_type_check_remember(check, cls);
    return 1;
}

/* The same, remembered in check until cls (or a base) changes. */
FASTSEL_ALWAYS_INLINE int fastsel_class_keeps(fastsel_type_check *check, PyObject *cls,
                                              PyObject *methods) {
    if (fastsel_type_check_remembers(check, cls))
        return 1;
    return fastsel_class_keeps_checked(check, cls, methods);
}

#endif
