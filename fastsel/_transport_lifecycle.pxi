# A socket transport's construction and its close path, compiled (included
# by _transport_c.pyx).
#
# asyncio builds a transport through four __init__ methods (BaseTransport,
# _FlowControlMixin, _SelectorTransport, _SelectorSocketTransport) and two
# set_protocol methods, and closes it through two close() and two
# _call_connection_lost methods. The functions below do those steps in one
# go, in the running version's order, whenever the transport's class still
# has asyncio's own versions of all of them (_asyncio_lifecycle); otherwise
# the methods call asyncio's. Every other method (the loop's _remove_reader,
# call_soon, the server's _attach, the socket's close...) is called as
# asyncio calls it.
import collections
from asyncio import base_events, futures, protocols, transports, trsock

cdef bint _INIT_SETS_PAUSED = has("transport_init_sets_paused")
cdef bint _WRITE_READY_ATTRIBUTE = has("write_ready_is_attribute")
cdef bint _CLOSE_DROPS_READ = has("close_drops_read_callback")
cdef bint _CLOSE_DROPS_WRITE = has("close_drops_write_callback")
cdef bint _LOST_DROPS_CALLBACKS = has("connection_lost_drops_callbacks")
cdef bint _SERVER_TRACKS_CLIENTS = has("server_tracks_clients")

cdef object _deque = collections.deque
cdef object _SelectorTransport = selector_events._SelectorTransport
cdef object _SelectorSocketTransport = selector_events._SelectorSocketTransport


cdef tuple _own_methods(object cls, tuple names):
    return tuple((cls, name, cls.__dict__.get(name)) for name in names)


# (class, name, asyncio's method) for every method the functions below do
# the work of; None where this version's class has no such method.
cdef tuple _INLINED = (
    _own_methods(transports.BaseTransport, ("__init__",))
    + _own_methods(transports._FlowControlMixin, ("__init__", "_set_write_buffer_limits"))
    + _own_methods(_SelectorTransport, (
        "__init__", "__del__", "set_protocol", "close", "_force_close",
        "_call_connection_lost"))
    + _own_methods(_SelectorSocketTransport, (
        "__init__", "set_protocol", "close", "_call_connection_lost")))
cdef object _asyncio_set_protocol = _SelectorSocketTransport.set_protocol
cdef object _asyncio_set_write_buffer_limits = (
    transports._FlowControlMixin._set_write_buffer_limits)
cdef object _TransportSocket = trsock.TransportSocket
cdef object _asyncio_transport_socket_init = trsock.TransportSocket.__init__
cdef object _asyncio_set_result_unless_cancelled = futures._set_result_unless_cancelled
cdef TypeCheck _lifecycle_ok
# The module attributes the construction reads, as asyncio reads them on
# every call (see includes/module_attrs.pxd).
cdef ModuleEntry _set_nodelay_seen, _has_sendmsg_seen
cdef ModuleEntry _set_result_unless_cancelled_seen, _transport_socket_seen


cdef bint _asyncio_lifecycle(object cls) except -1:
    """asyncio's classes still have the methods _INLINED lists, and cls
    (a SocketTransport class) sets its protocol and its write buffer limits
    with asyncio's set_protocol and _set_write_buffer_limits.
    Remembered until cls or one of its bases changes."""
    if type_check_remembers(&_lifecycle_ok, cls):
        return True
    for owner, name, method in _INLINED:
        if owner.__dict__.get(name) is not method:
            return False
    if (getattr(cls, "set_protocol", None) is not _asyncio_set_protocol
            or getattr(cls, "_set_write_buffer_limits", None)
            is not _asyncio_set_write_buffer_limits):
        return False
    type_check_remember(&_lifecycle_ok, cls)
    return True


# --------------------------------------------------------------- TCP_NODELAY

