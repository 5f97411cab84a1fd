# Included by _aio_c.pyx: the client's connection path, compiled.
#
# loop.create_connection() (and so asyncio.open_connection()) to a numeric
# IPv4 or IPv6 address, without a given socket, a local address or happy
# eyeballs, goes through seven asyncio methods: create_connection,
# _ensure_resolved (twice), _connect_sock, sock_connect, _sock_connect and
# _create_connection_transport, then _sock_connect_cb and _sock_write_done
# as callbacks. Here they are done in one compiled coroutine, in the running
# version's order, with the same futures, callbacks and exceptions; the
# loop's other methods (create_future, _add_writer, remove_writer,
# _make_socket_transport...) are called as asyncio calls them.
#
# With TLS (ssl= an ssl.SSLContext or True), the transport is the loop's
# _make_ssl_transport, called as asyncio calls it.
#
# _ensure_resolved is skipped only where its result is known: a host that
# inet_pton() reads as an address of the family tried, an int port, the
# default family and proto. Anything else (a host name, another ssl=, sock=,
# local_addr=, happy_eyeballs_delay=, interleave=, debug mode, a loop whose
# class or instance has its own version of one of those methods, a patched
# asyncio module global) runs asyncio's own create_connection, which still
# calls the compiled sock_connect below.

import builtins
import contextvars
import functools
import os
import _socket as _c_socket_module
import socket as _socket_module
import ssl as _ssl_module
from asyncio import selector_events

cdef extern from "<errno.h>":  # (EWOULDBLOCK: _aio_threadsafe.pxi)
    enum: EALREADY, EINPROGRESS

cdef bint _CONNECT_HAS_SHUTDOWN_TIMEOUT = has("create_connection_has_ssl_shutdown_timeout")
cdef bint _CONNECT_HAS_ALL_ERRORS = has("create_connection_all_errors")
cdef bint _CONNECT_SOCK_IGNORES_CLOSE_ERROR = has("connect_sock_ignores_close_error")
cdef bint _TRANSPORT_STEP_CLOSES_SOCKET = has("connection_transport_closes_socket")
cdef bint _CONNECT_HAS_CONTEXT = has("transport_has_context")

cdef object _asyncio_create_connection = base_events.BaseEventLoop.create_connection
cdef object _asyncio_ensure_resolved = base_events.BaseEventLoop._ensure_resolved
cdef object _asyncio_connect_sock = base_events.BaseEventLoop._connect_sock
cdef object _asyncio_create_connection_transport = (
    base_events.BaseEventLoop._create_connection_transport)
cdef object _asyncio_ipaddr_info = base_events._ipaddr_info
cdef object _asyncio_check_ssl_socket = base_events._check_ssl_socket
cdef object _asyncio_sock_connect = selector_events.BaseSelectorEventLoop.sock_connect
cdef object _asyncio_sock_connect_step = selector_events.BaseSelectorEventLoop._sock_connect
cdef object _partial = functools.partial
cdef object _ExceptionGroup = getattr(builtins, "ExceptionGroup", None)
cdef object _copy_context = contextvars.copy_context
cdef object _inet_pton = getattr(_socket_module, "inet_pton", None)
cdef object _SSLContext = _ssl_module.SSLContext
cdef object _SOCKET_INIT = _socket_module.socket.__init__
cdef int _AF_UNSPEC = _socket_module.AF_UNSPEC
cdef int _AF_INET = _socket_module.AF_INET
cdef int _AF_INET6 = getattr(_socket_module, "AF_INET6", -1)
cdef int _SOCK_STREAM = _socket_module.SOCK_STREAM
cdef int _IPPROTO_TCP = _socket_module.IPPROTO_TCP
cdef int _SOL_SOCKET = _socket_module.SOL_SOCKET
cdef int _SO_ERROR = _socket_module.SO_ERROR
cdef TypeCheck _connect_loop_type_ok
cdef TypeCheck _sock_connect_loop_type_ok


