"""fastsel.aio's TLS: asyncio's SSLProtocol with its per-record methods
compiled (fastsel._sslproto_c), over fastsel's compiled socket transport.

TLSMixin goes in front of asyncio's selector loop in the MRO. It replaces
the two places where asyncio builds an SSLProtocol, _make_ssl_transport
(create_connection, create_server, connect_accepted_socket with ssl=) and
start_tls, doing asyncio's steps with fastsel's classes. Only on
CPython 3.11+, whose sslproto the compiled class extends; elsewhere, and
without the compiled build, COMPILED_TLS is False and asyncio's own TLS runs.
"""
import sys
from asyncio import constants

from . import IMPLEMENTATION

COMPILED_TLS = False
if IMPLEMENTATION == "c" and sys.version_info >= (3, 11):
    try:
        import ssl

        from ._sslproto_c import SSLProtocol
    except ImportError:  # no ssl module, or no compiled build
        pass
    else:
        COMPILED_TLS = True

TLSMixin = None

if COMPILED_TLS:
    # asyncio's constants and signatures of 3.11+.
    class TLSMixin:
        """_make_ssl_transport and start_tls with fastsel's SSLProtocol; the
        class it is mixed into provides _make_socket_transport's transport
        class as _socket_transport_class."""

        def _make_ssl_transport(
                self, rawsock, protocol, sslcontext, waiter=None,
                *, server_side=False, server_hostname=None,
                extra=None, server=None,
                ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
                ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT):
            ssl_protocol = SSLProtocol(
                self, protocol, sslcontext, waiter, server_side, server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout)
            # As asyncio: no waiter for the socket transport, and no check that
            # the fd has no transport yet.
            self._socket_transport_class(self, rawsock, ssl_protocol, None, extra, server)
            return ssl_protocol._app_transport

        async def start_tls(self, transport, protocol, sslcontext, *,
                            server_side=False, server_hostname=None,
                            ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
            """Upgrade transport to TLS; return the transport protocol now uses
            (asyncio's BaseEventLoop.start_tls, with fastsel's SSLProtocol)."""
            if not isinstance(sslcontext, ssl.SSLContext):
                raise TypeError(
                    f'sslcontext is expected to be an instance of ssl.SSLContext, '
                    f'got {sslcontext!r}')
            if not getattr(transport, '_start_tls_compatible', False):
                raise TypeError(
                    f'transport {transport!r} is not supported by start_tls()')
            waiter = self.create_future()
            ssl_protocol = SSLProtocol(
                self, protocol, sslcontext, waiter, server_side, server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
                call_connection_made=False)
            # Paused until connection_made has run, so that no data reaches
            # the SSL protocol before it.
            transport.pause_reading()
            transport.set_protocol(ssl_protocol)
            connection_made = self.call_soon(ssl_protocol.connection_made, transport)
            resume = self.call_soon(transport.resume_reading)
            try:
                await waiter
            except BaseException:
                transport.close()
                connection_made.cancel()
                resume.cancel()
                raise
            return ssl_protocol._app_transport