cdef object _asyncio_set_nodelay = base_events._set_nodelay
cdef bint _HAS_NODELAY = hasattr(socket, "TCP_NODELAY")
cdef int _NODELAY = getattr(socket, "TCP_NODELAY", 0)
cdef int _AF_INET = socket.AF_INET
cdef int _AF_INET6 = getattr(socket, "AF_INET6", -1)
cdef int _SOCK_STREAM = socket.SOCK_STREAM
cdef int _IPPROTO_TCP = socket.IPPROTO_TCP
cdef object _SOCKET_FAMILY = getattr(_Socket, "family", None)
cdef object _SOCKET_TYPE = getattr(_Socket, "type", None)
cdef object _SOCKET_PROTO = getattr(_Socket, "proto", None)
cdef TypeCheck _socket_properties_ok


cdef bint _reads_socket_fields(object sock) except -1:
    """sock is a socket.socket whose family, type and proto are the stdlib's
    properties, which return the fields includes/sockets.h reads (as
    IntEnums where it can: equal to the ints)."""
    if not _socket_layout_ok or type(sock) is not _Socket:
        return False
    if not type_check_remembers(&_socket_properties_ok, _Socket):
        if (_Socket.family is not _SOCKET_FAMILY or _Socket.type is not _SOCKET_TYPE
                or _Socket.proto is not _SOCKET_PROTO):
            return False
        type_check_remember(&_socket_properties_ok, _Socket)
    return True


cdef TypeCheck _socket_queries_ok
cdef tuple _SOCKET_QUERIES = tuple(
    (name, (getattr(_socket.socket, name),))
    for name in ("fileno", "getsockname", "getpeername", "setsockopt"))


cdef bint _queries_in_c(object sock) except -1:
    """sock is a socket.socket as _reads_socket_fields wants it, whose
    fileno, getsockname, getpeername and setsockopt are _socket.socket's:
    a transport's construction makes their system calls itself."""
    return (_reads_socket_fields(sock)
            and class_keeps(&_socket_queries_ok, _Socket, _SOCKET_QUERIES))


cdef object _address_or_none(object sock, bint in_c, bint peer):
    """sock.getsockname() (peer: sock.getpeername()), None where it raises
    OSError, as asyncio's transport keeps them in its extra info."""
    try:
        if in_c:
            address = fastsel_socket_address(sock, peer)
            if address is not NotImplemented:
                return address
        return sock.getpeername() if peer else sock.getsockname()
    except OSError:
        return None


cdef int _set_nodelay(object sock, bint in_c) except -1:
    """base_events._set_nodelay(sock) (alike in every mirrored version),
    without the properties' IntEnum conversions; in_c: _queries_in_c(sock)."""
    cdef fastsel_socket *s
    set_nodelay = module_attr(base_events, "_set_nodelay", &_set_nodelay_seen)
    if not _HAS_NODELAY or set_nodelay is not _asyncio_set_nodelay or not _reads_socket_fields(sock):
        set_nodelay(sock)
        return 0
    s = <fastsel_socket *>sock
    if ((s.family == _AF_INET or s.family == _AF_INET6)
            and s.type == _SOCK_STREAM and s.proto == _IPPROTO_TCP):
        if in_c:
            fastsel_socket_set_nodelay(sock)
        else:
            sock.setsockopt(_IPPROTO_TCP, _NODELAY, 1)
    return 0


# ------------------------------------------------------------- construction

cdef SoonHook _soon_hook = NULL
cdef AddIoHook _add_io_hook = NULL
cdef RemoveIoHook _remove_io_hook = NULL
cdef DebugHook _debug_hook = NULL
cdef object _asyncio_transport_call_soon = getattr(_SelectorTransport, "_call_soon", None)


cdef int set_loop_hooks(SoonHook soon, AddIoHook add_io, RemoveIoHook remove_io,
                        DebugHook debug) except -1:
    global _soon_hook, _add_io_hook, _remove_io_hook, _debug_hook
    _soon_hook = soon
    _add_io_hook = add_io
    _remove_io_hook = remove_io
    _debug_hook = debug
    return 0


cdef object _loop_add_io(object loop, object fd, object callback, tuple args,
                         object context, bint read):
    """loop._add_reader(fd, callback, *args) (read) or loop._add_writer(...),
    with context=context where the running version's transport passes it."""
    if _add_io_hook is not NULL:
        handle = _add_io_hook(loop, fd, callback, args, context, read)
        if handle is not NotImplemented:
            return handle
    add = loop._add_reader if read else loop._add_writer
    if _HAS_CONTEXT:
        return add(fd, callback, *args, context=context)
    return add(fd, callback, *args)