cdef ModuleEntry _socket_inet_pton_seen
cdef ModuleEntry _has_ipv6_seen


cdef object _numeric_address(object host, object port, int family):
    """base_events._ipaddr_info(host, port, family, SOCK_STREAM, proto) for
    an exact str host and int port and a proto of 0 or IPPROTO_TCP: the
    address it returns, or None where it would return None (or where this
    does not know, which sends the caller down asyncio's own path)."""
    if (_inet_pton is None
            or module_attr(_socket_module, "inet_pton", &_socket_inet_pton_seen) is not _inet_pton):
        return None
    if type(host) is not str or type(port) is not int or '%' in <str>host:
        return None
    has_ipv6 = module_attr(base_events, "_HAS_IPv6", &_has_ipv6_seen)
    if family == _AF_UNSPEC:
        # AF_INET first, then AF_INET6 where asyncio found IPv6.
        if _is_address(_AF_INET, host):
            return (_AF_INET, (host, port))
        if has_ipv6 and _is_address(_AF_INET6, host):
            return (_AF_INET6, (host, port, 0, 0))
        return None
    if not _is_address(family, host):
        return None
    if has_ipv6 and family == _AF_INET6:
        return (family, (host, port, 0, 0))
    return (family, (host, port))


cdef bint _is_address(int af, str host) except -1:
    """socket.inet_pton(af, host) succeeds: the C call made here for the
    usual host (ASCII, no NUL), the method called otherwise."""
    cdef int known = fastsel_is_address(af, host)
    if known >= 0:
        return known
    try:
        _inet_pton(af, host)
    except OSError:
        return False
    return True


cdef ModuleEntry _base_socket_seen
cdef ModuleEntry _selector_socket_seen
cdef ModuleEntry _ipaddr_info_seen
cdef ModuleEntry _check_ssl_socket_seen


cdef bint _asyncio_globals() except -1:
    """asyncio's module globals the connection path uses are asyncio's."""
    return (module_attr(base_events, "socket", &_base_socket_seen) is _socket_module
            and module_attr(selector_events, "socket", &_selector_socket_seen) is _socket_module
            and module_attr(base_events, "_ipaddr_info", &_ipaddr_info_seen)
            is _asyncio_ipaddr_info
            and module_attr(base_events, "_check_ssl_socket", &_check_ssl_socket_seen)
            is _asyncio_check_ssl_socket)


# ------------------------------------------------------------ sock_connect

def sock_connect_step(self, fut, sock, address):
    """BaseSelectorEventLoop._sock_connect (alike in every mirrored
    version): connect, or wait until the socket is writable."""
    _start_connect(self, fut, sock, address)


cdef int _start_connect(object loop, object fut, object sock,
                        object address) except -1:
    cdef bint in_background
    fd = sock.fileno()
    try:
        in_background = _connect(sock, address)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        fut.set_exception(exc)
        return 0
    if not in_background:
        fut.set_result(None)
        return 0
    # The connection goes on in the background (EINPROGRESS, or EINTR): the
    # socket turns writable once it succeeded or failed. (What fails here
    # propagates: asyncio does this in an except clause.)
    if _plain_io_loop(loop):
        _ensure_fd_no_transport(loop, fd)
        handle = _add_io(loop, fd, loop._sock_connect_cb, (fut, sock, address),
                         None, False)
    else:
        loop._ensure_fd_no_transport(fd)
        handle = loop._add_writer(fd, loop._sock_connect_cb, fut, sock, address)
    fut.add_done_callback(_partial(loop._sock_write_done, fd, handle=handle))
    return 0


cdef object _SOCKET_CONNECT_EX = _c_socket_module.socket.connect_ex
cdef tuple _CONNECT_METHODS = (("connect", (_c_socket_module.socket.connect,)),
                               ("connect_ex", (_SOCKET_CONNECT_EX,)))
cdef object _strerror = os.strerror
cdef TypeCheck _connect_ex_ok


