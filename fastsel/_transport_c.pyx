# cython: language_level=3, boundscheck=False, wraparound=False
"""asyncio's socket transport with its per-request methods compiled.

SocketTransport is asyncio's own _SelectorSocketTransport (a subclass of it:
same attributes, same close/pause/flow control/sendfile code) in which the
methods that run for every request are compiled: _read_ready,
_read_ready__data_received (protocols), _read_ready__get_buffer (buffered
protocols, TLS among them), _read_ready__on_eof, write and is_closing, and
those of flow control on reading: is_reading, pause_reading, resume_reading and
_add_reader (see _transport_reading.pxi). Each does the steps of
the running CPython's version in the same order, with the same checks,
exceptions and messages; the differences between versions are listed in
fastsel._asyncio_versions. Module globals asyncio looks up at call time
(its logger, the lost-connection warning threshold) are looked up at call
time here too, so patching them works as it does on asyncio's transport.
The attributes asyncio's __init__ sets are slots of SocketTransport, which
the compiled methods read and write at their offsets (see
_transport_slots.pxi); a subclass that redefines one of them gets generic
attribute access.

On a plain non-blocking socket.socket (what asyncio always has) the
transport makes recv(2) (for recv and recv_into) and send(2) itself, as the
socket's methods would
(same read size, EINTR retries, results and exceptions), minus their argument
parsing and the release of the GIL around a call that cannot wait. Reads
land in one buffer and are copied out (see includes/sockets.h), so a read
no longer allocates asyncio's max_size of 256 KiB each time.

Writes of one iteration are coalesced: while its loop runs callbacks, a
transport holds back the bytes objects written to it (see WriteCoalescer)
and sends them with one send or sendmsg when the callbacks are done, or
before anything could tell the difference (see send_held_writes).
"""
import _socket
import socket
from asyncio import constants, selector_events

from cpython.exc cimport PyErr_Clear
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject, newfunc
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.ref cimport Py_INCREF, Py_XDECREF

from ._asyncio_versions import has
from .includes.sockets cimport (FASTSEL_SENDV_MAX, fastsel_socket, fastsel_socket_accept,
                                fastsel_socket_address, fastsel_socket_set_nodelay,
                                fastsel_socket_recv, fastsel_socket_recv_into,
                                fastsel_socket_object, fastsel_socket_send,
                                fastsel_socket_sendv)
from .includes.module_attrs cimport ModuleEntry, module_attr
from .includes.typecheck cimport TypeCheck, type_check_remember, type_check_remembers

# How this interpreter's transport differs (see fastsel._asyncio_versions).
cdef bint _BUFFER_IS_DEQUE = has("buffer_is_deque")
cdef bint _COUNTS_BUFFER = has("transport_counts_buffer")
cdef bint _HAS_CONTEXT = has("transport_has_context")
cdef str _WRITE_TYPE_ERROR = (
    "data argument must be a bytes, bytearray, or memoryview object, not {!r}"
    if has("write_error_names_types") else
    "data argument must be a bytes-like object, not {!r}")


cdef extern from "Python.h":
    bint PyMethod_Check(object)
    PyObject *PyMethod_GET_SELF(object)
    PyObject *PyMethod_GET_FUNCTION(object)
    bint PyBytes_CheckExact(object)
    bint PyByteArray_CheckExact(object)
    Py_ssize_t Py_SIZE(object)
    Py_ssize_t PyLong_AsSsize_t(object)
    object PyType_GenericNew(PyTypeObject *type, void *args, void *kwds)


# ------------------------------------------------ recv and send on the fd

cdef object _Socket = socket.socket
cdef object _SOCKET_RECV = _socket.socket.recv
cdef object _SOCKET_RECV_INTO = _socket.socket.recv_into
cdef object _SOCKET_SEND = _socket.socket.send
cdef TypeCheck _socket_methods_ok
cdef TypeCheck _construction_ok
# Whether includes/sockets.h matches this interpreter's socket objects
# (checked at the end of this module's import).
cdef bint _socket_layout_ok = False


