# Included by _aio_c.pyx: BaseSelectorEventLoop._make_socket_transport, with
# fastsel's SocketTransport, which every accepted and connected socket goes
# through, and _make_ssl_transport with fastsel's SSLProtocol (fastsel._tls
# uses it where the compiled TLS protocol exists).

from asyncio import constants
from ._transport_c import SocketTransport as _SocketTransportClass

cdef bint _CHECKS_FD_HAS_NO_TRANSPORT = has("checks_fd_has_no_transport")
cdef bint _TRANSPORT_HAS_CONTEXT = has("transport_has_context")
cdef TypeCheck _make_transport_loop_type_ok


cdef int _check_fd_has_no_transport(object loop, object sock) except -1:
    """loop._ensure_fd_no_transport(sock), in the versions whose transport
    makers call it."""
    if _CHECKS_FD_HAS_NO_TRANSPORT:
        if loop_keeps(&_make_transport_loop_type_ok, loop, _MAKE_TRANSPORT_HELPERS):
            _ensure_fd_no_transport(loop, sock)
        else:
            loop._ensure_fd_no_transport(sock)
    return 0


cdef object _make_socket_transport(object loop, object sock, object protocol,
                                   object waiter, object extra, object server,
                                   object context):
    """The fd checked as the running version checks it, then the transport,
    writing through the loop's WriteCoalescer."""
    _check_fd_has_no_transport(loop, sock)
    return new_socket_transport(
        loop, sock, protocol, waiter, extra, server, context,
        _lget(loop, _loop_slotted(loop), LOOP_WRITE_COALESCER))


if _TRANSPORT_HAS_CONTEXT:
    def make_socket_transport(self, sock, protocol, waiter=None, *,
                              extra=None, server=None, context=None):
        """BaseSelectorEventLoop._make_socket_transport, with fastsel's
        SocketTransport."""
        return _make_socket_transport(self, sock, protocol, waiter, extra,
                                      server, context)
else:
    def make_socket_transport(self, sock, protocol, waiter=None, *,
                              extra=None, server=None):
        """BaseSelectorEventLoop._make_socket_transport, with fastsel's
        SocketTransport."""
        return _make_socket_transport(self, sock, protocol, waiter, extra,
                                      server, None)


# What _make_socket_transport relies on, with the versions it accepts.
cdef tuple _MAKE_TRANSPORT_HELPERS = (
    ("_ensure_fd_no_transport", (_asyncio_ensure_fd_no_transport,)),
) + _NOTES_SHADOWING


# (3.11+, where fastsel._tls uses _make_ssl_transport.)
_SSL_SHUTDOWN_TIMEOUT = getattr(constants, "SSL_SHUTDOWN_TIMEOUT", None)

# fastsel._sslproto_c.protocol_class, which gives the SSLProtocol class to
# make (set by fastsel._tls: _sslproto_c itself imports this module).
cdef object _tls_protocol_class = None


def set_tls_protocol_class(chooser):
    global _tls_protocol_class
    _tls_protocol_class = chooser


cdef object _make_ssl_transport_steps(
        object loop, object rawsock, object protocol, object sslcontext,
        object waiter, object server_side, object server_hostname,
        object extra, object server, object ssl_handshake_timeout,
        object ssl_shutdown_timeout, object context):
    """The running version's _make_ssl_transport: the fd checked, the TLS
    protocol made, then a socket transport for it (with no waiter) made
    from the loop's _socket_transport_class."""
    _check_fd_has_no_transport(loop, rawsock)
    ssl_protocol = _tls_protocol_class()(
        loop, protocol, sslcontext, waiter, server_side, server_hostname,
        ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout)
    cls = loop._socket_transport_class
    if cls is _SocketTransportClass:
        # What the class call makes (no write coalescer: TLS records go out
        # as the protocol flushes them).
        new_socket_transport(loop, rawsock, ssl_protocol, None, extra, server,
                             context, None)
    elif _TRANSPORT_HAS_CONTEXT:
        cls(loop, rawsock, ssl_protocol, None, extra, server, context=context)
    else:
        cls(loop, rawsock, ssl_protocol, None, extra, server)
    return ssl_protocol._app_transport


if _TRANSPORT_HAS_CONTEXT:
    def _make_ssl_transport(
            self, rawsock, protocol, sslcontext, waiter=None, *,
            server_side=False, server_hostname=None, extra=None, server=None,
            ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
            ssl_shutdown_timeout=_SSL_SHUTDOWN_TIMEOUT, context=None):
        """BaseSelectorEventLoop._make_ssl_transport, with fastsel's
        SSLProtocol and SocketTransport."""
        return _make_ssl_transport_steps(
            self, rawsock, protocol, sslcontext, waiter, server_side,
            server_hostname, extra, server, ssl_handshake_timeout,
            ssl_shutdown_timeout, context)
else:
    def _make_ssl_transport(
            self, rawsock, protocol, sslcontext, waiter=None, *,
            server_side=False, server_hostname=None, extra=None, server=None,
            ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
            ssl_shutdown_timeout=_SSL_SHUTDOWN_TIMEOUT):
        """BaseSelectorEventLoop._make_ssl_transport, with fastsel's
        SSLProtocol and SocketTransport."""
        return _make_ssl_transport_steps(
            self, rawsock, protocol, sslcontext, waiter, server_side,
            server_hostname, extra, server, ssl_handshake_timeout,
            ssl_shutdown_timeout, None)
