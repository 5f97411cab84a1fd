# cython: language_level=3, boundscheck=False, wraparound=False
"""asyncio's TLS protocol with its per-record methods compiled.

SSLProtocol is a subclass of asyncio.sslproto.SSLProtocol (CPython 3.11+,
the memory-BIO design shared by 3.11-3.15) and SSLProtocolTransport one of
its _SSLProtocolTransport. Compiled here are the methods that run for every
TLS record: receiving ciphertext (get_buffer, buffer_updated), decrypting it
for the application (_do_read, _do_read__copied), encrypting what the
application writes (write, _write_appdata, _do_write, _process_outgoing)
and the flow-control checks after each; and those that run once per
connection (_sslproto_lifecycle.pxi): the handshake, the shutdown,
connection_lost. Each takes the steps of asyncio's version in the same
order, with the same checks, exceptions and log messages. The timeout
checks, aborts and error paths stay asyncio's own code.

Decrypted bytes land in the protocol's receive buffer (free again once
buffer_updated has fed the ciphertext to the incoming BIO) and are copied
out into bytes of what was read, where asyncio's SSLObject.read(max_size)
allocates max_size (256 KiB) for every read and shrinks it: on glibc that
allocation is an mmap, an mremap and a munmap per read unless the process's
malloc threshold happens to have risen above it. The application gets the
same bytes objects. That receive buffer is allocated unfilled, where asyncio
fills it with zeros for every connection. A small read of ciphertext goes to
the incoming MemoryBIO as bytes, not as a memoryview slice (see _received).

One step is skipped when its outcome is known (on the stdlib's SSLObject;
a context's sslobject_class sees asyncio's calls): asyncio reads from the
SSLObject until it raises SSLWantReadError. When the incoming BIO is empty
(and not at EOF) and OpenSSL holds no decrypted bytes, that read can only
raise SSLWantReadError, so it is not made: building that exception is the
largest Python-level cost of a small TLS read.

The methods call each other directly, not through attributes: replacing
one of them on an instance is not seen by the others (use a subclass). The
socket transport calls get_buffer and buffer_updated without a method call
too (set_buffered_hooks), but only while neither is replaced on SSLProtocol
or set on the instance, and reads max_size from the class while the
instance has none of its own; a version tag of the instance's __dict__ spares
those checks their lookups while the dict is unchanged (up to 3.13).

The attributes those methods read (the state, the SSLObject and its
BIOs, the flow-control flags and limits, the write backlog and its size,
the receive buffer; the loop, the waiter, the application transport, the
timeouts and their handles) live in C fields of RecordState,
a base class in front of asyncio's SSLProtocol: asyncio's own methods read
and set them as before, through the fields' descriptors, and the compiled
ones read them without a dictionary lookup. They are not in the instance's
__dict__.
"""
import _ssl
import ssl
import types
import warnings
from asyncio import constants, sslproto

from cpython.bytearray cimport (
    PyByteArray_AS_STRING, PyByteArray_FromStringAndSize, PyByteArray_GET_SIZE)
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF

from ._asyncio_versions import has
from ._aio_c cimport cancel_timer, loop_call_later, loop_call_soon, loop_debug
from ._transport_c cimport set_buffered_hooks
from .includes.handled cimport fastsel_call_catching, fastsel_run_handling
from .includes.module_attrs cimport ModuleEntry, module_attr
from .includes.overrides cimport class_keeps, instance_keeps_since
from .includes.typecheck cimport TypeCheck

_State = sslproto.SSLProtocolState
cdef object _DO_HANDSHAKE = _State.DO_HANDSHAKE
cdef object _WRAPPED = _State.WRAPPED
cdef object _FLUSHING = _State.FLUSHING
cdef object _SHUTDOWN = _State.SHUTDOWN
cdef object _UNWRAPPED = _State.UNWRAPPED
cdef object _AGAIN_ERRORS = sslproto.SSLAgainErrors
# 3.14+: the application transport also counts as closing once the socket
# transport under it is.
cdef bint _ASKS_SOCKET_TRANSPORT = has("tls_closing_follows_socket_transport")

# ssl.SSLObject's read, write, pending, do_handshake, unwrap, getpeercert,
# cipher and compression only pass their arguments on to the _ssl object it
# wraps (its _sslobj; unwrap calls its shutdown), alike in 3.11-3.15;
# calling that one directly saves a Python frame per call.
cdef object _SSLObject = ssl.SSLObject
cdef tuple _SSLOBJECT_METHODS = tuple(
    (name, (getattr(_SSLObject, name),))
    for name in ("read", "write", "pending", "do_handshake", "unwrap", "getpeercert",
                 "cipher", "compression"))