cdef inline bint _direct(object sock) except -1:
    """sock is a non-blocking socket.socket whose recv, recv_into and send
    are the C ones: the transport may make their system calls itself
    (anything else, a subclass, a wrapper, a test double, goes through its
    methods)."""
    if (not _socket_layout_ok or type(sock) is not _Socket
            or (<fastsel_socket *>sock).timeout_ns != 0):
        return False
    if not type_check_remembers(&_socket_methods_ok, _Socket):
        if (_Socket.recv is not _SOCKET_RECV or _Socket.recv_into is not _SOCKET_RECV_INTO
                or _Socket.send is not _SOCKET_SEND):
            return False
        type_check_remember(&_socket_methods_ok, _Socket)
    return True


cdef inline object _recv(object sock, object size):
    """sock.recv(size)."""
    cdef Py_ssize_t nbytes
    if type(size) is int and _direct(sock):
        nbytes = PyLong_AsSsize_t(size)
        if nbytes >= 0:
            return fastsel_socket_recv(sock, nbytes)
        PyErr_Clear()  # too large or negative: the method raises its own error
    return sock.recv(size)


cdef inline object _recv_into(object sock, object buffer):
    """sock.recv_into(buffer)."""
    if _direct(sock):
        nbytes = fastsel_socket_recv_into(sock, buffer)
        if nbytes is not NotImplemented:
            return nbytes
    return sock.recv_into(buffer)


cdef inline object _send(object sock, object data):
    """sock.send(data)."""
    if PyBytes_CheckExact(data) and _direct(sock):
        return fastsel_socket_send(sock, data)
    return sock.send(data)


def _reads_slots(transport):
    """Whether the compiled methods read transport's state at its slots'
    offsets (for tests)."""
    return _SlotClass is not None and _slotted(transport)


def _makes_calls_itself(sock):
    """Whether the transport makes recv/send itself on sock (for tests)."""
    return _direct(sock)


def _socket_layout_matches():
    """includes/sockets.h reads fd and timeout right on this interpreter.

    socket.socket must also be the stdlib's class over _socket.socket (a
    library may have replaced it, gevent's wraps a socket instead)."""
    if not (isinstance(_Socket, type) and issubclass(_Socket, _socket.socket)):
        return False
    try:
        a, b = socket.socketpair()
    except OSError:
        return False
    try:
        if type(a) is not _Socket or type(b) is not _Socket:
            return False
        a.setblocking(False)
        b.settimeout(2.5)
        seen = [(<fastsel_socket *>a).fd, (<fastsel_socket *>a).timeout_ns,
                (<fastsel_socket *>b).fd, (<fastsel_socket *>b).timeout_ns,
                (<fastsel_socket *>a).family, (<fastsel_socket *>a).type,
                (<fastsel_socket *>a).proto]
        b.setblocking(True)
        blocking = (<fastsel_socket *>b).timeout_ns  # negative (-1 s)
        expected = [a.fileno(), 0, b.fileno(), 2_500_000_000,
                    a.family, a.type, a.proto]
        a.close()
        return seen == expected and blocking < 0 and (<fastsel_socket *>a).fd == -1
    finally:
        a.close()
        b.close()


cdef inline bint _sent_whole(object data, object sent):
    """True when `sent` bytes are all of data, known without slicing it.

    Only for exact bytes and bytearray, where data[n:] (or a memoryview of
    it) is empty exactly then and slicing has no other effect: the write
    path then skips making an empty slice to test."""
    return ((PyBytes_CheckExact(data) or PyByteArray_CheckExact(data))
            and type(sent) is int and sent == Py_SIZE(data))


include "_transport_slots.pxi"


