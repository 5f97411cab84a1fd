# Declarations of the compiled selector core, for other compiled modules
# (the dispatch loop, the asyncio hot path) to use without Python calls.
cimport cython
from cpython.tuple cimport PyTuple_GET_ITEM
from libc.stdint cimport uint8_t

from .includes.poll cimport pollfd


# One ready file descriptor, in the backend-neutral form every backend's
# wait translates its kernel results into.
cdef struct ReadyEvent:
    int fd
    int events          # EVENT_READ | EVENT_WRITE as reported by the kernel


# SelectorKey fields. Indexing a namedtuple from C goes through a Python-level
# __getitem__ lookup (its type is a heap subclass of tuple), so the core reads
# the fields directly.
cdef enum:
    KEY_FILEOBJ = 0
    KEY_FD = 1
    KEY_EVENTS = 2
    KEY_DATA = 3


cdef inline object key_field(object key, Py_ssize_t field):
    return <object>PyTuple_GET_ITEM(key, field)
# select()'s timeout argument in whole milliseconds (-1 blocks), with the
# stdlib's rounding and errors.
cdef int _timeout_ms(object timeout) except -2


@cython.final
cdef class KeyTable:
    """fd -> SelectorKey, the state every selector class shares."""
    cdef list keys          # indexed by fd; None where nothing is registered
    cdef uint8_t *masks     # indexed by fd: key.events & (EVENT_READ|EVENT_WRITE)
    cdef dict far           # fds too large for the direct table (rare, poll only)
    cdef Py_ssize_t count
    cdef list pairs         # select()'s (key, events) pairs kept for reuse, slot fd % len

    cdef object find(self, long long fd)
    cdef int mask_of(self, long long fd, object key) except -1
    cdef object fd_of(self, object fileobj)
    cdef long long c_fd_of(self, object fileobj) except? -1
    cdef int reserve(self, long long fd) except -1
    cdef void put(self, long long fd, object key, int mask)
    cdef object pop(self, long long fd)
    cdef void clear(self)
    cdef list ready_pairs(self, ReadyEvent *ready, int count)
    cdef Py_ssize_t _pair_slots(self)
    cdef void _forget_pair(self, long long fd)
    cdef void _release(self)
    cdef list _snapshot(self)


cdef class Selector:
    """The shared core; backends fill in the cdef hooks below."""
    cdef KeyTable _table
    cdef object _mapping         # what get_map() returns; None once closed
    cdef char *_buffer           # wait buffer, reused between calls
    cdef Py_ssize_t _buffer_slots
    cdef bint _buffer_busy       # a wait is using _buffer right now
    cdef int _dispatch_depth     # dispatch() calls in progress (nested ones too)
    cdef set _fresh_fds          # fds registered while a dispatch() runs
    cdef dict __dict__
    cdef object __weakref__

    # get_key() for an int fd, None where it would raise KeyError.
    cdef object registered_key(self, object fd)
    # register(), unregister() and modify(), for callers that checked that
    # the selector's methods are these.
    cdef object c_register(self, object fileobj, object events, object data)
    cdef object c_unregister(self, object fileobj)
    cdef object c_modify(self, object fileobj, object events, object data)

    # Backend hooks.
    cdef Py_ssize_t _slot_size(self)
    cdef int _check_open(self) except -1
    cdef Py_ssize_t _slots_needed(self)
    cdef int _os_register(self, int fd, int mask) except -1
    cdef int _os_modify(self, int fd, int mask) except -1
    cdef void _os_unregister(self, int fd)
    cdef bint _modify_reregisters(self) noexcept
    cdef void _os_close(self)
    cdef int _prepare_wait(self, char *buf) except -1
    cdef int _wait(self, char *buf, int nslots, int timeout_ms) noexcept nogil

    # Core, callable from other compiled modules.
    cdef char *_take_buffer(self) except NULL
    cdef void _give_back(self, char *buf)
    cdef int _wait_retrying(self, char *buf, int nslots, long long timeout_ms) except -1
    cdef list _select(self, long long timeout_ms)
    cdef long long _longest_wait_ms(self) noexcept
    cdef long long _timeout_for_wait(self, object timeout) except -2
    cdef Py_ssize_t _dispatch(self, long long timeout_ms) except -1


cdef class EpollSelector(Selector):
    cdef int _epfd
    cdef unsigned long _generation   # fork generation it was created in

    cdef int _ctl(self, int op, int fd, int mask) except -1


cdef class PollSelector(Selector):
    cdef pollfd *_fds            # in registration order, like select.poll's
    cdef Py_ssize_t _nfds
    cdef Py_ssize_t _fds_capacity

    cdef Py_ssize_t _index(self, int fd)


cdef class KqueueSelector(Selector):
    cdef int _kqfd
    cdef Py_ssize_t _nfilters        # filters in the kqueue: one wait's max events
    cdef unsigned long _generation   # the fork generation the kqueue belongs to

    cdef bint _is_open(self) noexcept
    cdef int _change(self, int fd, short kfilter, unsigned short flags) noexcept