cdef bint _connect(object sock, object address) except -1:
    """sock.connect(address): whether the connection goes on in the
    background (connect's BlockingIOError or InterruptedError).

    For a socket.socket whose connect and connect_ex are _socket's, this is
    connect_ex, which makes the same system call and reports its errno
    instead of raising: the wait that nearly every connection starts with
    costs no exception. Any other errno raises what connect raises."""
    cdef int err
    if type(sock) is not _Socket or not class_keeps(&_connect_ex_ok, _Socket, _CONNECT_METHODS):
        try:
            sock.connect(address)
        except (BlockingIOError, InterruptedError):
            return True
        return False
    err = _SOCKET_CONNECT_EX(sock, address)
    if err == 0:
        return False
    if err == EINPROGRESS or err == EALREADY or err == EINTR or err == EAGAIN:
        return True
    if err == EWOULDBLOCK:  # EAGAIN's value on some systems, not on all
        return True
    raise OSError(err, _strerror(err))


def sock_connect_cb(self, fut, sock, address):
    """BaseSelectorEventLoop._sock_connect_cb (alike in every mirrored
    version): the writer of a connecting socket; completes fut with the
    connection's outcome."""
    if fut.done():
        return
    try:
        if type(sock) is _Socket and class_keeps(&_getsockopt_ok, _Socket, _GETSOCKOPT):
            err = fastsel_socket_error(sock)
        else:
            err = sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
        if err != 0:
            # Handled as the other errors below.
            raise OSError(err, f'Connect call failed {address}')
    except (BlockingIOError, InterruptedError):
        # Still connecting: the writer stays and runs again.
        pass
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        fut.set_exception(exc)
    else:
        fut.set_result(None)


cdef TypeCheck _getsockopt_ok
cdef tuple _GETSOCKOPT = (("getsockopt", (_c_socket_module.socket.getsockopt,)),)
cdef TypeCheck _remove_writer_loop_ok


def sock_write_done(self, fd, fut, handle=None):
    """BaseSelectorEventLoop._sock_write_done (alike in every mirrored
    version): the connect future's done callback, removing the writer."""
    if handle is None or not _call_cancelled(handle):
        if loop_keeps(&_remove_writer_loop_ok, self, _REMOVE_WRITER) and _plain_io_loop(self):
            _remove_public(self, fd, False)
        else:
            self.remove_writer(fd)


cdef inline bint _plain_sock_connect_loop(object loop) except -1:
    return loop_keeps(&_sock_connect_loop_type_ok, loop, _SOCK_CONNECT_HELPERS)


async def sock_connect(self, sock, address):
    """BaseSelectorEventLoop.sock_connect (alike in every mirrored version):
    connect the non-blocking socket to address.

    _ensure_resolved is not awaited where it would return the address it
    was given back (see _numeric_address); asyncio's own code runs when
    the loop or asyncio's globals differ from what this mirrors."""
    if not _plain_sock_connect_loop(self) or not _asyncio_globals():
        return await _asyncio_sock_connect(self, sock, address)
    _asyncio_check_ssl_socket(sock)  # base_events' own, as _asyncio_globals found
    if _ltrue(self, _loop_slotted(self), LOOP_DEBUG) and sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")

    family = sock.family
    if family == _AF_INET or (base_events._HAS_IPv6 and family == _AF_INET6):
        resolved = _resolved_as_given(sock, address, family)
        if resolved is None:
            resolved = await self._ensure_resolved(
                address, family=family, type=sock.type, proto=sock.proto,
                loop=self,
            )
        _, _, _, _, address = resolved[0]

    fut = self.create_future()
    self._sock_connect(fut, sock, address)
    return await fut


