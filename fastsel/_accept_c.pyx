# cython: language_level=3, boundscheck=False, wraparound=False
"""asyncio's server accept path, compiled: BaseSelectorEventLoop's
_accept_connection (the loop's reader on a listening socket) and the
_accept_connection2 coroutine it runs as a task for each connection.

accept_connection does the steps of the running version's method in the
same order: up to the backlog (3.14+: backlog + 1) accepts per readiness,
the same exceptions ending or pausing the loop (EMFILE and its kind: the
exception handler, the reader removed, _start_serving again after
ACCEPT_RETRY_DELAY), and for each connection a task made by the loop's own
create_task (its task factory included) running accept_connection2, the
compiled twin of _accept_connection2. The accept and the new socket's
setblocking(False) take the stdlib's steps without their Python frames
where those are the stdlib's (see accept_nonblocking in
_transport_lifecycle.pxi). It hands over to asyncio's own method in debug
mode (which logs every connection), for TLS servers, and when the loop's
class or the loop itself has its own _accept_connection2.
"""
import errno
from asyncio import constants, selector_events, trsock

from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.number cimport PyNumber_Index
from cpython.pyport cimport PY_SSIZE_T_MAX

from ._asyncio_versions import has
from .includes.overrides cimport instance_keeps
from ._transport_c cimport accept_nonblocking

cdef bint _DISCARDS_ABORTED = has("accept_discards_aborted")
cdef bint _HAS_SHUTDOWN_TIMEOUT = has("accept_has_ssl_shutdown_timeout")
cdef bint _HAS_CONTEXT = has("transport_has_context")

cdef object _asyncio_accept_connection = selector_events.BaseSelectorEventLoop._accept_connection
cdef object _asyncio_accept_connection2 = selector_events.BaseSelectorEventLoop._accept_connection2
cdef tuple _OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
cdef tuple _ACCEPT_BUFFER_EMPTY = (
    (BlockingIOError, InterruptedError) if _DISCARDS_ABORTED
    else (BlockingIOError, InterruptedError, ConnectionAbortedError))
cdef object _SSL_SHUTDOWN_TIMEOUT = getattr(constants, "SSL_SHUTDOWN_TIMEOUT", None)


async def accept_connection2(loop, protocol_factory, conn, extra, server,
                             context=None):
    """BaseSelectorEventLoop._accept_connection2 without TLS: the protocol,
    its transport, and waiting until connection_made() has run; an error
    reaches the exception handler only in debug mode, as in asyncio."""
    protocol = None
    transport = None
    try:
        protocol = protocol_factory()
        waiter = loop.create_future()
        if _HAS_CONTEXT:
            transport = loop._make_socket_transport(
                conn, protocol, waiter=waiter, extra=extra, server=server,
                context=context)
        else:
            transport = loop._make_socket_transport(
                conn, protocol, waiter=waiter, extra=extra, server=server)
        try:
            await waiter
        except BaseException:
            transport.close()
            waiter = None
            raise
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        if loop._debug:
            error = {
                'message': 'Error on transport creation for incoming connection',
                'exception': exc,
            }
            if protocol is not None:
                error['protocol'] = protocol
            if transport is not None:
                error['transport'] = transport
            loop.call_exception_handler(error)


cdef Py_ssize_t _length_of_range(object count) except -1:
    """len(range(count)) with range()'s TypeError, without making the range
    (at most PY_SSIZE_T_MAX: the accept loop ends long before)."""
    cdef int overflow
    cdef long long n = PyLong_AsLongLongAndOverflow(PyNumber_Index(count), &overflow)
    if overflow > 0 or n > PY_SSIZE_T_MAX:
        return PY_SSIZE_T_MAX
    return n if n > 0 and overflow == 0 else 0