cdef int _read_ready_data(object transport) except -1:
    """_SelectorSocketTransport._read_ready__data_received (alike in every
    mirrored version)."""
    cdef bint s = _slotted(transport)
    if _get(transport, s, _CONN_LOST, "_conn_lost"):
        return 0
    try:
        data = _recv(_get(transport, s, _SOCK, "_sock"), transport.max_size)
    except (BlockingIOError, InterruptedError):
        return 0
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        transport._fatal_error(exc, 'Fatal read error on socket transport')
        return 0

    if not data:
        transport._read_ready__on_eof()
        return 0

    try:
        _get(transport, s, _PROTOCOL, "_protocol").data_received(data)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        transport._fatal_error(
            exc, 'Fatal error: protocol.data_received() call failed.')
    return 0


cdef int _read_eof(object transport) except -1:
    """_SelectorSocketTransport._read_ready__on_eof (alike in every mirrored
    version): the protocol's eof_received() decides between closing and
    only no longer reading."""
    cdef bint s = _slotted(transport)
    loop = _get(transport, s, _LOOP, "_loop")
    if _loop_debug(loop):
        selector_events.logger.debug("%r received EOF", transport)
    try:
        keep_open = _get(transport, s, _PROTOCOL, "_protocol").eof_received()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        transport._fatal_error(
            exc, 'Fatal error: protocol.eof_received() call failed.')
        return 0
    if keep_open:
        _loop_remove_io(loop, _get(transport, s, _SOCK_FD, "_sock_fd"), True)
    else:
        transport.close()
    return 0


cdef BufferedCall _get_buffer_hook = NULL
cdef BufferedCall _buffer_updated_hook = NULL


cdef int set_buffered_hooks(BufferedCall get_buffer, BufferedCall buffer_updated) except -1:
    global _get_buffer_hook, _buffer_updated_hook
    _get_buffer_hook = get_buffer
    _buffer_updated_hook = buffer_updated
    return 0


cdef inline object _get_buffer(object protocol):
    """protocol.get_buffer(-1)."""
    if _get_buffer_hook is not NULL:
        buf = _get_buffer_hook(protocol, -1)
        if buf is not NotImplemented:
            return buf
    return protocol.get_buffer(-1)


cdef inline int _buffer_updated(object protocol, object nbytes) except -1:
    """protocol.buffer_updated(nbytes)."""
    if (_buffer_updated_hook is NULL
            or _buffer_updated_hook(protocol, nbytes) is NotImplemented):
        protocol.buffer_updated(nbytes)
    return 0


cdef int _read_ready_buffer(object transport) except -1:
    """_SelectorSocketTransport._read_ready__get_buffer (alike in every
    mirrored version):
    the read path of buffered protocols, asyncio's TLS protocol among them."""
    cdef bint s = _slotted(transport)
    if _get(transport, s, _CONN_LOST, "_conn_lost"):
        return 0
    try:
        buf = _get_buffer(_get(transport, s, _PROTOCOL, "_protocol"))
        if not len(buf):
            raise RuntimeError('get_buffer() returned an empty buffer')
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        transport._fatal_error(exc, 'Fatal error: protocol.get_buffer() call failed.')
        return 0

    try:
        nbytes = _recv_into(_get(transport, s, _SOCK, "_sock"), buf)
    except (BlockingIOError, InterruptedError):
        return 0
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        transport._fatal_error(exc, 'Fatal read error on socket transport')
        return 0

    if not nbytes:
        transport._read_ready__on_eof()
        return 0

    try:
        _buffer_updated(_get(transport, s, _PROTOCOL, "_protocol"), nbytes)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        transport._fatal_error(exc, 'Fatal error: protocol.buffer_updated() call failed.')
    return 0


include "includes/weak_values.pxi"
include "_transport_lifecycle.pxi"