cdef TypeCheck _sslobject_kept


cdef inline bint _stdlib_methods() except -1:
    """Whether ssl.SSLObject's read, write and pending are the stdlib's."""
    return class_keeps(&_sslobject_kept, _SSLObject, _SSLOBJECT_METHODS)


cdef inline object _unwrapped(RecordState self, object sslobj):
    """What to call SSLObject's methods on: the _ssl object under sslobj when
    sslobj is an ssl.SSLObject whose methods are still the stdlib's (not a
    context's sslobject_class subclass, not patched); sslobj otherwise. The
    _ssl object of the protocol's SSLObject is kept after the first look."""
    if type(sslobj) is not _SSLObject or not _stdlib_methods():
        return sslobj
    if sslobj is not self._unwrapped_of:
        self._unwrapped_ssl = sslobj._sslobj
        self._unwrapped_of = sslobj
    return self._unwrapped_ssl


# The C types under ssl.MemoryBIO and ssl.SSLObject are immutable: their
# getters and methods are called straight from their descriptors, without
# looking the name up on every call.
cdef extern from "Python.h":
    ctypedef object (*_getter)(object, void *)
    ctypedef struct PyGetSetDef:
        _getter get
        void *closure
    ctypedef struct PyGetSetDescrObject:
        PyGetSetDef *d_getset

cdef object _MemoryBIO = ssl.MemoryBIO
# The class of SSLObject._sslobj.
cdef object _SSLSocket = _ssl._SSLSocket
cdef object _BIO_READ = _MemoryBIO.read
cdef object _BIO_WRITE = _MemoryBIO.write
cdef object _SSL_READ = _SSLSocket.read
cdef object _SSL_WRITE = _SSLSocket.write
cdef object _SSL_PENDING = _SSLSocket.pending
cdef object _SSL_DO_HANDSHAKE = _SSLSocket.do_handshake
cdef object _SSL_SHUTDOWN = _SSLSocket.shutdown


cdef PyGetSetDef *_getset(object cls, str name) except? NULL:
    descr = cls.__dict__.get(name)
    if type(descr) is not types.GetSetDescriptorType:
        return NULL
    return (<PyGetSetDescrObject *><void *>descr).d_getset

cdef PyGetSetDef *_BIO_PENDING = _getset(_MemoryBIO, 'pending')
cdef PyGetSetDef *_BIO_EOF = _getset(_MemoryBIO, 'eof')


cdef inline object _bio_pending(object bio):
    if type(bio) is _MemoryBIO and _BIO_PENDING is not NULL:
        return _BIO_PENDING.get(bio, _BIO_PENDING.closure)
    return bio.pending


cdef inline object _bio_eof(object bio):
    if type(bio) is _MemoryBIO and _BIO_EOF is not NULL:
        return _BIO_EOF.get(bio, _BIO_EOF.closure)
    return bio.eof


cdef inline object _bio_read(object bio):
    if type(bio) is _MemoryBIO:
        return _BIO_READ(bio)
    return bio.read()


cdef inline object _bio_write(object bio, object data):
    if type(bio) is _MemoryBIO:
        return _BIO_WRITE(bio, data)
    return bio.write(data)


cdef inline object _ssl_pending(object sslobj):
    if type(sslobj) is _SSLSocket:
        return _SSL_PENDING(sslobj)
    return sslobj.pending()


cdef inline object _ssl_write(object sslobj, object data):
    if type(sslobj) is _SSLSocket:
        return _SSL_WRITE(sslobj, data)
    return sslobj.write(data)


# SSLObject.do_handshake() and unwrap() (shutdown() on the _ssl object) are
# called where their SSLWantReadError is caught: one that passed through a
# helper function would cost a second traceback entry.


cdef extern from "Python.h":
    ctypedef struct Py_buffer:
        void *buf
        Py_ssize_t len
    Py_buffer *PyMemoryView_GET_BUFFER(object view)
    Py_ssize_t PyLong_AsSsize_t(object number)  # -1 with an error past its range
    void PyErr_Clear()
    ctypedef struct _AttrAccess "PyTypeObject":
        void *tp_getattro
    void *_GENERIC_GETATTR "((void *)PyObject_GenericGetAttr)"
    void *_type_lookup "_PyType_Lookup"(PyTypeObject *cls, object name)

