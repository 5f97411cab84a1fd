/* Building selectors.SelectorKey instances from C.

   SelectorKey is a namedtuple, whose Python-level __new__ is slow to call.
   Its instances are plain tuples of a heap subtype, so they are allocated
   through the type and filled in place, as CPython's own structseq does. */
#ifndef FASTSEL_KEYS_H
#define FASTSEL_KEYS_H
#include <Python.h>

static inline PyObject *
fastsel_make_key(PyObject *key_type, PyObject *fileobj, PyObject *fd,
                 PyObject *events, PyObject *data)
{
    PyTypeObject *type = (PyTypeObject *)key_type;
    PyObject *key = type->tp_alloc(type, 4);
    if (key == NULL)
        return NULL;
#if PY_VERSION_HEX >= 0x030E0000
    /* 3.14 caches tuple hashes; -1 means "not computed yet". */
    ((PyTupleObject *)key)->ob_hash = -1;
#endif
    Py_INCREF(fileobj);
    PyTuple_SET_ITEM(key, 0, fileobj);
    Py_INCREF(fd);
    PyTuple_SET_ITEM(key, 1, fd);
    Py_INCREF(events);
    PyTuple_SET_ITEM(key, 2, events);
    Py_INCREF(data);
    PyTuple_SET_ITEM(key, 3, data);
    return key;
}

#endif
