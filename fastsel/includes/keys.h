/* Building selectors.SelectorKey instances from C.

   SelectorKey is a namedtuple: calling it goes through a Python-level __new__.
   tuple's own tp_new builds an instance of a tuple subclass from an argument
   tuple, with every interpreter-private field (such as the cached hash of
   3.14) initialised by CPython itself. */
#ifndef FASTSEL_KEYS_H
#define FASTSEL_KEYS_H
#include <Python.h>

static inline PyObject *
fastsel_make_key(PyObject *key_type, PyObject *fileobj, PyObject *fd,
                 PyObject *events, PyObject *data)
{
    PyObject *items = PyTuple_Pack(4, fileobj, fd, events, data);
    if (items == NULL)
        return NULL;
    PyObject *args = PyTuple_Pack(1, items);
    Py_DECREF(items);
    if (args == NULL)
        return NULL;
    PyObject *key = PyTuple_Type.tp_new((PyTypeObject *)key_type, args, NULL);
    Py_DECREF(args);
    return key;
}

#endif