include "includes/deques.pxi"

# The names of the class that compiled code reads without asking the
# instance: set on an instance, each is read from it as asyncio would.
cdef tuple _CLASS_NAMES = (("get_buffer", ()), ("buffer_updated", ()), ("max_size", ()))


cdef inline bint _reads_the_class(RecordState self) except -1:
    """self.<one of _CLASS_NAMES> is the class's: attribute access is
    object's and the instance has none of them (its __dict__ unchanged
    since that was last found, or looked at again)."""
    cdef object cls = type(self)
    return ((<_AttrAccess *>cls).tp_getattro == _GENERIC_GETATTR
            and instance_keeps_since(self, _CLASS_NAMES, &self._dict_checked))


cdef inline object _max_size(RecordState self):
    """self.max_size: the class's int, found without a lookup in the
    instance's __dict__ where it cannot be there."""
    cdef void *found
    cdef object cls = type(self)
    if _reads_the_class(self):
        found = _type_lookup(<PyTypeObject *>cls, "max_size")
        if found is not NULL and type(<object>found) is int:
            return <object>found
    return self.max_size


cdef class RecordState:
    """The per-record attributes of asyncio's SSLProtocol as C fields; see
    the module docstring. Only a base class of SSLProtocol."""


# ------------------------------------------------------------ incoming flow

# Up to this many bytes received, buffer_updated hands them to the incoming
# BIO as a bytes copy rather than a memoryview slice: the BIO copies them
# either way, and a small copy costs less than making a memoryview.
cdef Py_ssize_t _COPIED_READ_MAX = 2048


cdef inline object _received(RecordState self, object nbytes):
    """self._ssl_buffer_view[:nbytes], the ciphertext a read left in the
    receive buffer; for a small read into asyncio's own buffer and view,
    bound for a MemoryBIO, a bytes object of the same bytes."""
    cdef Py_ssize_t count
    view = self._ssl_buffer_view
    buffer = self._ssl_buffer
    if (type(nbytes) is int and type(view) is memoryview and type(buffer) is bytearray
            and type(self._incoming) is _MemoryBIO
            and PyMemoryView_GET_BUFFER(view).buf == <void *>PyByteArray_AS_STRING(buffer)):
        count = PyLong_AsSsize_t(nbytes)
        if 0 <= count <= _COPIED_READ_MAX and count <= PyMemoryView_GET_BUFFER(view).len:
            return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(buffer), count)
        if count == -1:
            PyErr_Clear()  # out of range (or -1): the slice below decides
    return view[:nbytes]

cdef inline bint _nothing_to_read(object sslobj, object incoming) except -1:
    """A read from sslobj now could only raise SSLWantReadError: no
    ciphertext is waiting, no EOF was fed, no plaintext is buffered."""
    return (not _bio_pending(incoming) and not _bio_eof(incoming)
            and not _ssl_pending(sslobj))


cdef inline object _read_buffer(RecordState self, object sslobj, object max_size):
    """The bytearray _read_copied may read into: the protocol's receive
    buffer, free once buffer_updated has fed its bytes to the incoming BIO,
    when sslobj is the _ssl object and the buffer holds max_size bytes;
    None otherwise."""
    buffer = self._ssl_buffer
    if (type(buffer) is not bytearray or type(max_size) is not int
            or type(sslobj) is not _SSLSocket):
        return None
    if not 0 < max_size <= PyByteArray_GET_SIZE(buffer):
        return None
    return buffer


cdef int _read_copied(RecordState self) except -1:
    """SSLProtocol._do_read__copied: decrypt what is there and hand it to
    the application's data_received in one piece."""
    sslobj = _unwrapped(self, self._sslobj)
    incoming = self._incoming
    max_size = _max_size(self)
    buffer = _read_buffer(self, sslobj, max_size)
    cdef bint shortcut = type(sslobj) is _SSLSocket
    chunk = b'1'
    first = None
    joined = None
    cdef Py_ssize_t chunks = 0, count
    try:
        while True:
            # sslobj.read(max_size), into `buffer` (a bytearray of at least
            # max_size bytes) and copied out where there is one. Made here,
            # not in a helper: its SSLWantReadError, caught below, then
            # gets no traceback entry, which compiled code makes at a cost.
            if buffer is None:
                chunk = sslobj.read(max_size)
            else:
                count = _SSL_READ(sslobj, max_size, buffer)
                chunk = (PyBytes_FromStringAndSize(PyByteArray_AS_STRING(buffer), count)
                         if count else b'')
            if not chunk:
                break
            if chunks == 0:
                first = chunk
            elif chunks == 1:
                joined = [first, chunk]
            else:
                joined.append(chunk)
            chunks += 1
            # Only on the _ssl object: an sslobject_class of the context
            # sees the calls asyncio makes, and no others.
            if shortcut and _nothing_to_read(sslobj, incoming):
                break
    except _AGAIN_ERRORS:
        pass
    if chunks == 1:
        self._app_protocol.data_received(first)
    elif chunks > 1:
        self._app_protocol.data_received(b''.join(joined))
    if not chunk:
        # close_notify
        self._call_eof_received()
        self._start_shutdown()
    return 0