cdef object _loop_remove_io(object loop, object fd, bint read):
    """loop._remove_reader(fd) (read) or loop._remove_writer(fd)."""
    if _remove_io_hook is not NULL:
        removed = _remove_io_hook(loop, fd, read)
        if removed is not NotImplemented:
            return removed
    return loop._remove_reader(fd) if read else loop._remove_writer(fd)


cdef bint _loop_debug(object loop) except -1:
    """bool(loop.get_debug())."""
    cdef int debug = -1
    if _debug_hook is not NULL:
        debug = _debug_hook(loop)
    return loop.get_debug() if debug < 0 else debug


cdef int _schedule(object transport, object callback, tuple args) except -1:
    """transport._call_soon(callback, *args) from 3.15, before that
    transport._loop.call_soon(callback, *args). Where that method is
    asyncio's (3.15) and the loop's call_soon fastsel's, the hook makes the
    call in C."""
    cdef bint s = _slotted(transport)
    context = None
    if _HAS_CONTEXT:
        call_soon = transport._call_soon
        if (_soon_hook is NULL or not PyMethod_Check(call_soon)
                or PyMethod_GET_FUNCTION(call_soon) != <PyObject *>_asyncio_transport_call_soon
                or PyMethod_GET_SELF(call_soon) != <PyObject *>transport):
            call_soon(callback, *args)
            return 0
        context = _get(transport, s, _CONTEXT, "_context")
    loop = _get(transport, s, _LOOP, "_loop")
    if _soon_hook is not NULL and _soon_hook(loop, callback, args, context) is not NotImplemented:
        return 0
    if _HAS_CONTEXT:  # asyncio's _call_soon
        loop.call_soon(callback, *args, context=context)
    else:
        loop.call_soon(callback, *args)
    return 0


