/* An except clause's steps without the traceback entry that compiled code
   makes to catch an exception (a new frame object each time, about 2,000
   instructions): for calls that raise as a matter of course, as TLS calls
   raise SSLWantReadError while they wait for the peer.

   From 3.11, where the exception being handled is one object. Before, the
   call raises as usual and the caller's own except clause catches it. */
#ifndef FASTSEL_HANDLED_H
#define FASTSEL_HANDLED_H

#include <Python.h>

/* func(arg). An exception of `types` that it raises is taken instead and
   given to *caught (a new reference), and None is returned; NULL with any
   other exception set. *caught is NULL when nothing was taken. */
static PyObject *
fastsel_call_catching(PyObject *func, PyObject *arg, PyObject *types, PyObject **caught)
{
    PyObject *result = PyObject_CallOneArg(func, arg);
    *caught = NULL;
#if PY_VERSION_HEX >= 0x030B0000
    if (result == NULL && PyErr_ExceptionMatches(types)) {
#  if PY_VERSION_HEX >= 0x030C0000
        *caught = PyErr_GetRaisedException();
#  else
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyErr_NormalizeException(&type, &value, &traceback);
        if (traceback != NULL)
            PyException_SetTraceback(value, traceback);
        Py_XDECREF(type);
        Py_XDECREF(traceback);
        *caught = value;
#  endif
        Py_RETURN_NONE;
    }
#else
    (void)types;
#endif
    return result;
}

/* body(arg), run as code in an except clause runs: with exc the exception
   being handled (sys.exception(), and the __context__ of what body raises).
   body's result; the exception handled before is restored either way. */
typedef int (*fastsel_body)(PyObject *);

static int
fastsel_run_handling(fastsel_body body, PyObject *arg, PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *previous = PyErr_GetHandledException();
    int status;
    PyErr_SetHandledException(exc);
    status = body(arg);
    PyErr_SetHandledException(previous);
    Py_XDECREF(previous);
    return status;
#else
    (void)exc;
    return body(arg);
#endif
}

#endif