cdef int _do_read(RecordState self) except -1:
    """SSLProtocol._do_read."""
    state = self._state
    if state is not _WRAPPED and state is not _FLUSHING:
        return 0
    try:
        if not self._app_reading_paused:
            if self._app_protocol_is_buffer:
                self._do_read__buffered()
            else:
                _read_copied(self)
            if self._write_backlog:
                _do_write(self)
            else:
                _process_outgoing(self)
        _control_ssl_reading(self)
    except Exception as ex:
        self._fatal_error(ex, 'Fatal error on SSL protocol')
    return 0


cdef int _control_ssl_reading(RecordState self) except -1:
    """SSLProtocol._control_ssl_reading: pause or resume the socket."""
    size = _bio_pending(self._incoming)
    if size >= self._incoming_high_water and not self._ssl_reading_paused:
        self._ssl_reading_paused = True
        self._transport.pause_reading()
    elif size <= self._incoming_low_water and self._ssl_reading_paused:
        self._ssl_reading_paused = False
        self._transport.resume_reading()
    return 0


cdef object _get_buffer(RecordState self, object n):
    """SSLProtocol.get_buffer: the receive buffer (made larger first when
    asked for more than it holds, up to max_size)."""
    want = n
    if want <= 0 or want > _max_size(self):
        want = _max_size(self)
    if len(self._ssl_buffer) < want:
        self._ssl_buffer = bytearray(want)
        self._ssl_buffer_view = memoryview(self._ssl_buffer)
    return self._ssl_buffer_view


cdef int _buffer_updated(RecordState self, object nbytes) except -1:
    """SSLProtocol.buffer_updated: feed what was received to the incoming
    BIO, then take the step the state calls for."""
    _bio_write(self._incoming, _received(self, nbytes))
    state = self._state
    if state is _DO_HANDSHAKE:
        self._do_handshake()
    elif state is _WRAPPED:
        _do_read(self)
    elif state is _FLUSHING:
        self._do_flush()
    elif state is _SHUTDOWN:
        self._do_shutdown()
    return 0


# ------------------------------------------------------------ outgoing flow

cdef int _write_appdata(RecordState self, object list_of_data) except -1:
    """SSLProtocol._write_appdata."""
    state = self._state
    if state is _FLUSHING or state is _SHUTDOWN or state is _UNWRAPPED:
        if self._conn_lost >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            sslproto.logger.warning('SSL connection is closed')
        self._conn_lost += 1
        return 0

    backlog = self._write_backlog
    for data in list_of_data:
        _append(backlog, data)
        self._write_buffer_size += len(data)

    try:
        if self._state is _WRAPPED:
            _do_write(self)
    except Exception as ex:
        self._fatal_error(ex, 'Fatal error on SSL protocol')
    return 0


cdef int _do_write(RecordState self) except -1:
    """SSLProtocol._do_write: encrypt the backlog, then send the records."""
    backlog = self._write_backlog
    sslobj = _unwrapped(self, self._sslobj)
    try:
        while backlog:
            data = backlog[0]
            count = _ssl_write(sslobj, data)
            data_len = len(data)
            if count < data_len:
                backlog[0] = data[count:]
                self._write_buffer_size -= count
            else:
                del backlog[0]
                self._write_buffer_size -= data_len
    except _AGAIN_ERRORS:
        pass
    _process_outgoing(self)
    return 0


cdef int _process_outgoing(RecordState self) except -1:
    """SSLProtocol._process_outgoing."""
    if not self._ssl_writing_paused:
        data = _bio_read(self._outgoing)
        if len(data):
            self._transport.write(data)
    _control_app_writing(self)
    return 0


