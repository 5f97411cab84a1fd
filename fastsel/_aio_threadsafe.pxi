# Included by _aio_c.pyx: call_soon_threadsafe and the self-pipe, compiled.
#
# asyncio's call_soon_threadsafe writes a byte to the loop's self-pipe on
# every call, even when the loop is awake or a byte is already on its way.
# Here a call writes only when no wake-up is pending since the loop last
# cleared the flag `_wakeup_pending` (an attribute of the loop), and the
# loop clears it in run_once, when it has nothing ready, before it computes
# its select() timeout (asyncio's own _run_once included, when run_once hands
# over to it).
#
# Why no wake-up is lost. The GIL orders every step below. The loop blocks in
# select() only in an iteration where it cleared the flag (C) and then found
# _ready empty when computing the timeout (R), C before R. A call appends its
# handle (A), then reads the flag (F). If A came before R, the loop saw the
# handle and does not block. Otherwise C < R < A < F: at F the flag is either
# still clear, and this call writes, or it was set after C by another call,
# which writes after setting it. Either way a byte is written after C; the
# only reader of the self-pipe is _read_from_self, which runs after a select()
# returns, so that byte is still there for the first select() after C, the
# one that might block: it returns, and the next iteration finds the handle
# in _ready. A byte that is already in the pipe when the flag is cleared
# only wakes one select() early.
#
# Signals: asyncio's add_signal_handler points signal.set_wakeup_fd at the
# same socket. Those bytes never touch the flag; read_from_self hands every
# chunk holding a non-zero byte to _process_self_data, and skips the chunks
# of zeros only when _process_self_data is asyncio's, which ignores zeros.

import socket as _socket_module

from libc.errno cimport EAGAIN, EINTR, errno

cdef extern from "<errno.h>":
    enum: EWOULDBLOCK

cdef extern from "<sys/socket.h>" nogil:
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    enum: MSG_DONTWAIT

cdef object _asyncio_call_soon_threadsafe = base_events.BaseEventLoop.call_soon_threadsafe
cdef object _selector_loop = __import__("asyncio").selector_events.BaseSelectorEventLoop
cdef object _asyncio_write_to_self = _selector_loop._write_to_self
cdef object _asyncio_read_from_self = _selector_loop._read_from_self
# The _process_self_data methods that ignore zero bytes.
cdef tuple _ASYNCIO_PROCESS_SELF_DATA = tuple(
    cls._process_self_data for cls in (_selector_loop, getattr(
        __import__("asyncio").unix_events, "_UnixSelectorEventLoop", _selector_loop)))
cdef object _Socket = _socket_module.socket
cdef object _SOCKET_SEND = _socket_module.socket.send
cdef object _SOCKET_RECV = _socket_module.socket.recv
cdef TypeCheck _threadsafe_loop_type_ok
cdef TypeCheck _self_pipe_loop_type_ok


cdef inline int _clear_wakeup_if_idle(object loop, bint slotted,
                                      object ready) except -1:
    """The loop's half of the protocol above: with nothing ready the next
    select() may block, so calls from now on must write."""
    # Reading first spares a write on each iteration while the flag is
    # already down (the common case).
    if not _has_items(ready) and _ltrue(loop, slotted, LOOP_WAKEUP_PENDING):
        _lset(loop, slotted, LOOP_WAKEUP_PENDING, False)
    return 0


cdef inline bint _coalescing_loop(object loop) except -1:
    """A loop whose class, and which itself, runs this module's run_once
    (which clears the flag), asyncio's self-pipe methods or this module's,
    and asyncio's helpers of call_soon. The one place that decides whether
    call_soon_threadsafe may skip a write."""
    return loop_keeps(&_threadsafe_loop_type_ok, loop, _THREADSAFE_HELPERS)


cdef inline bint _plain_socket(object sock) except -1:
    """A socket.socket whose send and recv are the C ones (the self-pipe's
    ends, unless a subclass made them otherwise)."""
    return (type(sock) is _Socket and _Socket.send is _SOCKET_SEND
            and _Socket.recv is _SOCKET_RECV)


cdef int _send_wakeup_byte(object loop) except -1:
    """asyncio's _write_to_self, keeping the GIL: a non-blocking send of one
    byte never waits, and keeping the GIL spares the thread a hand-over to the
    loop's thread in the middle of its call. Errors are swallowed, as
    asyncio's does outside debug mode (debug mode runs asyncio's)."""
    cdef ssize_t n
    cdef int fd
    csock = _lget(loop, _loop_slotted(loop), LOOP_CSOCK)
    if csock is None:
        return 0
    if not _plain_socket(csock):
        loop._write_to_self()
        return 0
    fd = csock.fileno()
    while True:
        n = send(fd, b"\0", 1, MSG_DONTWAIT)
        if n >= 0 or errno != EINTR:
            return 0


