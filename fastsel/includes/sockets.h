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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

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

/* sock.recv_into(buffer): the whole of a writable buffer. For anything
   else NotImplemented, for the caller to call the method (its argument
   parsing makes the error). */
static PyObject *
fastsel_socket_recv_into(PyObject *sock, PyObject *buffer)
{
    Py_buffer view;
    ssize_t n;
    if (PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    n = fastsel_recv_retrying(sock, (char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
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

/* An IPv4 address as CPython's makesockaddr gives it, the host in the text
   inet_ntop writes (which glibc makes with sprintf, the largest cost of a
   new connection's address). */
static PyObject *
fastsel_ipv4_host(const struct in_addr *in)
{
    const unsigned char *octet = (const unsigned char *)&in->s_addr;
    char text[sizeof("255.255.255.255")], *end = text;
    PyObject *host;
    for (int i = 0; i < 4; i++) {
        unsigned int v = octet[i];
        if (i > 0)
            *end++ = '.';
        if (v >= 100)
            *end++ = (char)('0' + v / 100);
        if (v >= 10)
            *end++ = (char)('0' + v / 10 % 10);
        *end++ = (char)('0' + v % 10);
    }
    host = PyUnicode_New(end - text, 127);
    if (host != NULL)
        memcpy(PyUnicode_1BYTE_DATA(host), text, end - text);
    return host;
}

/* An AF_INET or AF_INET6 address as CPython's makesockaddr makes it:
   (host, port) or (host, port, flowinfo, scope_id); None for an empty one. */
static PyObject *
fastsel_ip_address(const struct sockaddr_storage *addr, socklen_t addrlen)
{
    char host[INET6_ADDRSTRLEN];
    if (addrlen == 0)
        Py_RETURN_NONE;  /* as CPython's makesockaddr */
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        PyObject *text, *port, *address;
        text = fastsel_ipv4_host(&a->sin_addr);
        if (text == NULL)
            return NULL;
        port = PyLong_FromLong(ntohs(a->sin_port));
        if (port == NULL) {
            Py_DECREF(text);
            return NULL;
        }
        address = PyTuple_New(2);
        if (address == NULL) {
            Py_DECREF(text);
            Py_DECREF(port);
            return NULL;
        }
        PyTuple_SET_ITEM(address, 0, text);
        PyTuple_SET_ITEM(address, 1, port);
        return address;
    }
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("siII", host, ntohs(a->sin6_port),
                             ntohl(a->sin6_flowinfo), a->sin6_scope_id);
    }
    PyErr_SetString(PyExc_OSError, "an address of another family");
    return NULL;
}

/* _socket.socket.__new__(cls), then _socket.socket.__init__ of it with
   init_args: the C functions those call (the type's tp_new and tp_init),
   called directly, without the method wrappers' argument checks and
   copies. cls is a subclass of _socket.socket, c_socket_type. */
static PyObject *
fastsel_socket_object(PyObject *c_socket_type, PyObject *cls, PyObject *init_args)
{
    PyTypeObject *base = (PyTypeObject *)c_socket_type;
    PyObject *no_args = PyTuple_New(0);
    PyObject *sock;
    if (no_args == NULL)
        return NULL;
    sock = base->tp_new((PyTypeObject *)cls, no_args, NULL);
    Py_DECREF(no_args);
    if (sock == NULL)
        return NULL;
    if (base->tp_init(sock, init_args, NULL) < 0) {
        Py_DECREF(sock);
        return NULL;
    }
    return sock;
}

/* sock.getsockname() (peer: sock.getpeername()) of an AF_INET or AF_INET6
   socket, with None where the method raises OSError (as a transport's
   construction keeps it); NotImplemented for other families. */
static PyObject *
fastsel_socket_address(PyObject *sock, int peer)
{
    fastsel_socket *s = (fastsel_socket *)sock;
    struct sockaddr_storage addr;
    socklen_t addrlen = sizeof(addr);
    int failed;
    if (s->family != AF_INET && s->family != AF_INET6)
        Py_RETURN_NOTIMPLEMENTED;
    memset(&addr, 0, sizeof(addr));
    if (peer)
        failed = getpeername(s->fd, (struct sockaddr *)&addr, &addrlen) < 0;
    else
        failed = getsockname(s->fd, (struct sockaddr *)&addr, &addrlen) < 0;
    if (failed)
        Py_RETURN_NONE;
    return fastsel_ip_address(&addr, addrlen);
}

/* sock.getsockopt(SOL_SOCKET, SO_ERROR), with its OSError. */
static PyObject *
fastsel_socket_error(PyObject *sock)
{
    int error = 0;
    socklen_t size = sizeof(error);
    if (getsockopt(((fastsel_socket *)sock)->fd, SOL_SOCKET, SO_ERROR,
                   &error, &size) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyLong_FromLong(error);
}

/* sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1), with its OSError. */
static int
fastsel_socket_set_nodelay(PyObject *sock)
{
#ifdef TCP_NODELAY
    int on = 1;
    if (setsockopt(((fastsel_socket *)sock)->fd, IPPROTO_TCP, TCP_NODELAY,
                   &on, sizeof(on)) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
#else
    (void)sock;
    PyErr_SetString(PyExc_OSError, "no TCP_NODELAY here");
    return -1;
#endif
}

/* sock._accept() of a non-blocking AF_INET or AF_INET6 socket: the new fd
   (close-on-exec) and the peer's address as _socket.socket._accept returns
   them (nonblocking: with O_NONBLOCK set on the new fd in the same call),
   with its retries on EINTR and its exceptions, except that when no
   connection waits the result is None and no exception is set (_accept
   raises BlockingIOError, whose making is most of an accept loop's cost in
   user space: every readiness ends with one). Other families and sockets
   with a timeout: NotImplemented, for the caller to call _accept. */
static PyObject *
fastsel_socket_accept(PyObject *sock, int nonblocking)
{
#ifdef SOCK_CLOEXEC
    fastsel_socket *s = (fastsel_socket *)sock;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    PyObject *address, *result, *fd_object;
    int fd;
    if (s->timeout_ns != 0 || (s->family != AF_INET && s->family != AF_INET6))
        Py_RETURN_NOTIMPLEMENTED;
    for (;;) {
        addrlen = sizeof(addr);
        memset(&addr, 0, sizeof(addr));
        fd = accept4(s->fd, (struct sockaddr *)&addr, &addrlen,
                     SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
        if (fd >= 0)
            break;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            Py_RETURN_NONE;
        if (!fastsel_retry_after_error())
            return NULL;
    }
    address = fastsel_ip_address(&addr, addrlen);
    if (address == NULL) {
        close(fd);
        return NULL;
    }
    result = PyTuple_New(2);
    fd_object = PyLong_FromLong(fd);
    if (result == NULL || fd_object == NULL) {
        Py_XDECREF(result);
        Py_XDECREF(fd_object);
        Py_DECREF(address);
        close(fd);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, fd_object);
    PyTuple_SET_ITEM(result, 1, address);
    return result;
#else
    /* No accept4 (macOS): CPython's _accept marks the new fd itself. */
    (void)sock;
    (void)nonblocking;
    Py_RETURN_NOTIMPLEMENTED;
#endif
}


/* Whether socket.inet_pton(family, text) would succeed (asyncio's test of a
   numeric host), for text an ASCII str without NUL, which that call passes
   to the C function unchanged: 1 or 0. -1 for any other str, whose call the
   caller makes, with the exceptions it raises. */
static int
fastsel_is_address(int family, PyObject *text)
{
    unsigned char packed[sizeof(struct in6_addr)];
    const char *chars;
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(text))
        return -1;
#endif
    if (!PyUnicode_IS_ASCII(text))
        return -1;
    chars = (const char *)PyUnicode_DATA(text);
    if ((Py_ssize_t)strlen(chars) != PyUnicode_GET_LENGTH(text))
        return -1;
    return inet_pton(family, chars, packed) == 1;
}

#endif