cdef int _count_lost_write(object transport, bint s) except -1:
    """What write() does once the connection is lost: count, and warn past
    asyncio's threshold."""
    if _get(transport, s, _CONN_LOST, "_conn_lost") >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
        selector_events.logger.warning('socket.send() raised exception.')
    _set(transport, s, _CONN_LOST, "_conn_lost",
         _get(transport, s, _CONN_LOST, "_conn_lost") + 1)
    return 0


cdef int _wait_writable(object transport, bint s) except -1:
    """Send the buffer when the socket is writable (from 3.15 in the
    transport's context)."""
    fd = _get(transport, s, _SOCK_FD, "_sock_fd")
    if _WRITE_READY_ATTRIBUTE:
        write_ready = _get(transport, s, _WRITE_READY, "_write_ready")
    else:
        write_ready = transport._write_ready
    if _HAS_CONTEXT:
        transport._add_writer(fd, write_ready)
    else:
        _loop_add_io(_get(transport, s, _LOOP, "_loop"), fd, write_ready, (), None, False)
    return 0


cdef int _buffer_data(object transport, bint s, object data) except -1:
    """Append data to the transport's buffer of unsent data."""
    if _BUFFER_IS_DEQUE:
        _get(transport, s, _BUFFER, "_buffer").append(data)
    else:
        _get(transport, s, _BUFFER, "_buffer").extend(data)
    if _COUNTS_BUFFER:
        _set(transport, s, _BUFFER_SIZE, "_buffer_size",
             _get(transport, s, _BUFFER_SIZE, "_buffer_size") + len(data))
    return 0


# ------------------------------------------- writes coalesced per iteration

cdef class WriteCoalescer:
    """One loop's record of the transports holding writes back.

    Between hold() and flush() (the loop runs them around its callbacks),
    writes of bytes made in the loop's thread to a transport with an empty
    buffer are held back; flush() sends each transport's writes with one
    system call. Outside that window, from other threads, and on loops
    without a coalescer, write() sends at once, as asyncio's does."""

    def __cinit__(self):
        self.thread = 0
        self.held = NULL
        self.count = 0
        self.capacity = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.count):
            Py_XDECREF(self.held[i])
        PyMem_Free(self.held)

    cdef int hold(self) except -1:
        self.thread = PyThread_get_thread_ident()
        return 0

    cdef int add(self, object transport) except -1:
        """Keep (a reference to) transport until flush()."""
        cdef PyObject **grown
        cdef Py_ssize_t capacity
        if self.count == self.capacity:
            capacity = self.capacity * 2 if self.capacity else 8
            grown = <PyObject **>PyMem_Realloc(self.held, capacity * sizeof(PyObject *))
            if grown is NULL:
                raise MemoryError()
            self.held = grown
            self.capacity = capacity
        Py_INCREF(transport)
        self.held[self.count] = <PyObject *>transport
        self.count += 1
        return 0

    cdef int flush(self) except -1:
        """Send the held writes of each transport, the latest first (a
        transport added while this runs is sent too)."""
        cdef PyObject *taken
        self.thread = 0
        while self.count:
            self.count -= 1
            taken = self.held[self.count]
            self.held[self.count] = NULL
            transport = <object>taken  # a new reference...
            Py_XDECREF(taken)  # ...replacing the array's
            _send_held(transport)
        return 0


