"""asyncio's socket transport, reading into a buffer its loop reuses.

asyncio reads with sock.recv(max_size): a fresh 256 KiB bytes object per
read, shrunk to what arrived. On glibc an allocation that large can be an
mmap/munmap pair per read. Here the read lands in one bytearray per loop and
the protocol gets bytes of exactly what arrived, as before: the protocol
cannot tell the difference (same type, same content, same errors).
"""
import sys
from asyncio import selector_events

from . import _aio_c

_CHECKS_FD_HAS_NO_TRANSPORT = sys.version_info >= (3, 12)


class SocketTransport(selector_events._SelectorSocketTransport):
    """_SelectorSocketTransport with a reused read buffer."""

    _read_ready__data_received = _aio_c.read_ready__data_received


class ReusedReadBufferMixin:
    """For a selector event loop: plain socket transports read into one
    buffer per loop (compiled transports only; see fastsel._aio_c)."""

    _read_bytes = None

    def _read_buffer(self, size):
        """The loop's read buffer, at least size bytes long."""
        buf = self._read_bytes
        if buf is None or len(buf) < size:
            buf = self._read_bytes = bytearray(size)
        return buf

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None):
        if _CHECKS_FD_HAS_NO_TRANSPORT:
            self._ensure_fd_no_transport(sock)
        return SocketTransport(self, sock, protocol, waiter, extra, server)
