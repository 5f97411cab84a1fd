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
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

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

/* Reads of up to this size (asyncio's max_size) land in one buffer and are
   copied out into bytes of what arrived, where socket.recv allocates the
   whole size per read and shrinks it after: glibc can serve each such
   allocation with mmap and munmap. The GIL guards the buffer: no Python code
   runs between a read and its copy. */
#define FASTSEL_READ_BUFFER_SIZE (256 * 1024)
static char fastsel_read_buffer[FASTSEL_READ_BUFFER_SIZE];

/* After a system call failed: 1 to retry it (EINTR, and the signal
   handlers did not raise), 0 with the exception set otherwise. */
static int
fastsel_retry_after_error(void)
{
    if (errno != EINTR) {
        PyErr_SetFromErrno(PyExc_OSError);
        return 0;
    }
    return PyErr_CheckSignals() == 0;
}

static ssize_t
fastsel_recv_retrying(PyObject *sock, char *buf, Py_ssize_t size)
{
    ssize_t n;
    for (;;) {
        n = recv(((fastsel_socket *)sock)->fd, buf, (size_t)size, 0);
        if (n >= 0)
            return n;
        if (!fastsel_retry_after_error())
            return -1;
    }
}

static PyObject *
fastsel_socket_recv(PyObject *sock, Py_ssize_t size)
{
    PyObject *data;
    ssize_t n;
    if (size <= FASTSEL_READ_BUFFER_SIZE) {
        n = fastsel_recv_retrying(sock, fastsel_read_buffer, size);
        return n < 0 ? NULL : PyBytes_FromStringAndSize(fastsel_read_buffer, n);
    }
    data = PyBytes_FromStringAndSize(NULL, size);
    if (data == NULL)
        return NULL;
    n = fastsel_recv_retrying(sock, PyBytes_AS_STRING(data), size);
    if (n < 0) {
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
        if (!fastsel_retry_after_error())
            return NULL;
    }
}

/* The same for several exact bytes objects, written in order with one
   sendmsg(2) (socket.sendmsg(list) does the same call). count is at most
   FASTSEL_SENDV_MAX. */
#define FASTSEL_SENDV_MAX 64

static PyObject *
fastsel_socket_sendv(PyObject *sock, PyObject *chunks)
{
    struct iovec iov[FASTSEL_SENDV_MAX];
    struct msghdr msg;
    Py_ssize_t i, count = PyList_GET_SIZE(chunks);
    ssize_t n;
    if (count > FASTSEL_SENDV_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many buffers for one sendmsg");
        return NULL;
    }
    for (i = 0; i < count; i++) {
        PyObject *chunk = PyList_GET_ITEM(chunks, i);
        iov[i].iov_base = PyBytes_AS_STRING(chunk);
        iov[i].iov_len = (size_t)PyBytes_GET_SIZE(chunk);
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)count;
    for (;;) {
        n = sendmsg(((fastsel_socket *)sock)->fd, &msg, 0);
        if (n >= 0)
            return PyLong_FromSsize_t(n);
        if (!fastsel_retry_after_error())
            return NULL;
    }
}

#endif