cdef int _init_transport(object self, object loop, object sock, object protocol,
                         object waiter, object extra, object server,
                         object context) except -1:
    """_SelectorSocketTransport.__init__ and the __init__ methods it chains
    to: the transport's attributes, then connection_made, the reader and the
    waiter's result scheduled in that order."""
    cdef bint s = _slotted(self)
    _set(self, s, _READ_READY_CB, "_read_ready_cb", None)
    # BaseTransport and _FlowControlMixin
    if extra is None:
        extra = {}
    _set(self, s, _EXTRA, "_extra", extra)
    assert loop is not None
    _set(self, s, _LOOP, "_loop", loop)
    _set(self, s, _PROTOCOL_PAUSED, "_protocol_paused", False)
    # _set_write_buffer_limits() with its defaults
    _set(self, s, _HIGH_WATER, "_high_water", 64 * 1024)
    _set(self, s, _LOW_WATER, "_low_water", 16 * 1024)
    # _SelectorTransport
    extra = _get(self, s, _EXTRA, "_extra")
    extra['socket'] = _transport_socket(sock)
    cdef bint in_c = _queries_in_c(sock)
    extra['sockname'] = _address_or_none(sock, in_c, False)
    if 'peername' not in extra:
        extra['peername'] = _address_or_none(sock, in_c, True)
    _set(self, s, _SOCK, "_sock", sock)
    _set(self, s, _SOCK_FD, "_sock_fd", (<fastsel_socket *>sock).fd if in_c else sock.fileno())
    if _HAS_CONTEXT:
        _set(self, s, _CONTEXT, "_context", context)
    _set(self, s, _PROTOCOL_CONNECTED, "_protocol_connected", False)
    # set_protocol of both classes
    if isinstance(protocol, protocols.BufferedProtocol):
        _set(self, s, _READ_READY_CB, "_read_ready_cb", self._read_ready__get_buffer)
    else:
        _set(self, s, _READ_READY_CB, "_read_ready_cb", self._read_ready__data_received)
    _set(self, s, _PROTOCOL, "_protocol", protocol)
    _set(self, s, _PROTOCOL_CONNECTED, "_protocol_connected", True)

    _set(self, s, _SERVER, "_server", server)
    _set(self, s, _BUFFER, "_buffer", _deque() if _BUFFER_IS_DEQUE else self._buffer_factory())
    if _COUNTS_BUFFER:
        _set(self, s, _BUFFER_SIZE, "_buffer_size", 0)
    _set(self, s, _CONN_LOST, "_conn_lost", 0)
    _set(self, s, _CLOSING, "_closing", False)
    if _INIT_SETS_PAUSED:
        _set(self, s, _PAUSED, "_paused", False)
    if _get(self, s, _SERVER, "_server") is not None:
        if _SERVER_TRACKS_CLIENTS:
            _get(self, s, _SERVER, "_server")._attach(self)
        else:
            _get(self, s, _SERVER, "_server")._attach()
    set_weak_value(loop._transports, _get(self, s, _SOCK_FD, "_sock_fd"), self)
    # _SelectorSocketTransport
    _set(self, s, _EOF, "_eof", False)
    if not _INIT_SETS_PAUSED:
        _set(self, s, _PAUSED, "_paused", False)
    _set(self, s, _EMPTY_WAITER, "_empty_waiter", None)
    if _WRITE_READY_ATTRIBUTE:
        if module_attr(selector_events, "_HAS_SENDMSG", &_has_sendmsg_seen):
            _set(self, s, _WRITE_READY, "_write_ready", self._write_sendmsg)
        else:
            _set(self, s, _WRITE_READY, "_write_ready", self._write_send)
    nodelay_sock = _get(self, s, _SOCK, "_sock")
    _set_nodelay(nodelay_sock, in_c and nodelay_sock is sock)

    _schedule(self, _get(self, s, _PROTOCOL, "_protocol").connection_made, (self,))
    # Reading starts once connection_made() has run.
    _schedule(self, self._add_reader, (_get(self, s, _SOCK_FD, "_sock_fd"), self._read_ready))
    if waiter is not None:
        # The waiter wakes up once connection_made() has run.
        set_result = module_attr(futures, "_set_result_unless_cancelled",
                                 &_set_result_unless_cancelled_seen)
        if set_result is _asyncio_set_result_unless_cancelled:
            set_result = set_result_unless_cancelled
        _schedule(self, set_result, (waiter, None))
    return 0


cdef object _SOCKET_CLOSE = getattr(_Socket, "close", None)
cdef object _SOCKET_REAL_CLOSE = getattr(_Socket, "_real_close", None)
cdef object _C_SOCKET_CLOSE = _socket.socket.close
cdef TypeCheck _socket_close_ok


cdef int _close_socket(object sock) except -1:
    """sock.close(): for a socket.socket whose close and _real_close are the
    stdlib's, their steps without their two Python frames."""
    if not _socket_layout_ok or type(sock) is not _Socket:
        sock.close()
        return 0
    if not type_check_remembers(&_socket_close_ok, _Socket):
        if _Socket.close is not _SOCKET_CLOSE or _Socket._real_close is not _SOCKET_REAL_CLOSE:
            sock.close()
            return 0
        type_check_remember(&_socket_close_ok, _Socket)
    sock._closed = True
    if sock._io_refs <= 0:
        _C_SOCKET_CLOSE(sock)
    return 0


cdef object _SOCKET_ACCEPT = getattr(_Socket, "accept", None)
cdef object _SOCKET_INIT = getattr(_Socket, "__init__", None)
cdef object _C_SOCKET_ACCEPT = getattr(_socket.socket, "_accept", None)
# socket.py's globals, which its accept() looks up when it runs.
cdef dict _socket_globals = socket.__dict__
cdef TypeCheck _socket_accept_ok


cdef object _C_SOCKET_SETBLOCKING = _socket.socket.setblocking
cdef int _SOCK_NONBLOCK = getattr(_socket, "SOCK_NONBLOCK", 0)