cdef bint _hold_back(object transport, bint s, object data) except -1:
    """Hold data back to go out with the transport's other writes of this
    iteration; True when data was taken (held, or sent with those).

    Only exact bytes (which cannot change before they are sent), while the
    buffer is empty and the transport makes its system calls itself. The
    held bytes stay at or below the high-water mark: asyncio's buffer,
    which holds part of them at most, could not have paused the protocol;
    the write that would pass the mark sends them all at once, and the
    protocol is paused in that write() if asyncio's would be."""
    cdef Py_ssize_t size
    coalescer = _get(transport, s, _WRITE_COALESCER, "_write_coalescer")
    if (not isinstance(coalescer, WriteCoalescer)
            or (<WriteCoalescer>coalescer).thread != PyThread_get_thread_ident()
            or not PyBytes_CheckExact(data) or _get(transport, s, _BUFFER, "_buffer")
            or not _direct(_get(transport, s, _SOCK, "_sock"))):
        return False
    held = _get(transport, s, _HELD_WRITES, "_held_writes")
    size = Py_SIZE(data)
    if held is None:
        # One write: held as it is (most responses are one write).
        if size > _get(transport, s, _HIGH_WATER, "_high_water"):
            return False
        _set(transport, s, _HELD_WRITES, "_held_writes", data)
        _set(transport, s, _HELD_SIZE, "_held_size", size)
        (<WriteCoalescer>coalescer).add(transport)
        return True
    if PyBytes_CheckExact(held):
        held = [held, data]
        _set(transport, s, _HELD_WRITES, "_held_writes", held)
    else:
        (<list>held).append(data)
    size += _get(transport, s, _HELD_SIZE, "_held_size")
    _set(transport, s, _HELD_SIZE, "_held_size", size)
    if (size > _get(transport, s, _HIGH_WATER, "_high_water")
            or len(<list>held) >= FASTSEL_SENDV_MAX):
        _send_held(transport)
    return True


cdef inline object _held_item(object held, Py_ssize_t i):
    """Write i of a transport's _held_writes: one bytes object, or a list
    of them."""
    return held if PyBytes_CheckExact(held) else (<list>held)[i]


cdef int _send_held(object transport) except -1:
    """Send the writes held back on transport, with the outcome of asyncio's
    write() of each in turn: what the kernel did not take waits in the
    buffer for the socket to be writable (the protocol is paused past the
    high-water mark); an error is the transport's fatal write error, and
    the writes after the one it failed count as writes after the
    connection was lost."""
    cdef Py_ssize_t sent, i, count
    cdef bint blocked = False
    cdef bint s = _slotted(transport)
    held = _get(transport, s, _HELD_WRITES, "_held_writes")
    if held is None:
        return 0
    _set(transport, s, _HELD_WRITES, "_held_writes", None)
    count = 1 if PyBytes_CheckExact(held) else len(<list>held)
    sock = _get(transport, s, _SOCK, "_sock")
    try:
        if count == 1:
            n = _send(sock, _held_item(held, 0))
        elif _direct(sock):
            n = fastsel_socket_sendv(sock, held)
        else:  # the socket changed since (a timeout set): its own send
            n = sock.send(b"".join(held))
    except (BlockingIOError, InterruptedError):
        n = 0
        blocked = True
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        transport._fatal_error(exc, 'Fatal write error on socket transport')
        for i in range(count - 1):
            _count_lost_write(transport, s)
        return 0
    sent = n
    i = 0
    while i < count and sent >= Py_SIZE(_held_item(held, i)):
        sent -= Py_SIZE(_held_item(held, i))
        i += 1
    if i == count:
        return 0
    _wait_writable(transport, s)
    data = _held_item(held, i)
    if not blocked:
        data = memoryview(data)[sent:] if _BUFFER_IS_DEQUE else data[sent:]
    _buffer_data(transport, s, data)
    for i in range(i + 1, count):
        _buffer_data(transport, s, _held_item(held, i))
    transport._maybe_pause_protocol()
    return 0


cdef inline int send_held_writes(object transport) except -1:
    """Send the writes transport holds back, if any: the first step of
    whatever uses its buffer or shows its state."""
    if _get(transport, _slotted(transport), _HELD_WRITES, "_held_writes") is not None:
        _send_held(transport)
    return 0


# SocketTransport's own _read_ready__data_received and _read_ready__get_buffer.
cdef object _DATA_RECEIVED = None
cdef object _GET_BUFFER = None


