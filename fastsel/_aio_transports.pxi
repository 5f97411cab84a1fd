# Included by _aio_c.pyx: BaseSelectorEventLoop._make_socket_transport, with
# fastsel's SocketTransport, which every accepted and connected socket goes
# through.

cdef bint _CHECKS_FD_HAS_NO_TRANSPORT = has("checks_fd_has_no_transport")
cdef bint _TRANSPORT_HAS_CONTEXT = has("transport_has_context")
cdef TypeCheck _make_transport_loop_type_ok


cdef object _make_socket_transport(object loop, object sock, object protocol,
                                   object waiter, object extra, object server,
                                   object context):
    """The fd checked as the running version checks it, then the transport,
    writing through the loop's WriteCoalescer."""
    if _CHECKS_FD_HAS_NO_TRANSPORT:
        if loop_keeps(&_make_transport_loop_type_ok, loop, _MAKE_TRANSPORT_HELPERS):
            _ensure_fd_no_transport(loop, sock)
        else:
            loop._ensure_fd_no_transport(sock)
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