cdef object new_stdlib_socket(tuple init_args):
    """socket.socket(*init_args) where socket.socket and its __init__ are
    the stdlib's: _socket.socket's own construction, then the two
    attributes socket.socket's __init__ adds, without its Python frame."""
    sock = fastsel_socket_object(_socket.socket, _Socket, init_args)
    sock._io_refs = 0
    sock._closed = False
    return sock


cdef object accept_nonblocking(object sock):
    """sock.accept() then conn.setblocking(False), as asyncio's accept loop
    does, with None for the accept's BlockingIOError.

    For a socket.socket whose accept, _accept, __init__, setblocking and
    family/type/proto properties are the stdlib's: their steps without
    their Python frames (and the IntEnum conversions that only feed
    _socket.socket.__init__, which takes the ints). For a non-blocking IPv4
    or IPv6 socket _accept's system call is made here (fastsel_socket_accept),
    and the new socket is made non-blocking by that same call."""
    cdef fastsel_socket *s
    if (not _reads_socket_fields(sock)
            or _socket_globals.get("socket") is not _Socket):
        return _accepted_or_none(sock)
    if not type_check_remembers(&_socket_accept_ok, _Socket):
        if (_Socket.accept is not _SOCKET_ACCEPT or _Socket.__init__ is not _SOCKET_INIT
                or _Socket._accept is not _C_SOCKET_ACCEPT
                or _Socket.setblocking is not _C_SOCKET_SETBLOCKING):
            return _accepted_or_none(sock)
        type_check_remember(&_socket_accept_ok, _Socket)
    accepted = fastsel_socket_accept(sock, True)
    if accepted is None:
        return None
    s = <fastsel_socket *>sock
    if accepted is not NotImplemented:
        # The fd is non-blocking already: the flag in the type gives the
        # socket its timeout of 0.0 without a second system call (CPython
        # keeps the flag out of conn.type).
        fd, addr = accepted
        return new_stdlib_socket((s.family, s.type | _SOCK_NONBLOCK, s.proto, fd)), addr
    fd, addr = _C_SOCKET_ACCEPT(sock)
    conn = new_stdlib_socket((s.family, s.type, s.proto, fd))
    # socket.accept's rule for a listening socket with a timeout (the new
    # one blocks), before asyncio's setblocking(False).
    if _socket_globals["getdefaulttimeout"]() is None and s.timeout_ns > 0:
        conn.setblocking(True)
    conn.setblocking(False)
    return conn, addr


cdef object _accepted_or_none(object sock):
    try:
        conn, addr = sock.accept()
    except BlockingIOError:
        return None
    conn.setblocking(False)
    return conn, addr


def _accept_for_tests(sock):
    """accept_nonblocking(sock) (tests)."""
    return accept_nonblocking(sock)


def set_result_unless_cancelled(fut, result):
    """futures._set_result_unless_cancelled (alike in every mirrored
    version), scheduled in its place: fut's result unless it was cancelled."""
    if fut.cancelled():
        return
    fut.set_result(result)


cdef object _transport_socket(object sock):
    """trsock.TransportSocket(sock), without a Python frame of its __init__
    where that is asyncio's (it only keeps sock)."""
    cls = module_attr(trsock, "TransportSocket", &_transport_socket_seen)
    if cls is not _TransportSocket or cls.__init__ is not _asyncio_transport_socket_init:
        return cls(sock)
    wrapper = cls.__new__(cls)
    wrapper._sock = sock
    return wrapper


# ------------------------------------------------------------------ closing

cdef int _close(object self) except -1:
    """_SelectorSocketTransport.close, then _SelectorTransport.close: stop
    reading; unless data waits to be sent, schedule connection_lost."""
    cdef bint s = _slotted(self)
    if _CLOSE_DROPS_READ:
        _set(self, s, _READ_READY_CB, "_read_ready_cb", None)
    if _CLOSE_DROPS_WRITE:
        _set(self, s, _WRITE_READY, "_write_ready", None)
    if _get(self, s, _CLOSING, "_closing"):
        return 0
    _set(self, s, _CLOSING, "_closing", True)
    _loop_remove_io(_get(self, s, _LOOP, "_loop"), _get(self, s, _SOCK_FD, "_sock_fd"), True)
    if not _get(self, s, _BUFFER, "_buffer"):
        _set(self, s, _CONN_LOST, "_conn_lost", _get(self, s, _CONN_LOST, "_conn_lost") + 1)
        _loop_remove_io(_get(self, s, _LOOP, "_loop"), _get(self, s, _SOCK_FD, "_sock_fd"), False)
        _schedule(self, self._call_connection_lost, (None,))
    return 0


