/* The leading fields of CPython's socket object (PySocketSockObject in
   Modules/socketmodule.h, the same on POSIX from 3.5 to 3.14), which the
   compiled transport reads to call recv/send itself. The header is not
   installed with Python, hence this declaration; fastsel._transport_c checks
   it against real sockets at import and keeps to socket methods if it does
   not match. Only for POSIX, where the fd is an int. */
#ifndef FASTSEL_SOCKETS_H
#define FASTSEL_SOCKETS_H

#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    PyObject_HEAD
    int fd;                            /* -1 once closed */
    int family;
    int type;
    int proto;
    PyObject *(*errorhandler)(void);
    int64_t timeout_ns;                /* 0: non-blocking, < 0: blocking */
} fastsel_socket;


/* sock.recv(size) and sock.send(data) for a non-blocking socket: the same
   system call, retries on EINTR (running signal handlers in between), result
   and exceptions as socket.socket's methods, without their argument parsing
   and with the GIL kept, as a non-blocking call does not wait. */

static PyObject *
fastsel_socket_recv(PyObject *sock, Py_ssize_t size)
{
    PyObject *data = PyBytes_FromStringAndSize(NULL, size);
    ssize_t n;
    if (data == NULL)
        return NULL;
    for (;;) {
        n = recv(((fastsel_socket *)sock)->fd, PyBytes_AS_STRING(data), (size_t)size, 0);
        if (n >= 0)
            break;
        if (errno == EINTR) {
            if (PyErr_CheckSignals() == 0)
                continue;
        }
        else {
            PyErr_SetFromErrno(PyExc_OSError);
        }
        Py_DECREF(data);
        return NULL;
    }
    if (n != size && _PyBytes_Resize(&data, n) < 0)
        return NULL;
    return data;
}

static PyObject *
fastsel_socket_send(PyObject *sock, PyObject *data)
{
    ssize_t n;
    for (;;) {
        n = send(((fastsel_socket *)sock)->fd, PyBytes_AS_STRING(data),
                 (size_t)PyBytes_GET_SIZE(data), 0);
        if (n >= 0)
            return PyLong_FromSsize_t(n);
        if (errno != EINTR)
            return PyErr_SetFromErrno(PyExc_OSError);
        if (PyErr_CheckSignals() < 0)
            return NULL;
    }
}

#endif