cdef object _resolved_as_given(object sock, object address, object family):
    """What self._ensure_resolved(address, family=..., type=sock.type,
    proto=sock.proto) returns when that is known without awaiting it: a
    numeric (host, port) or IPv6 (host, port, flowinfo, scope_id) tuple on a
    stream socket of proto 0 or TCP. None otherwise."""
    if type(address) is not tuple or not 2 <= len(<tuple>address) <= 4:
        return None
    if sock.type != _SOCK_STREAM or sock.proto not in (0, _IPPROTO_TCP):
        return None
    info = _numeric_address(address[0], address[1], family)
    if info is None:
        return None
    af, resolved = info
    if af == _AF_INET6 and len(<tuple>address) > 2:
        # _ipaddr_info(host, port, ..., *address[2:]) keeps flowinfo and
        # scope_id as given.
        if len(<tuple>address) == 3:
            resolved = (address[0], address[1], address[2], 0)
        else:
            resolved = (address[0], address[1], address[2], address[3])
    elif af != _AF_INET6 and len(<tuple>address) > 2:
        return None  # _ipaddr_info would fail on the extra arguments
    return [(af, _SOCK_STREAM, _IPPROTO_TCP, '', resolved)]


# ------------------------------------------------------- create_connection

cdef inline bint _plain_connect_loop(object loop) except -1:
    return loop_keeps(&_connect_loop_type_ok, loop, _CONNECT_HELPERS)


cdef bint _tls_arguments_known(object ssl, object server_hostname,
                               object ssl_handshake_timeout,
                               object ssl_shutdown_timeout) except -1:
    """create_connection's TLS arguments are ones it takes without raising
    and passes on as they are: no TLS and none of its arguments, or ssl an
    ssl.SSLContext (not a subclass, whose truth could be its own) or True,
    with a str or no server_hostname. The timeouts are checked by the TLS
    protocol, as in asyncio."""
    if ssl is None:
        return (server_hostname is None and ssl_handshake_timeout is None
                and ssl_shutdown_timeout is None)
    if ssl is not True and type(ssl) is not _SSLContext:
        return False
    return server_hostname is None or type(server_hostname) is str


async def _create_connection(self, protocol_factory, host, port, ssl, family,
                             proto, flags, sock, local_addr, server_hostname,
                             ssl_handshake_timeout, ssl_shutdown_timeout,
                             happy_eyeballs_delay, interleave, all_errors):
    """BaseEventLoop.create_connection: compiled for a numeric host, asyncio's
    own otherwise (see the top of this file)."""
    infos = None
    if (SUPPORTED and not _ltrue(self, _loop_slotted(self), LOOP_DEBUG)
            and sock is None and local_addr is None
            and _tls_arguments_known(ssl, server_hostname, ssl_handshake_timeout,
                                     ssl_shutdown_timeout)
            and happy_eyeballs_delay is None and interleave is None
            and type(family) is int and family == _AF_UNSPEC
            and type(proto) is int and proto == 0
            and _plain_connect_loop(self) and _asyncio_globals()):
        infos = _numeric_address(host, port, _AF_UNSPEC)
    if infos is None:
        if _CONNECT_HAS_ALL_ERRORS:
            return await _asyncio_create_connection(
                self, protocol_factory, host, port, ssl=ssl, family=family,
                proto=proto, flags=flags, sock=sock, local_addr=local_addr,
                server_hostname=server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
                happy_eyeballs_delay=happy_eyeballs_delay,
                interleave=interleave, all_errors=all_errors)
        if _CONNECT_HAS_SHUTDOWN_TIMEOUT:
            return await _asyncio_create_connection(
                self, protocol_factory, host, port, ssl=ssl, family=family,
                proto=proto, flags=flags, sock=sock, local_addr=local_addr,
                server_hostname=server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
                happy_eyeballs_delay=happy_eyeballs_delay,
                interleave=interleave)
        return await _asyncio_create_connection(
            self, protocol_factory, host, port, ssl=ssl, family=family,
            proto=proto, flags=flags, sock=sock, local_addr=local_addr,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            happy_eyeballs_delay=happy_eyeballs_delay, interleave=interleave)

    if ssl is not None and server_hostname is None:
        # The host, never empty here, is the name the certificate must have.
        server_hostname = host
    # _ensure_resolved((host, port), ...) returns [(af, SOCK_STREAM,
    # IPPROTO_TCP, '', address)] without awaiting anything; the one address
    # is tried (_connect_sock) and its error, if any, raised.
    af, address = infos
    exceptions = []
    try:
        sock = await _connect_sock(self, exceptions, af, address)
    except OSError:
        sock = None
    if sock is None:
        exceptions = [exc for sub in exceptions for exc in sub]
        try:
            if all_errors:
                raise _ExceptionGroup("create_connection failed", exceptions)
            # One address, so one exception.
            raise exceptions[0]
        finally:
            exceptions = None

    return await _connection_transport(self, sock, protocol_factory, ssl,
                                       server_hostname, ssl_handshake_timeout,
                                       ssl_shutdown_timeout)