cdef ModuleEntry _events_threadsafe_seen


cdef inline bint _plain_threadsafe_handle() except -1:
    """The handle class asyncio's call_soon_threadsafe would make (3.14+:
    events._ThreadSafeHandle, before: events.Handle) is asyncio's, and one
    that _handle_kind accepts."""
    if _THREAD_SAFE_HANDLE:
        return (module_attr(events, "_ThreadSafeHandle", &_events_threadsafe_seen)
                is _ThreadSafeHandle
                and _handle_kind(_ThreadSafeHandle) == PLAIN_THREADSAFE)
    return _events_has_handle() and _handle_kind(_Handle) == PLAIN_HANDLE


def call_soon_threadsafe(self, callback, *args, context=None):
    """BaseEventLoop.call_soon_threadsafe: call_soon from any thread, waking
    the loop; returns the handle (3.14+: an events._ThreadSafeHandle).

    Writes to the self-pipe only when no wake-up is pending (see the
    comment at the top of this file). asyncio's own runs in debug mode and
    whenever the loop's class or asyncio's Handle differ from asyncio's."""
    cdef bint slotted = _loop_slotted(self)
    if (not _coalescing_loop(self) or _ltrue(self, slotted, LOOP_DEBUG)
            or not _plain_threadsafe_handle()):
        return _asyncio_call_soon_threadsafe(self, callback, *args, context=context)
    if _ltrue(self, slotted, LOOP_CLOSED):
        raise RuntimeError('Event loop is closed')
    if _THREAD_SAFE_HANDLE:
        handle = _new_threadsafe_handle(self, callback, args, context)
    else:
        handle = _new_handle(self, callback, args, context)
    _append(_lget(self, slotted, LOOP_READY), handle)
    if not _ltrue(self, slotted, LOOP_WAKEUP_PENDING):
        _lset(self, slotted, LOOP_WAKEUP_PENDING, True)
        _send_wakeup_byte(self)
    return handle


cdef char _self_pipe_buffer[4096]


def read_from_self(self):
    """BaseSelectorEventLoop._read_from_self: drain the self-pipe.

    The bytes written by call_soon_threadsafe are zeros, which asyncio's
    _process_self_data ignores; a chunk holding another byte (a signal's
    number, from signal.set_wakeup_fd) goes to _process_self_data as asyncio
    hands it. Anything but asyncio's methods on a socket.socket runs
    asyncio's own."""
    cdef ssize_t n
    cdef int fd
    ssock = self._ssock
    if not loop_keeps(&_self_pipe_loop_type_ok, self, _SELF_PIPE_HELPERS) \
            or not _plain_socket(ssock):
        return _asyncio_read_from_self(self)
    while True:
        # socket.recv of a closed socket raises; asyncio's lets that out.
        fd = ssock.fileno()
        if fd < 0:
            return _asyncio_read_from_self(self)
        n = recv(fd, _self_pipe_buffer, sizeof(_self_pipe_buffer), MSG_DONTWAIT)
        if n == 0:
            return
        if n < 0:
            if errno == EINTR:
                continue
            if errno == EAGAIN:
                return
            if errno == EWOULDBLOCK:  # the same as EAGAIN where POSIX allows
                return
            return _asyncio_read_from_self(self)  # asyncio's raises the error
        if _has_signal_byte(n):
            self._process_self_data(_self_pipe_buffer[:n])
        if n < sizeof(_self_pipe_buffer):
            # Drained: asyncio's would make one more recv, which fails with
            # EAGAIN (bytes arriving later make the socket readable again).
            return


cdef inline bint _has_signal_byte(ssize_t n):
    cdef ssize_t i
    for i in range(n):
        if _self_pipe_buffer[i] != 0:
            return True
    return False


# What call_soon_threadsafe relies on, with the versions it accepts.
cdef tuple _THREADSAFE_HELPERS = _CALL_SOON_HELPERS + (
    ("_run_once", (run_once,)),
    ("_write_to_self", (_asyncio_write_to_self,)),
    ("_read_from_self", (_asyncio_read_from_self, read_from_self)),
)
# What read_from_self relies on: a _process_self_data that ignores zeros.
cdef tuple _SELF_PIPE_HELPERS = (
    ("_process_self_data", _ASYNCIO_PROCESS_SELF_DATA),
) + _NOTES_SHADOWING