cdef int _read_ready(object transport) except -1:
    """_SelectorSocketTransport._read_ready: self._read_ready_cb(), where
    a method of SocketTransport bound to transport is called directly."""
    callback = _get(transport, _slotted(transport), _READ_READY_CB, "_read_ready_cb")
    if PyMethod_Check(callback) and PyMethod_GET_SELF(callback) is <PyObject *>transport:
        function = <object>PyMethod_GET_FUNCTION(callback)
        if function is _DATA_RECEIVED:
            return _read_ready_data(transport)
        if function is _GET_BUFFER:
            return _read_ready_buffer(transport)
    callback()
    return 0


cdef int _write(object self, object data) except -1:
    """_SelectorSocketTransport.write, its bytes possibly held back to go
    out with the transport's other writes of this iteration."""
    cdef bint s
    if not (PyBytes_CheckExact(data) or isinstance(data, (bytes, bytearray, memoryview))):
        raise TypeError(_WRITE_TYPE_ERROR.format(type(data).__name__))
    s = _slotted(self)
    if _get(self, s, _EOF, "_eof"):
        raise RuntimeError('Cannot call write() after write_eof()')
    if _get(self, s, _EMPTY_WAITER, "_empty_waiter") is not None:
        raise RuntimeError('unable to write; sendfile is in progress')
    if not data:
        return 0

    if _get(self, s, _CONN_LOST, "_conn_lost"):
        _count_lost_write(self, s)
        return 0

    if _hold_back(self, s, data):
        return 0
    if _get(self, s, _HELD_WRITES, "_held_writes") is not None:
        # Held writes go first (this one may not be held back).
        _send_held(self)
        if _get(self, s, _CONN_LOST, "_conn_lost"):
            _count_lost_write(self, s)
            return 0

    if not _get(self, s, _BUFFER, "_buffer"):
        # Try to send now, as asyncio does.
        try:
            n = _send(_get(self, s, _SOCK, "_sock"), data)
        except (BlockingIOError, InterruptedError):
            pass
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal write error on socket transport')
            return 0
        else:
            if _sent_whole(data, n):
                return 0
            data = memoryview(data)[n:] if _BUFFER_IS_DEQUE else data[n:]
            if not data:
                return 0
        # Not all was written: send the rest when the socket is writable.
        _wait_writable(self, s)

    _buffer_data(self, s, data)
    self._maybe_pause_protocol()
    return 0


include "_transport_reading.pxi"


_Base = selector_events._SelectorSocketTransport