cdef int _process_outgoing_of(object self) except -1:
    return _process_outgoing(<RecordState>self)


cdef int _process_outgoing_handling(RecordState self, PyObject *again) except -1:
    """_process_outgoing as asyncio runs it in the except clause that caught
    `again` (an SSLWantReadError or alike, a reference this takes over from
    fastsel_call_catching): with `again` the exception being handled."""
    exc = <object>again
    Py_DECREF(exc)
    return fastsel_run_handling(_process_outgoing_of, self, exc)


cdef int _control_app_writing(RecordState self) except -1:
    """SSLProtocol._control_app_writing: pause or resume the application."""
    size = _bio_pending(self._outgoing) + self._write_buffer_size
    if size >= self._outgoing_high_water and not self._app_writing_paused:
        self._app_writing_paused = True
        _call_app_flow_control(self, 'pause_writing')
    elif size <= self._outgoing_low_water and self._app_writing_paused:
        self._app_writing_paused = False
        _call_app_flow_control(self, 'resume_writing')
    return 0


cdef int _call_app_flow_control(RecordState self, str name) except -1:
    try:
        getattr(self._app_protocol, name)()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        self._loop.call_exception_handler({
            'message': f'protocol.{name}() failed',
            'exception': exc,
            'transport': self._app_transport,
            'protocol': self,
        })
    return 0


include "_sslproto_lifecycle.pxi"


class SSLProtocolTransport(sslproto._SSLProtocolTransport):
    """asyncio's TLS application transport, its construction, write() and
    close() compiled."""

    def __init__(self, loop, ssl_protocol):
        self._loop = loop
        self._ssl_protocol = ssl_protocol
        self._closed = False

    def is_closing(self):
        # Asked by every StreamWriter.drain().
        if self._closed or not _ASKS_SOCKET_TRANSPORT:
            return self._closed
        return self._ssl_protocol._is_transport_closing()

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data: expecting a bytes-like instance, "
                            f"got {type(data).__name__}")
        if not data:
            return
        protocol = self._ssl_protocol
        if isinstance(protocol, RecordState):
            _write_appdata(<RecordState>protocol, (data,))
        else:  # None once closed twice: asyncio's AttributeError
            protocol._write_appdata((data,))

    def close(self):
        if not self._closed:
            self._closed = True
            protocol = self._ssl_protocol
            if isinstance(protocol, RecordState):
                _start_shutdown(<RecordState>protocol)
            else:
                protocol._start_shutdown()
        else:
            self._ssl_protocol = None

    def __del__(self, _warnings=warnings):
        # Run for every connection: compiled, it costs no Python frame.
        if not self._closed:
            self._closed = True
            _warnings.warn(
                "unclosed transport <asyncio._SSLProtocolTransport "
                "object>", ResourceWarning)


