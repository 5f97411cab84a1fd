"""fastsel.aio's TLS: asyncio's SSLProtocol with its per-record and
per-connection methods compiled (fastsel._sslproto_c), over fastsel's
compiled socket transport.

TLSMixin goes in front of asyncio's selector loop in the MRO. It replaces
the two places where asyncio builds an SSLProtocol, _make_ssl_transport
(create_connection, create_server, connect_accepted_socket with ssl=) and
start_tls, doing the running version's asyncio steps with fastsel's
classes. Only on CPython 3.11+, whose sslproto the compiled class extends;
elsewhere, and without the compiled build, COMPILED_TLS is False and
asyncio's own TLS runs.
"""
from . import IMPLEMENTATION
from ._asyncio_versions import has

COMPILED_TLS = False
if IMPLEMENTATION == "c" and has("sslproto_memory_bio"):
    try:
        import ssl

        from . import _aio_c
        from ._sslproto_c import protocol_class
    except ImportError:  # no ssl module, or no compiled build
        pass
    else:
        COMPILED_TLS = True
        _aio_c.set_tls_protocol_class(protocol_class)

# How the running version's asyncio differs (see fastsel._asyncio_versions).
_MOVES_STREAM_BUFFER = has("start_tls_moves_stream_buffer")

TLSMixin = None

if COMPILED_TLS:
    class TLSMixin:
        """_make_ssl_transport and start_tls with fastsel's SSLProtocol (or
        asyncio's, where a method it replaces was patched there); the
        class it is mixed into provides _make_socket_transport's transport
        class as _socket_transport_class."""

        _make_ssl_transport = _aio_c._make_ssl_transport

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
            ssl_protocol = protocol_class()(
                self, protocol, sslcontext, waiter, server_side, server_hostname,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
                call_connection_made=False)
            # Paused until connection_made has run, so that no data reaches
            # the SSL protocol before it.
            transport.pause_reading()
            if _MOVES_STREAM_BUFFER and server_side:
                _move_stream_buffer(protocol, ssl_protocol)
            transport.set_protocol(ssl_protocol)
            connection_made = self.call_soon(ssl_protocol.connection_made, transport)
            resume = self.call_soon(transport.resume_reading)
            try:
                await waiter
            except BaseException:
                transport.close()
                connection_made.cancel()
                resume.cancel()
                waiter = None
                raise
            return ssl_protocol._app_transport

    def _move_stream_buffer(protocol, ssl_protocol):
        """What a server's StreamReader read before the upgrade is TLS data:
        it goes to the TLS protocol's incoming BIO (3.14+)."""
        from asyncio.streams import StreamReaderProtocol

        if isinstance(protocol, StreamReaderProtocol):
            stream_reader = getattr(protocol, '_stream_reader', None)
            if stream_reader is not None:
                buffer = stream_reader._buffer
                if buffer:
                    ssl_protocol._incoming.write(buffer)
                    buffer.clear()