async def _connect_sock(loop, exceptions, af, address):
    """BaseEventLoop._connect_sock without local addresses, with sock_connect
    and _sock_connect done in it: the connected socket, or an OSError."""
    my_exceptions = []
    exceptions.append(my_exceptions)
    sock = None
    if _CONNECT_SOCK_IGNORES_CLOSE_ERROR:
        try:
            try:
                sock = _new_socket(af)
                await _begin_connect(loop, sock, address)
                return sock
            except OSError as exc:
                my_exceptions.append(exc)
                raise
        except:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    # A close error would hide the one that made the
                    # connection fail.
                    pass
            raise
        finally:
            exceptions = my_exceptions = None
    else:
        try:
            sock = _new_socket(af)
            await _begin_connect(loop, sock, address)
            return sock
        except OSError as exc:
            my_exceptions.append(exc)
            if sock is not None:
                sock.close()
            raise
        except:
            if sock is not None:
                sock.close()
            raise
        finally:
            exceptions = my_exceptions = None


cdef ModuleEntry _socket_class_seen
cdef TypeCheck _socket_init_kept
cdef tuple _SOCKET_INIT_KEPT = (("__init__", (_SOCKET_INIT,)),)


cdef object _new_socket(object af):
    """_connect_sock's socket.socket(family=af, type=SOCK_STREAM,
    proto=IPPROTO_TCP), made non-blocking. Where socket.socket and its
    __init__ are the stdlib's, that __init__'s steps without its frame."""
    cls = module_attr(module_attr(base_events, "socket", &_base_socket_seen), "socket",
                      &_socket_class_seen)
    if cls is not _Socket or not class_keeps(&_socket_init_kept, cls, _SOCKET_INIT_KEPT):
        sock = cls(family=af, type=_SOCK_STREAM, proto=_IPPROTO_TCP)
    else:
        sock = new_stdlib_socket((af, _SOCK_STREAM, _IPPROTO_TCP, None))
    sock.setblocking(False)
    return sock


cdef object _begin_connect(object loop, object sock, object address):
    """sock_connect(sock, address) once it has its address: the future that
    _sock_connect completes, to be awaited."""
    fut = loop.create_future()
    loop._sock_connect(fut, sock, address)
    return fut


async def _connection_transport(loop, sock, protocol_factory, ssl, server_hostname,
                                ssl_handshake_timeout, ssl_shutdown_timeout):
    """BaseEventLoop._create_connection_transport on the client's side."""
    context = None
    if _TRANSPORT_STEP_CLOSES_SOCKET:
        try:
            sock.setblocking(False)
            if _CONNECT_HAS_CONTEXT:
                context = _copy_context()
            protocol = protocol_factory()
            waiter = loop.create_future()
            transport = _new_transport(loop, sock, protocol, waiter, ssl, server_hostname,
                                       ssl_handshake_timeout, ssl_shutdown_timeout,
                                       context)
        except:
            # The socket would be left open: no transport owns it.
            sock.close()
            raise
    else:
        sock.setblocking(False)
        protocol = protocol_factory()
        waiter = loop.create_future()
        transport = _new_transport(loop, sock, protocol, waiter, ssl, server_hostname,
                                   ssl_handshake_timeout, ssl_shutdown_timeout, None)

    try:
        await waiter
    except:
        transport.close()
        waiter = None
        raise

    return transport, protocol