class SSLProtocol(RecordState, sslproto.SSLProtocol):
    """asyncio's TLS protocol, its per-record and per-connection methods
    compiled."""

    def __init__(RecordState self not None, loop, app_protocol, sslcontext, waiter,
                 server_side=False, server_hostname=None, call_connection_made=True,
                 ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
        _init_protocol(self, loop, app_protocol, sslcontext, waiter, server_side,
                       server_hostname, call_connection_made, ssl_handshake_timeout,
                       ssl_shutdown_timeout)

    def _get_app_transport(RecordState self not None):
        return _get_app_transport(self)

    def get_buffer(RecordState self not None, n):
        return _get_buffer(self, n)

    def buffer_updated(RecordState self not None, nbytes):
        _buffer_updated(self, nbytes)

    def _do_read(RecordState self not None):
        _do_read(self)

    def _do_read__copied(RecordState self not None):
        _read_copied(self)

    def _write_appdata(RecordState self not None, list_of_data):
        _write_appdata(self, list_of_data)

    def _do_write(RecordState self not None):
        _do_write(self)

    def _process_outgoing(RecordState self not None):
        _process_outgoing(self)

    def _control_app_writing(RecordState self not None):
        _control_app_writing(self)

    def _control_ssl_reading(RecordState self not None):
        _control_ssl_reading(self)

    # Once per connection (_sslproto_lifecycle.pxi).

    def _set_app_protocol(RecordState self not None, app_protocol):
        _set_app_protocol(self, app_protocol)

    def _set_write_buffer_limits(RecordState self not None, high=None, low=None):
        _set_write_buffer_limits(self, high, low)

    def _set_read_buffer_limits(RecordState self not None, high=None, low=None):
        _set_read_buffer_limits(self, high, low)

    def _wakeup_waiter(RecordState self not None, exc=None):
        _wakeup_waiter(self, exc)

    def _set_state(RecordState self not None, new_state):
        _set_state(self, new_state)

    def connection_made(RecordState self not None, transport):
        self._transport = transport
        _start_handshake(self)

    def connection_lost(RecordState self not None, exc):
        _connection_lost(self, exc)

    def _start_handshake(RecordState self not None):
        _start_handshake(self)

    def _do_handshake(RecordState self not None):
        _do_handshake(self)

    def _on_handshake_complete(RecordState self not None, handshake_exc):
        _on_handshake_complete(self, handshake_exc)

    def _start_shutdown(RecordState self not None):
        _start_shutdown(self)

    def _do_flush(RecordState self not None):
        _do_flush(self)

    def _do_shutdown(RecordState self not None):
        _do_shutdown(self)

    def _call_eof_received(RecordState self not None):
        _call_eof_received(self)

    def _on_shutdown_complete(RecordState self not None, shutdown_exc):
        _on_shutdown_complete(self, shutdown_exc)


# The socket transport calls get_buffer and buffer_updated through these
# where the protocol is an SSLProtocol (not a subclass) that keeps them.
cdef object _SSLProtocol = SSLProtocol
cdef tuple _BUFFERED_METHODS = (("get_buffer", (SSLProtocol.__dict__["get_buffer"],)),
                                ("buffer_updated", (SSLProtocol.__dict__["buffer_updated"],)))
cdef TypeCheck _buffered_kept


cdef inline bint _takes_buffered_calls(object protocol) except -1:
    return (type(protocol) is _SSLProtocol
            and class_keeps(&_buffered_kept, _SSLProtocol, _BUFFERED_METHODS)
            and _reads_the_class(<RecordState>protocol))


cdef object _get_buffer_call(object protocol, object size):
    if not _takes_buffered_calls(protocol):
        return NotImplemented
    return _get_buffer(<RecordState>protocol, size)


cdef object _buffer_updated_call(object protocol, object nbytes):
    if not _takes_buffered_calls(protocol):
        return NotImplemented
    _buffer_updated(<RecordState>protocol, nbytes)
    return None


set_buffered_hooks(_get_buffer_call, _buffer_updated_call)


cdef object _ASYNCIO_PROTOCOL = sslproto.SSLProtocol
cdef object _ASYNCIO_APP_TRANSPORT = sslproto._SSLProtocolTransport
cdef object _new_app_transport = SSLProtocolTransport


cdef tuple _replaced_methods(object ours, object base):
    """(name, (function,)) for each method of asyncio's class `base` that
    fastsel's class `ours` replaces, `function` being asyncio's."""
    return tuple((name, (base.__dict__[name],)) for name in ours.__dict__
                 if name in base.__dict__ and callable(base.__dict__[name]))


cdef tuple _PROTOCOL_REPLACED = _replaced_methods(SSLProtocol, _ASYNCIO_PROTOCOL)
cdef tuple _APP_TRANSPORT_REPLACED = _replaced_methods(SSLProtocolTransport,
                                                       _ASYNCIO_APP_TRANSPORT)
cdef TypeCheck _protocol_kept
cdef TypeCheck _app_transport_kept


cdef ModuleEntry _sslproto_class_seen


cdef bint _asyncio_classes_kept() except -1:
    """sslproto.SSLProtocol is asyncio's class, and it and
    _SSLProtocolTransport still have their own versions of the methods
    fastsel's classes replace (nothing patched them)."""
    return (module_attr(sslproto, "SSLProtocol", &_sslproto_class_seen) is _ASYNCIO_PROTOCOL
            and class_keeps(&_protocol_kept, _ASYNCIO_PROTOCOL, _PROTOCOL_REPLACED)
            and class_keeps(&_app_transport_kept, _ASYNCIO_APP_TRANSPORT,
                            _APP_TRANSPORT_REPLACED))


def protocol_class():
    """The TLS protocol class for a new connection: fastsel's SSLProtocol,
    or, where a method it replaces was patched on asyncio's classes (or
    sslproto.SSLProtocol replaced), sslproto.SSLProtocol as asyncio would
    make it, so that the patch is seen."""
    if _asyncio_classes_kept():
        return SSLProtocol
    return sslproto.SSLProtocol
