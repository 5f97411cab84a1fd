"""asyncio's socket transport, reading into a buffer its loop reuses.

asyncio reads with sock.recv(max_size): a fresh 256 KiB bytes object per
read, shrunk to what arrived. On glibc an allocation that large can be an
mmap/munmap pair per read. Here the read lands in one bytearray per loop and
the protocol gets bytes of exactly what arrived, as before: the protocol
cannot tell the difference (same type, same content, same errors).
"""
import sys
from asyncio import selector_events

_CHECKS_FD_HAS_NO_TRANSPORT = sys.version_info >= (3, 12)


class SocketTransport(selector_events._SelectorSocketTransport):
    """_SelectorSocketTransport with a reused read buffer."""

    def _read_ready__data_received(self):
        # asyncio's method (3.9-3.13 alike), with recv_into for recv.
        if self._conn_lost:
            return
        try:
            view = self._loop._read_buffer(self.max_size)
            nbytes = self._sock.recv_into(view)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal read error on socket transport')
            return

        if not nbytes:
            self._read_ready__on_eof()
            return
        data = bytes(view[:nbytes])

        try:
            self._protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(
                exc, 'Fatal error: protocol.data_received() call failed.')


class ReusedReadBufferMixin:
    """For a selector event loop: plain socket transports read into one
    buffer per loop (a memoryview of max_size bytes)."""

    _read_view = None

    def _read_buffer(self, size):
        view = self._read_view
        if view is None or len(view) != size:
            view = self._read_view = memoryview(bytearray(size))
        return view

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None):
        if _CHECKS_FD_HAS_NO_TRANSPORT:
            self._ensure_fd_no_transport(sock)
        return SocketTransport(self, sock, protocol, waiter, extra, server)