cdef object _new_transport(object loop, object sock, object protocol, object waiter,
                           object ssl, object server_hostname,
                           object ssl_handshake_timeout, object ssl_shutdown_timeout,
                           object context):
    """The loop's _make_socket_transport, or with ssl its _make_ssl_transport,
    called with the arguments the running version passes."""
    if ssl is None:
        if _CONNECT_HAS_CONTEXT:
            return loop._make_socket_transport(sock, protocol, waiter, context=context)
        return loop._make_socket_transport(sock, protocol, waiter)
    sslcontext = None if ssl is True else ssl
    if _CONNECT_HAS_CONTEXT:
        return loop._make_ssl_transport(
            sock, protocol, sslcontext, waiter, server_side=False,
            server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout, context=context)
    if _CONNECT_HAS_SHUTDOWN_TIMEOUT:
        return loop._make_ssl_transport(
            sock, protocol, sslcontext, waiter, server_side=False,
            server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
    return loop._make_ssl_transport(
        sock, protocol, sslcontext, waiter, server_side=False,
        server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout)


if _CONNECT_HAS_ALL_ERRORS:
    def create_connection(self, protocol_factory, host=None, port=None, *,
                          ssl=None, family=0, proto=0, flags=0, sock=None,
                          local_addr=None, server_hostname=None,
                          ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
                          happy_eyeballs_delay=None, interleave=None,
                          all_errors=False):
        """BaseEventLoop.create_connection (a coroutine): connect to host and
        port, returning (transport, protocol) once connection_made() ran."""
        return _create_connection(
            self, protocol_factory, host, port, ssl, family, proto, flags, sock,
            local_addr, server_hostname, ssl_handshake_timeout,
            ssl_shutdown_timeout, happy_eyeballs_delay, interleave, all_errors)
elif _CONNECT_HAS_SHUTDOWN_TIMEOUT:
    def create_connection(self, protocol_factory, host=None, port=None, *,
                          ssl=None, family=0, proto=0, flags=0, sock=None,
                          local_addr=None, server_hostname=None,
                          ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
                          happy_eyeballs_delay=None, interleave=None):
        """BaseEventLoop.create_connection (a coroutine): connect to host and
        port, returning (transport, protocol) once connection_made() ran."""
        return _create_connection(
            self, protocol_factory, host, port, ssl, family, proto, flags, sock,
            local_addr, server_hostname, ssl_handshake_timeout,
            ssl_shutdown_timeout, happy_eyeballs_delay, interleave, False)
else:
    def create_connection(self, protocol_factory, host=None, port=None, *,
                          ssl=None, family=0, proto=0, flags=0, sock=None,
                          local_addr=None, server_hostname=None,
                          ssl_handshake_timeout=None,
                          happy_eyeballs_delay=None, interleave=None):
        """BaseEventLoop.create_connection (a coroutine): connect to host and
        port, returning (transport, protocol) once connection_made() ran."""
        return _create_connection(
            self, protocol_factory, host, port, ssl, family, proto, flags, sock,
            local_addr, server_hostname, ssl_handshake_timeout, None,
            happy_eyeballs_delay, interleave, False)


# What sock_connect relies on, and what create_connection does the work of,
# with the versions each accepts.
cdef tuple _SOCK_CONNECT_HELPERS = (
    ("_ensure_resolved", (_asyncio_ensure_resolved,)),
) + _NOTES_SHADOWING
cdef tuple _CONNECT_HELPERS = (
    ("_ensure_resolved", (_asyncio_ensure_resolved,)),
    ("_connect_sock", (_asyncio_connect_sock,)),
    ("sock_connect", (_asyncio_sock_connect, sock_connect)),
    ("_sock_connect", (_asyncio_sock_connect_step, sock_connect_step)),
    ("_create_connection_transport", (_asyncio_create_connection_transport,)),
) + _NOTES_SHADOWING