class SocketTransport(_Base):
    """asyncio's socket transport, its construction, read, write and close
    paths compiled, its writes coalesced per loop iteration."""

    # The attributes asyncio's __init__ sets, and fastsel's own: the loop's
    # WriteCoalescer (set by fastsel.aio.EventLoop), and the writes held
    # back for it (one bytes object, or a list of them) with their size in
    # bytes (see _transport_slots.pxi).
    __slots__ = _SLOTS

    def __new__(cls, *args, **kwargs):
        self = _Base.__new__(cls)
        _set_slot_defaults(self)
        return self

    if _HAS_CONTEXT:
        def __init__(self, loop, sock, protocol, waiter=None, extra=None,
                     server=None, context=None):
            if not _asyncio_lifecycle(type(self)):
                _Base.__init__(self, loop, sock, protocol, waiter, extra,
                               server, context=context)
            else:
                _init_transport(self, loop, sock, protocol, waiter, extra,
                                server, context)
    else:
        def __init__(self, loop, sock, protocol, waiter=None, extra=None,
                     server=None):
            if not _asyncio_lifecycle(type(self)):
                _Base.__init__(self, loop, sock, protocol, waiter, extra, server)
            else:
                _init_transport(self, loop, sock, protocol, waiter, extra,
                                server, None)

    def __del__(self):
        # asyncio's __del__ acts only on a transport that still has its
        # socket (it warns and closes it): most are freed closed, and skip
        # its Python frame.
        if (not _asyncio_lifecycle(type(self))
                or _get(self, _slotted(self), _SOCK, "_sock") is not None):
            _Base.__del__(self)

    def _call_connection_lost(self, exc):
        if not _asyncio_lifecycle(type(self)):
            _Base._call_connection_lost(self, exc)
        else:
            _call_connection_lost(self, exc)

    def is_closing(self):
        # Asked by every StreamWriter.drain(). A held write that fails
        # closes the transport: it is sent first.
        send_held_writes(self)
        return _get(self, _slotted(self), _CLOSING, "_closing")

    def _read_ready(self):
        _read_ready(self)

    def is_reading(self):
        return _is_reading(self)

    def pause_reading(self):
        _pause_reading(self)

    def resume_reading(self):
        _resume_reading(self)

    def _add_reader(self, fd, callback, *args):
        _add_transport_reader(self, fd, callback, args)

    def _read_ready__data_received(self):
        _read_ready_data(self)

    def _read_ready__get_buffer(self):
        _read_ready_buffer(self)

    def _read_ready__on_eof(self):
        _read_eof(self)

    def write(self, data):
        _write(self, data)

    # What asyncio's transport does with its buffer (or lets a caller see of
    # it) comes after the held writes are sent.

    def get_write_buffer_size(self):
        send_held_writes(self)
        return _Base.get_write_buffer_size(self)

    def writelines(self, list_of_data):
        send_held_writes(self)
        return _Base.writelines(self, list_of_data)

    def write_eof(self):
        send_held_writes(self)
        return _Base.write_eof(self)

    def close(self):
        send_held_writes(self)
        if not _asyncio_lifecycle(type(self)):
            _Base.close(self)
        else:
            _close(self)

    def _force_close(self, exc):
        # abort() and fatal errors.
        send_held_writes(self)
        if not _asyncio_lifecycle(type(self)):
            _Base._force_close(self, exc)
        else:
            _force_close(self, exc)

    def _make_empty_waiter(self):
        # sendfile waits for the buffer to be empty.
        send_held_writes(self)
        return _Base._make_empty_waiter(self)


_socket_layout_ok = _socket_layout_matches()
_init_slots(SocketTransport)
cdef object _SocketTransport = SocketTransport
cdef object _own_new = SocketTransport.__dict__["__new__"]
cdef object _own_init = SocketTransport.__dict__["__init__"]


cdef bint _plain_construction(object cls) except -1:
    """Making cls(...) runs SocketTransport's own __new__ and __init__, with
    asyncio's lifecycle: what new_socket_transport does in their place.
    Remembered until the class or a base changes."""
    if type_check_remembers(&_construction_ok, cls):
        return True
    if (cls.__dict__.get("__new__") is not _own_new
            or cls.__dict__.get("__init__") is not _own_init
            or not _asyncio_lifecycle(cls)):
        return False
    type_check_remember(&_construction_ok, cls)
    return True


cdef object new_socket_transport(object loop, object sock, object protocol,
                                 object waiter, object extra, object server,
                                 object context, object coalescer):
    """SocketTransport(loop, sock, protocol, waiter, extra, server[,
    context]) writing through `coalescer` (the loop's WriteCoalescer), made
    without the Python frames of its __new__ and __init__ where those are
    SocketTransport's own."""
    cls = _SocketTransport
    if _plain_construction(cls):
        transport = PyType_GenericNew(<PyTypeObject *>cls, NULL, NULL)
        _set_slot_defaults(transport)
        _init_transport(transport, loop, sock, protocol, waiter, extra, server,
                        context)
    elif _HAS_CONTEXT:
        transport = cls(loop, sock, protocol, waiter, extra, server,
                        context=context)
    else:
        transport = cls(loop, sock, protocol, waiter, extra, server)
    _set(transport, _slotted(transport), _WRITE_COALESCER, "_write_coalescer",
         coalescer)
    return transport
_DATA_RECEIVED = SocketTransport.__dict__["_read_ready__data_received"]
_GET_BUFFER = SocketTransport.__dict__["_read_ready__get_buffer"]