cdef object _accept(object loop, object protocol_factory, object sock,
                    object sslcontext, object server, object backlog,
                    object ssl_handshake_timeout, object ssl_shutdown_timeout,
                    object context):
    """The accept loop of _accept_connection, for a loop not in debug mode
    and a server without TLS."""
    cdef Py_ssize_t attempt
    for attempt in range(_length_of_range(backlog + 1 if _DISCARDS_ABORTED else backlog)):
        try:
            accepted = accept_nonblocking(sock)  # with conn.setblocking(False)
            if accepted is None:  # what asyncio meets as BlockingIOError
                return None
            conn, addr = accepted
        except _ACCEPT_BUFFER_EMPTY:
            return None
        except ConnectionAbortedError:  # only reached from 3.14
            continue
        except OSError as exc:
            if exc.errno not in _OUT_OF_RESOURCES:
                raise  # the loop logs it and goes on
            # Linux keeps reporting the socket readable: stop reading it
            # for a while.
            loop.call_exception_handler({
                'message': 'socket.accept() out of system resource',
                'exception': exc,
                'socket': trsock.TransportSocket(sock),
            })
            loop._remove_reader(sock.fileno())
            if _HAS_CONTEXT:
                loop.call_later(constants.ACCEPT_RETRY_DELAY, loop._start_serving,
                                protocol_factory, sock, sslcontext, server, backlog,
                                ssl_handshake_timeout, ssl_shutdown_timeout, context)
            elif _HAS_SHUTDOWN_TIMEOUT:
                loop.call_later(constants.ACCEPT_RETRY_DELAY, loop._start_serving,
                                protocol_factory, sock, sslcontext, server, backlog,
                                ssl_handshake_timeout, ssl_shutdown_timeout)
            else:
                loop.call_later(constants.ACCEPT_RETRY_DELAY, loop._start_serving,
                                protocol_factory, sock, sslcontext, server, backlog,
                                ssl_handshake_timeout)
        else:
            extra = {'peername': addr}
            if _HAS_CONTEXT:
                conn_context = context.copy() if context is not None else None
                loop.create_task(
                    accept_connection2(loop, protocol_factory, conn, extra, server,
                                       conn_context),
                    context=conn_context)
            else:
                loop.create_task(
                    accept_connection2(loop, protocol_factory, conn, extra, server))
    return None


cdef tuple _ACCEPT_HELPERS = (("_accept_connection2", (_asyncio_accept_connection2,)),)


cdef inline bint _compiled_accept(object loop, object sslcontext) except -1:
    # Once per readiness of a listening socket: a lookup in the loop's
    # instance dict as well costs nothing next to the accepts.
    return (not loop._debug and not sslcontext
            and getattr(type(loop), "_accept_connection2", None)
            is _asyncio_accept_connection2
            and instance_keeps(loop, _ACCEPT_HELPERS))


if _HAS_CONTEXT:
    def accept_connection(self, protocol_factory, sock, sslcontext=None,
                          server=None, backlog=100,
                          ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
                          ssl_shutdown_timeout=_SSL_SHUTDOWN_TIMEOUT, context=None):
        """BaseSelectorEventLoop._accept_connection."""
        if not _compiled_accept(self, sslcontext):
            return _asyncio_accept_connection(
                self, protocol_factory, sock, sslcontext, server, backlog,
                ssl_handshake_timeout, ssl_shutdown_timeout, context)
        return _accept(self, protocol_factory, sock, sslcontext, server, backlog,
                       ssl_handshake_timeout, ssl_shutdown_timeout, context)
elif _HAS_SHUTDOWN_TIMEOUT:
    def accept_connection(self, protocol_factory, sock, sslcontext=None,
                          server=None, backlog=100,
                          ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
                          ssl_shutdown_timeout=_SSL_SHUTDOWN_TIMEOUT):
        """BaseSelectorEventLoop._accept_connection."""
        if not _compiled_accept(self, sslcontext):
            return _asyncio_accept_connection(
                self, protocol_factory, sock, sslcontext, server, backlog,
                ssl_handshake_timeout, ssl_shutdown_timeout)
        return _accept(self, protocol_factory, sock, sslcontext, server, backlog,
                       ssl_handshake_timeout, ssl_shutdown_timeout, None)
else:
    def accept_connection(self, protocol_factory, sock, sslcontext=None,
                          server=None, backlog=100,
                          ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT):
        """BaseSelectorEventLoop._accept_connection."""
        if not _compiled_accept(self, sslcontext):
            return _asyncio_accept_connection(
                self, protocol_factory, sock, sslcontext, server, backlog,
                ssl_handshake_timeout)
        return _accept(self, protocol_factory, sock, sslcontext, server, backlog,
                       ssl_handshake_timeout, None, None)