cdef int _force_close(object self, object exc) except -1:
    """_SelectorTransport._force_close (abort(), fatal errors): drop unsent
    data, stop reading and writing, schedule connection_lost(exc)."""
    cdef bint s = _slotted(self)
    if _get(self, s, _CONN_LOST, "_conn_lost"):
        return 0
    if _get(self, s, _BUFFER, "_buffer"):
        _get(self, s, _BUFFER, "_buffer").clear()
        if _COUNTS_BUFFER:
            _set(self, s, _BUFFER_SIZE, "_buffer_size", 0)
        _loop_remove_io(_get(self, s, _LOOP, "_loop"), _get(self, s, _SOCK_FD, "_sock_fd"), False)
    if not _get(self, s, _CLOSING, "_closing"):
        _set(self, s, _CLOSING, "_closing", True)
        _loop_remove_io(_get(self, s, _LOOP, "_loop"), _get(self, s, _SOCK_FD, "_sock_fd"), True)
    _set(self, s, _CONN_LOST, "_conn_lost", _get(self, s, _CONN_LOST, "_conn_lost") + 1)
    _schedule(self, self._call_connection_lost, (exc,))
    return 0


cdef int _selector_connection_lost(object self, object exc) except -1:
    """_SelectorTransport._call_connection_lost: the protocol's
    connection_lost, then the socket closed and the server told, whatever
    connection_lost raised."""
    cdef bint s = _slotted(self)
    try:
        if _get(self, s, _PROTOCOL_CONNECTED, "_protocol_connected"):
            _get(self, s, _PROTOCOL, "_protocol").connection_lost(exc)
    finally:
        _close_socket(_get(self, s, _SOCK, "_sock"))
        _set(self, s, _SOCK, "_sock", None)
        _set(self, s, _PROTOCOL, "_protocol", None)
        _set(self, s, _LOOP, "_loop", None)
        server = _get(self, s, _SERVER, "_server")
        if server is not None:
            if _SERVER_TRACKS_CLIENTS:
                server._detach(self)
            else:
                server._detach()
            _set(self, s, _SERVER, "_server", None)
    return 0


cdef int _fail_sendfile_waiter(object self) except -1:
    cdef bint s = _slotted(self)
    if _get(self, s, _EMPTY_WAITER, "_empty_waiter") is not None:
        _get(self, s, _EMPTY_WAITER, "_empty_waiter").set_exception(
            ConnectionError("Connection is closed by peer"))
    return 0


# Before 3.14 asyncio keeps the transport's _read_ready_cb (and, from 3.12,
# _write_ready), bound methods of the transport itself, after
# connection_lost, unless close() dropped them first (3.12+): on 3.9-3.11
# every closed transport, and on 3.12-3.13 every aborted or failed one,
# then waits in a reference cycle, with its socket, for the cycle collector
# (about six objects per connection, and a gen-0 collection every hundred
# or so connections). fastsel drops them once connection_lost has run, in
# every version, as asyncio does from 3.14: a transport is freed when its
# last user lets go. The sendfile waiter fails in each version's own order.
cdef int _call_connection_lost(object self, object exc) except -1:
    """_SelectorSocketTransport._call_connection_lost."""
    cdef bint s = _slotted(self)
    try:
        _selector_connection_lost(self, exc)
        if not _LOST_DROPS_CALLBACKS:
            _fail_sendfile_waiter(self)
    finally:
        if _WRITE_READY_ATTRIBUTE:
            _set(self, s, _WRITE_READY, "_write_ready", None)
        _set(self, s, _READ_READY_CB, "_read_ready_cb", None)
        if _LOST_DROPS_CALLBACKS:
            _fail_sendfile_waiter(self)
    return 0
