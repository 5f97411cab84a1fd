# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled selectors: one shared core (key table, wait buffer, timeouts,
PEP 475 retry) and thin epoll and poll backends.

Behaviour follows CPython's Lib/selectors.py class by class; the comments
name the places where that behaviour is surprising but kept.
"""
import math
import os
import sys
import sysconfig
from abc import ABCMeta
import selectors as _stdlib
from collections.abc import ItemsView, KeysView, Mapping, ValuesView

cimport cython
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno, PyErr_WarnEx
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.version cimport PY_VERSION_HEX
from libc.errno cimport EINTR, errno
from libc.limits cimport INT_MAX
from libc.math cimport ceil, isinf, isnan
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy, memmove, memset

from .includes.debug cimport (
    FASTSEL_BUFFERS_ALLOCATED, FASTSEL_BUFFERS_FREED, FASTSEL_COUNT,
    FASTSEL_COUNTER, FASTSEL_DEBUG_BUILD, FASTSEL_KEYS_RELEASED,
    FASTSEL_KEYS_STORED)
from .includes.epoll cimport (
    EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLIN,
    EPOLLOUT, FASTSEL_HAVE_EPOLL, epoll_create1, epoll_ctl, epoll_event,
    epoll_wait)
from .includes.poll cimport POLLIN, POLLOUT, nfds_t, poll, pollfd
from .includes.system cimport close, fastsel_make_key, fastsel_monotonic_ns

cdef extern from "Python.h":
    bint PyLong_Check(object o)
    bint PyLong_CheckExact(object o)
    bint PyFloat_CheckExact(object o)
    double PyFloat_AS_DOUBLE(object o)
    void Py_SET_SIZE(object o, Py_ssize_t size)


EVENT_READ = _stdlib.EVENT_READ
EVENT_WRITE = _stdlib.EVENT_WRITE
SelectorKey = _stdlib.SelectorKey
HAVE_EPOLL = bool(FASTSEL_HAVE_EPOLL)

cdef enum:
    _READ = 1
    _WRITE = 2
    # fds at or above this live in a dict instead of the fd-indexed table, so
    # that poll() accepting any int fd (as select.poll does) cannot make us
    # allocate gigabytes.
    _DIRECT_FD_LIMIT = 1 << 20

# The C fd of ints too large for a long long: never registered.
cdef long long _NO_FD = 0x7fffffffffffffff

cdef enum:
    # select()'s (key, events) pairs are kept in a list of at most this many
    # slots (a power of two): one per fd of a table no larger, shared beyond.
    _MAX_PAIR_SLOTS = 1024

# The events a pair can carry, by value: pairs are built with these objects,
# so a kept pair is reused only when its events are the very same object.
cdef tuple _EVENT_MASKS = (0, 1, 2, 3)


cdef extern from "Python.h":
    ctypedef PyObject *(*vectorcallfunc)(PyObject *callable, PyObject **args,
                                         size_t nargsf, PyObject *kwnames)
    vectorcallfunc PyVectorcall_Function(object callable)
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf,
                               PyObject *kwnames)
    const size_t PY_VECTORCALL_ARGUMENTS_OFFSET


cdef extern from "Python.h":
    # The list macros on borrowed pointers, so that reading a slot costs no
    # reference count changes.
    Py_ssize_t _list_size "PyList_GET_SIZE"(PyObject *list)
    PyObject *_list_item "PyList_GET_ITEM"(PyObject *list, Py_ssize_t index)


cdef inline int _call_key(object key, int events) except -1:
    """key.data(key.fileobj, events) for dispatch(): a vectorcall on the
    key's own fields (the caller holds the key), with the events int taken
    from _EVENT_MASKS, and no argument tuple."""
    cdef PyObject *argv[3]
    cdef PyObject *result
    cdef PyObject *callback = PyTuple_GET_ITEM(key, KEY_DATA)
    cdef vectorcallfunc call = PyVectorcall_Function(<object>callback)
    argv[0] = NULL     # the slot PY_VECTORCALL_ARGUMENTS_OFFSET lends the callee
    argv[1] = PyTuple_GET_ITEM(key, KEY_FILEOBJ)
    argv[2] = PyTuple_GET_ITEM(_EVENT_MASKS, events)
    if call == NULL:
        PyObject_Vectorcall(<object>callback, &argv[1], 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL)
        return 0
    result = call(callback, &argv[1], 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL)
    if result == NULL:
        return -1
    Py_DECREF(<object>result)
    return 0

from ._selectors_py import FORKED_EPOLL_MESSAGE

# Bumped in the child after os.fork(): an epoll object made before the fork is
# shared with the parent, and changing its interest list from the child would
# change the parent's registrations.
cdef unsigned long _fork_generation = 0


def _after_fork_in_child():
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------- helpers

cdef inline long long _c_fd(object fd):
    """The C value of an fd object already known to be an int (or bool)."""
    cdef int overflow = 0
    cdef long long value = PyLong_AsLongLongAndOverflow(fd, &overflow)
    if overflow:
        return _NO_FD if overflow > 0 else -1
    return value


cdef int _register_mask(object events) except -1:
    """Validate register()'s events as the stdlib does; return the C mask."""
    cdef int overflow = 0
    cdef long long value
    if PyLong_Check(events):
        value = PyLong_AsLongLongAndOverflow(events, &overflow)
        if overflow == 0 and value != 0 and (value & ~(_READ | _WRITE)) == 0:
            return <int>value
    elif events and not (events & ~(_READ | _WRITE)):
        return _modify_mask(events)
    raise ValueError(f"Invalid events: {events!r}")


cdef int _modify_mask(object events) except -1:
    """The C mask for modify()'s events, which epoll and poll never validate."""
    cdef int overflow = 0
    cdef long long value
    if PyLong_Check(events):
        value = PyLong_AsLongLongAndOverflow(events, &overflow)
        if overflow == 0:
            return <int>(value & (_READ | _WRITE))
        return <int><long long>(events & (_READ | _WRITE))
    # Anything else: the stdlib's own truth tests, whatever they raise.
    return (_READ if events & _READ else 0) | (_WRITE if events & _WRITE else 0)


cdef enum:
    # _wait_ms's answer for a finite timeout longer than the kernel can wait.
    _TOO_LONG = -2

# The longest wait select.poll takes, in milliseconds: an int of them, or,
# from 3.15 where the platform has ppoll(), what a PyTime_t of nanoseconds
# holds.
cdef long long _POLL_LONGEST_MS = (
    9223372036854775807 // 1000000
    if sys.version_info >= (3, 15) and sysconfig.get_config_var("HAVE_PPOLL")
    else INT_MAX)


cdef long long _wait_ms(object timeout, long long longest) except -3:
    """select()'s timeout in whole milliseconds, -1 to block, or _TOO_LONG
    when it is finite and longer than `longest`.

    Positive timeouts round up, so that a short wait never becomes a busy
    0 ms poll. Errors are the stdlib's, in its order: what its Python-level
    arithmetic rejects (NaN: ValueError, infinity: OverflowError, not a
    number: TypeError) is raised here; a finite timeout too long for the
    kernel comes back as _TOO_LONG, because the stdlib's epoll reports a
    closed selector before that."""
    cdef double seconds, ms
    cdef int overflow = 0
    cdef long long whole
    if timeout is None:
        return -1
    if PyFloat_CheckExact(timeout):
        seconds = PyFloat_AS_DOUBLE(timeout)
        if isnan(seconds):
            raise ValueError("cannot convert float NaN to integer")
        if seconds <= 0:
            return 0
        ms = ceil(seconds * 1e3)
        if isinf(ms):
            raise OverflowError("cannot convert float infinity to integer")
        return _TOO_LONG if ms > longest else <long long>ms
    if PyLong_Check(timeout):
        whole = PyLong_AsLongLongAndOverflow(timeout, &overflow)
        if overflow < 0 or (overflow == 0 and whole <= 0):
            return 0
        if overflow > 0 and isinf(<double>timeout * 1e3):
            # (<double> itself raises for ints beyond any float.)
            raise OverflowError("cannot convert float infinity to integer")
        if overflow > 0 or whole > longest // 1000:
            return _TOO_LONG
        return whole * 1000
    # Other numbers (Fraction, Decimal, numpy scalars): the stdlib's arithmetic.
    if timeout <= 0:
        return 0
    rounded = math.ceil(timeout * 1e3)
    whole = PyLong_AsLongLongAndOverflow(rounded, &overflow)
    return _TOO_LONG if overflow or whole > longest else whole


cdef int _timeout_ms(object timeout) except -2:
    """As _wait_ms for epoll's longest wait, with OverflowError for a
    timeout too long to wait."""
    cdef long long ms = _wait_ms(timeout, INT_MAX)
    if ms == _TOO_LONG:
        raise OverflowError("timeout is too large")
    return <int>ms


cdef inline int _warn_if_bool_fd(object fd) except -1:
    """Warn as the select module does (3.13+) when a bool reaches the kernel
    as an fd; under -W error that warning is raised where the stdlib's is."""
    if PY_VERSION_HEX >= 0x030D0000 and (fd is True or fd is False):
        PyErr_WarnEx(RuntimeWarning, "bool is used as a file descriptor", 1)
    return 0


cdef inline bint _differ(object a, object b) except -1:
    """`a != b`, without a rich comparison for two exact ints."""
    cdef int overflow_a = 0, overflow_b = 0
    cdef long long x, y
    if PyLong_CheckExact(a) and PyLong_CheckExact(b):
        x = PyLong_AsLongLongAndOverflow(a, &overflow_a)
        y = PyLong_AsLongLongAndOverflow(b, &overflow_b)
        if not overflow_a and not overflow_b:
            return x != y
    return a != b


cdef inline int _raise_errno(int err) except -1:
    global errno
    errno = err
    PyErr_SetFromErrno(OSError)
    return -1


# ---------------------------------------------------------------- key table

@cython.final
@cython.no_gc_clear
cdef class KeyTable:
    """fd -> SelectorKey, plus each key's events as a C mask.

    Small fds (all of them, in practice) index a list directly; the masks sit
    in a parallel byte array so that select() never unpacks a key."""

    def __cinit__(self):
        self.keys = []
        self.masks = NULL
        self.far = None
        self.count = 0
        self.pairs = []

    def __dealloc__(self):
        FASTSEL_COUNT(FASTSEL_KEYS_RELEASED, self.count)
        PyMem_Free(self.masks)

    cdef object find(self, long long fd):
        """The key registered for fd, or None."""
        if 0 <= fd < PyList_GET_SIZE(self.keys):
            return <object>PyList_GET_ITEM(self.keys, fd)
        if self.far is not None and fd >= _DIRECT_FD_LIMIT:
            return self.far.get(fd)
        return None

    cdef int mask_of(self, long long fd, object key) except -1:
        if fd < _DIRECT_FD_LIMIT:
            return self.masks[fd]
        return _modify_mask(key_field(key, KEY_EVENTS))

    cdef long long c_fd_of(self, object fileobj) except? -1:
        """fd_of() as a C value; an int fd needs no lookup at all."""
        cdef long long fd
        if PyLong_Check(fileobj):
            fd = _c_fd(fileobj)
            if fd >= 0:
                return fd
        return _c_fd(self.fd_of(fileobj))

    cdef object fd_of(self, object fileobj):
        """The fd object for fileobj, as selectors' _fileobj_lookup returns it.

        When fileobj has no valid fd (a closed socket), the registered keys
        are searched by identity, so that it can still be unregistered."""
        try:
            if PyLong_Check(fileobj):
                fd = fileobj
            else:
                try:
                    fd = fileobj.fileno()
                    if not PyLong_CheckExact(fd):
                        fd = int(fd)
                except (AttributeError, TypeError, ValueError):
                    raise ValueError(f"Invalid file object: {fileobj!r}") from None
            if _c_fd(fd) < 0:
                raise ValueError(f"Invalid file descriptor: {fd}")
            return fd
        except ValueError:
            for key in self._snapshot():
                if key_field(key, KEY_FILEOBJ) is fileobj:
                    return key_field(key, KEY_FD)
            raise

    cdef list _snapshot(self):
        """The registered keys, in fd order."""
        cdef list found = [key for key in self.keys if key is not None]
        if self.far:
            found.extend(self.far[fd] for fd in sorted(self.far))
        return found

    cdef int reserve(self, long long fd) except -1:
        """Make room for fd, so that put() cannot fail after an OS call."""
        cdef Py_ssize_t old_size = PyList_GET_SIZE(self.keys)
        cdef Py_ssize_t new_size
        cdef uint8_t *masks
        if fd < old_size:
            return 0
        if fd >= _DIRECT_FD_LIMIT:
            if self.far is None:
                self.far = {}
            return 0
        new_size = max(fd + 1, old_size * 2, 64)
        new_size = min(new_size, _DIRECT_FD_LIMIT)
        masks = <uint8_t *>PyMem_Realloc(self.masks, new_size)
        if masks == NULL:
            raise MemoryError()
        memset(masks + old_size, 0, new_size - old_size)
        self.masks = masks
        self.keys.extend([None] * (new_size - old_size))
        if 0 < PyList_GET_SIZE(self.pairs) < _MAX_PAIR_SLOTS:
            self.pairs = []     # remade for the larger table by the next select()
        return 0

    cdef void put(self, long long fd, object key, int mask):
        """Store key for fd (room reserved, or fd already present)."""
        if fd < _DIRECT_FD_LIMIT:
            if self.keys[fd] is None:
                self.count += 1
                FASTSEL_COUNT(FASTSEL_KEYS_STORED, 1)
            self.keys[fd] = key
            self.masks[fd] = <uint8_t>mask
        else:
            if fd not in self.far:
                self.count += 1
                FASTSEL_COUNT(FASTSEL_KEYS_STORED, 1)
            self.far[fd] = key
        self._forget_pair(fd)

    cdef object pop(self, long long fd):
        """Remove and return the key for fd, or None."""
        key = self.find(fd)
        if key is None:
            return None
        if fd < _DIRECT_FD_LIMIT:
            self.keys[fd] = None
            self.masks[fd] = 0
        else:
            del self.far[fd]
        self.count -= 1
        FASTSEL_COUNT(FASTSEL_KEYS_RELEASED, 1)
        self._forget_pair(fd)
        if self.count == 0:
            self._release()
        return key

    cdef void clear(self):
        FASTSEL_COUNT(FASTSEL_KEYS_RELEASED, self.count)
        self.count = 0
        self._release()

    cdef void _release(self):
        # Detach first: dropping the keys may run arbitrary __del__ code.
        keys, far, pairs = self.keys, self.far, self.pairs
        self.keys = []
        self.far = None
        self.pairs = []
        PyMem_Free(self.masks)
        self.masks = NULL

    cdef list ready_pairs(self, ReadyEvent *ready, int count):
        """select()'s result for `count` ready events: a (key, events &
        key.events) pair for each fd still registered, in kernel order.

        Pairs are immutable, so the one made for an fd's key and events is
        kept and handed out again until the key changes (see _forget_pair)."""
        cdef list result = PyList_New(count)
        cdef list pairs = self.pairs
        cdef Py_ssize_t filled = 0, slot
        cdef int i, fd
        cdef PyObject *kept
        if count and PyList_GET_SIZE(pairs) == 0:
            pairs = self.pairs = [None] * self._pair_slots()
        for i in range(count):
            fd = ready[i].fd
            key = self.find(fd)
            if key is None:
                continue
            events = <object>PyTuple_GET_ITEM(_EVENT_MASKS, ready[i].events & self.mask_of(fd, key))
            slot = fd & (PyList_GET_SIZE(pairs) - 1)
            kept = PyList_GET_ITEM(pairs, slot)
            if (kept != <PyObject *>None
                    and PyTuple_GET_ITEM(<object>kept, 0) == <PyObject *>key
                    and PyTuple_GET_ITEM(<object>kept, 1) == <PyObject *>events):
                pair = <object>kept
            else:
                pair = (key, events)
                pairs[slot] = pair
            # The list is not visible to anyone yet: fill its slots directly
            # (SET_ITEM steals a reference) and cut off those left empty.
            Py_INCREF(pair)
            PyList_SET_ITEM(result, filled, pair)
            filled += 1
        if filled < count:
            Py_SET_SIZE(result, filled)
        return result

    cdef Py_ssize_t _pair_slots(self):
        """Slots for kept pairs: a power of two covering the direct table,
        at most _MAX_PAIR_SLOTS."""
        cdef Py_ssize_t slots = 64
        while slots < PyList_GET_SIZE(self.keys) and slots < _MAX_PAIR_SLOTS:
            slots *= 2
        return slots

    cdef void _forget_pair(self, long long fd):
        """Drop the pair kept in fd's slot: a key changed or removed must
        be neither handed out nor kept alive by it."""
        cdef Py_ssize_t slots = PyList_GET_SIZE(self.pairs)
        if slots:
            self.pairs[fd & (slots - 1)] = None


@cython.final
@cython.no_gc_clear
cdef class SelectorMapping:
    """The read-only mapping of fds to keys that get_map() returns."""
    cdef KeyTable _table

    def __cinit__(self, KeyTable table not None):
        self._table = table

    def __len__(self):
        return self._table.count

    def __getitem__(self, fileobj):
        key = self._lookup(fileobj)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        return key

    def get(self, fileobj, default=None):
        key = self._lookup(fileobj)
        return default if key is None else key

    def __contains__(self, fileobj):
        return self._lookup(fileobj) is not None

    def __iter__(self):
        return iter([key_field(key, KEY_FD) for key in self._table._snapshot()])

    def keys(self):
        return KeysView(self)

    def items(self):
        return ItemsView(self)

    def values(self):
        return ValuesView(self)

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None
    __reversed__ = None

    cdef inline object _lookup(self, object fileobj):
        return self._table.find(self._table.c_fd_of(fileobj))


Mapping.register(SelectorMapping)


# ---------------------------------------------------------------- core

cdef class Selector:
    """Core shared by the compiled selectors; not usable on its own."""

    def __cinit__(self, *args, **kwargs):
        self._table = KeyTable()
        self._mapping = SelectorMapping(self._table)
        self._buffer = NULL
        self._buffer_slots = 0
        self._buffer_busy = False
        self._dispatch_depth = 0
        self._fresh_fds = None

    def __dealloc__(self):
        if self._buffer != NULL:
            FASTSEL_COUNT(FASTSEL_BUFFERS_FREED, 1)
        PyMem_Free(self._buffer)

    # -- backend hooks (overridden by every backend)

    cdef Py_ssize_t _slot_size(self):
        return sizeof(ReadyEvent)

    cdef int _check_open(self) except -1:
        return 0

    cdef Py_ssize_t _slots_needed(self):
        """How many events one wait may return; at least one, so that an
        empty selector still honours the timeout (as the stdlib does)."""
        return max(self._table.count, 1)

    cdef int _os_register(self, int fd, int mask) except -1:
        raise NotImplementedError

    cdef int _os_modify(self, int fd, int mask) except -1:
        raise NotImplementedError

    cdef void _os_unregister(self, int fd):
        """Called while fd's key is still in the table; errors are ignored."""
        pass

    cdef bint _modify_reregisters(self) noexcept:
        """Whether modify() of the events is unregister() + register(), as
        for the stdlib selectors without a native modify (kqueue, select)."""
        return False

    cdef void _os_close(self):
        pass

    cdef int _prepare_wait(self, char *buf) except -1:
        """Fill buf for the kernel; return how many slots the wait may use."""
        raise NotImplementedError

    cdef int _wait(self, char *buf, int nslots, int timeout_ms) noexcept nogil:
        """Wait in the kernel, translate its results into ReadyEvents at the
        start of buf, and return their count, or -errno."""
        return -1

    # -- the wait buffer

    cdef char *_take_buffer(self) except NULL:
        """A buffer for one wait, with a slot for every registration.

        The selector's own buffer is lent out for the whole wait; a wait that
        starts while it is lent (another thread, or select() from inside a
        callback of dispatch()) gets a private one, so that no wait ever sees
        its buffer moved or freed under it."""
        cdef Py_ssize_t slots = self._slots_needed()
        cdef Py_ssize_t size = self._slot_size()
        cdef char *buf
        if self._buffer_busy:
            buf = <char *>PyMem_Malloc(slots * size)
            if buf == NULL:
                raise MemoryError()
            FASTSEL_COUNT(FASTSEL_BUFFERS_ALLOCATED, 1)
            return buf
        # Grow with the registrations; give memory back when most of it idles.
        if slots > self._buffer_slots or slots * 4 < self._buffer_slots - 256:
            buf = <char *>PyMem_Realloc(self._buffer, slots * size)
            if buf == NULL:
                raise MemoryError()
            if self._buffer == NULL:
                FASTSEL_COUNT(FASTSEL_BUFFERS_ALLOCATED, 1)
            self._buffer = buf
            self._buffer_slots = slots
        self._buffer_busy = True
        return self._buffer

    cdef void _give_back(self, char *buf):
        if buf == self._buffer:
            self._buffer_busy = False
        else:
            FASTSEL_COUNT(FASTSEL_BUFFERS_FREED, 1)
            PyMem_Free(buf)

    # -- waiting

    cdef int _wait_retrying(self, char *buf, int nslots, long long timeout_ms) except -1:
        """The kernel wait with PEP 475 semantics: on EINTR run the signal
        handlers, propagate what they raise, else retry with the time left.
        A timeout longer than one kernel wait takes is waited in turns."""
        cdef int got
        cdef int64_t deadline = 0, left
        if timeout_ms > 0:
            deadline = fastsel_monotonic_ns() + <int64_t>timeout_ms * 1000000
        while True:
            if timeout_ms == 0:
                # Not blocking: releasing the GIL would only cost time.
                got = self._wait(buf, nslots, 0)
            else:
                with nogil:
                    got = self._wait(buf, nslots, <int>min(timeout_ms, INT_MAX))
            if got > 0 or got == 0 and timeout_ms <= INT_MAX:
                return got
            if got < 0:
                if got != -EINTR:
                    return _raise_errno(-got)
                if PyErr_CheckSignals() < 0:
                    return -1
            if timeout_ms > 0:
                left = deadline - fastsel_monotonic_ns()
                if left < 0:
                    return 0
                timeout_ms = (left + 999999) // 1000000

    cdef list _select(self, long long timeout_ms):
        cdef char *buf
        cdef int nready
        self._check_open()
        buf = self._take_buffer()
        try:
            nready = self._wait_retrying(buf, self._prepare_wait(buf), timeout_ms)
            return self._table.ready_pairs(<ReadyEvent *>buf, nready)
        finally:
            self._give_back(buf)

    cdef Py_ssize_t _dispatch(self, long long timeout_ms) except -1:
        """Wait, then call key.data(key.fileobj, events) for each ready key.

        Each event is checked against the table as it is now, after the
        callbacks before it: a key unregistered meanwhile is skipped, a
        modified one is called with its current data and only for the events
        it still waits for, and an fd registered anew during this dispatch
        (closed and reused) is skipped, since the event was about the old
        file. An exception from a callback propagates at once; the events
        not yet delivered are still ready, so the next wait reports them."""
        cdef char *buf
        cdef ReadyEvent *ready
        cdef int nready, i, fd, events
        cdef Py_ssize_t called = 0
        cdef KeyTable table = self._table
        cdef PyObject *found
        self._check_open()
        buf = self._take_buffer()
        try:
            nready = self._wait_retrying(buf, self._prepare_wait(buf), timeout_ms)
        except BaseException:
            self._give_back(buf)
            raise
        # Fresh fds are those registered after the wait (register() collects
        # them while _dispatch_depth is set): an fd registered by another
        # thread while it blocked is reported, as in the pure twin.
        self._dispatch_depth += 1
        try:
            ready = <ReadyEvent *>buf
            for i in range(nready):
                fd = ready[i].fd
                if fd < _list_size(<PyObject *>table.keys):
                    # The direct table, read in place (KeyTable.find and mask_of).
                    found = _list_item(<PyObject *>table.keys, fd)
                    if found == <PyObject *>None:
                        continue
                    key = <object>found
                    events = ready[i].events & table.masks[fd]
                else:
                    key = table.find(fd)
                    if key is None:
                        continue
                    events = ready[i].events & table.mask_of(fd, key)
                if events == 0 or (self._fresh_fds is not None and fd in self._fresh_fds):
                    continue
                # `key` holds the callback and its file while it runs, even
                # if the callback unregisters them.
                _call_key(key, events)
                called += 1
        finally:
            self._dispatch_depth -= 1
            if self._dispatch_depth == 0:
                self._fresh_fds = None
            self._give_back(buf)
        return called

    cdef long long _longest_wait_ms(self) noexcept:
        """The longest finite timeout the stdlib's select() of this kind
        accepts, in milliseconds."""
        return INT_MAX

    cdef long long _timeout_for_wait(self, object timeout) except -2:
        """select()'s timeout in milliseconds; as in the stdlib, a closed
        selector is reported before a timeout too long for the kernel."""
        cdef long long timeout_ms = _wait_ms(timeout, self._longest_wait_ms())
        if timeout_ms == _TOO_LONG:
            self._check_open()
            if self._longest_wait_ms() > INT_MAX:
                raise OverflowError("timestamp out of range for C PyTime_t")
            raise OverflowError("timeout is too large")
        return timeout_ms

    # -- public API

    def register(self, fileobj, events, data=None):
        """Register fileobj for events; return its SelectorKey.

        ValueError for bad events or file objects, KeyError when the fd is
        registered already, OSError when the kernel refuses the fd (the map is
        then left as it was)."""
        return self.c_register(fileobj, events, data)

    def unregister(self, fileobj):
        """Unregister fileobj; return its key. KeyError if not registered.

        Errors from the kernel are ignored: the fd may have been closed, or
        closed and reused, since it was registered."""
        return self.c_unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        """Change the events or data of a registered fileobj; return its key.

        As in the stdlib, events are not validated, the kernel is called only
        when they changed, the same key comes back when nothing changed, and
        a failing kernel call drops the registration before re-raising."""
        return self.c_modify(fileobj, events, data)

    # The three above, for compiled callers (fastsel.aio's loop) that checked
    # the methods are these.

    cdef object c_register(self, object fileobj, object events, object data):
        cdef int mask = _register_mask(events)
        cdef KeyTable table = self._table
        fd_obj = table.fd_of(fileobj)
        cdef long long fd = _c_fd(fd_obj)
        if table.find(fd) is not None:
            raise KeyError(f"{fileobj!r} (FD {fd_obj}) is already registered")
        if fd > INT_MAX:
            raise OverflowError("Python int too large to convert to C int")
        key = fastsel_make_key(SelectorKey, fileobj, fd_obj, events, data)
        # Warnings can run Python code, which may change the table: warn
        # before making room for the key.
        _warn_if_bool_fd(fd_obj)
        table.reserve(fd)
        self._os_register(<int>fd, mask)
        table.put(fd, key, mask)
        if self._dispatch_depth:
            if self._fresh_fds is None:
                self._fresh_fds = set()
            self._fresh_fds.add(fd)
        return key

    cdef object c_unregister(self, object fileobj):
        cdef long long fd = self._table.c_fd_of(fileobj)
        key = self._table.find(fd)
        if key is not None:
            # A warning may run Python code that changes the table: look again.
            _warn_if_bool_fd(key_field(key, KEY_FD))
            key = self._table.find(fd)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        # Before pop: a backend may need the mask it is removing (kqueue).
        self._os_unregister(<int>fd)
        return self._table.pop(fd)

    cdef object c_modify(self, object fileobj, object events, object data):
        cdef KeyTable table = self._table
        cdef long long fd = table.c_fd_of(fileobj)
        cdef int mask
        key = table.find(fd)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        # Read the table now: the comparisons below run Python code (__ne__,
        # warnings) that may unregister fds or close the selector, emptying it.
        mask = table.mask_of(fd, key)
        changed = False
        old_events = key_field(key, KEY_EVENTS)
        if _differ(events, old_events):
            if self._modify_reregisters():
                # The stdlib's _BaseSelectorImpl.modify: events are validated,
                # the new key holds this fileobj, and data is not compared.
                self.unregister(fileobj)
                return self.register(fileobj, events, data)
            mask = _modify_mask(events)
            try:
                _warn_if_bool_fd(key_field(key, KEY_FD))
                self._os_modify(<int>fd, mask)
            except BaseException:
                if table.pop(fd) is None:
                    # Unregistered meanwhile (by code run from !=): the
                    # stdlib's own unregister() then raises KeyError.
                    raise KeyError(f"{fileobj!r} is not registered")
                raise
            changed = True
        # `!=` on purpose, as the stdlib: data that is never equal to itself
        # (NaN) counts as changed, and a raising __ne__ propagates. Only
        # None != None is known without asking (it is identity).
        old_data = key_field(key, KEY_DATA)
        if not (data is None and old_data is None) and data != old_data:
            changed = True
        if changed:
            key = fastsel_make_key(SelectorKey, key_field(key, KEY_FILEOBJ), key_field(key, KEY_FD), events, data)
            # The key goes back even if that code unregistered it, as in the
            # stdlib; the room for it may have gone with the others.
            table.reserve(fd)
            table.put(fd, key, mask)
        return key

    def select(self, timeout=None):
        """Wait until registered fds are ready or timeout seconds pass.

        timeout None blocks, <= 0 polls, otherwise it is rounded up to whole
        milliseconds. Returns a list of (key, events)."""
        return self._select(_common_timeout_ms(self, timeout))

    def dispatch(self, timeout=None):
        """Wait as select(timeout) does, then call key.data(key.fileobj,
        events) for every ready key; return how many callbacks ran.

        Callbacks may register, modify and unregister freely, and may call
        select() or dispatch() themselves (a nested call waits anew)."""
        return self._dispatch(_common_timeout_ms(self, timeout))

    def get_key(self, fileobj):
        """Return the key of a registered fileobj.

        KeyError if it is not registered, RuntimeError once closed."""
        if self._mapping is None:
            raise RuntimeError("Selector is closed")
        key = self._table.find(self._table.c_fd_of(fileobj))
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        return key

    cdef object registered_key(self, object fd):
        """get_key(fd) for an exact int fd, with None where get_key raises
        KeyError: compiled callers asking "is fd registered?" then pay for
        no exception."""
        if self._mapping is None:
            raise RuntimeError("Selector is closed")
        return self._table.find(self._table.c_fd_of(fd))

    def get_map(self):
        """Return the read-only mapping of fds to keys, None once closed."""
        return self._mapping

    def close(self):
        """Release the kernel object and forget every registration.

        Calling it again does nothing."""
        self._os_close()
        self._mapping = None
        self._table.clear()
        if not self._buffer_busy:
            if self._buffer != NULL:
                FASTSEL_COUNT(FASTSEL_BUFFERS_FREED, 1)
            PyMem_Free(self._buffer)
            self._buffer = NULL
            self._buffer_slots = 0

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


# The int 0 (a cached object in CPython): select(0) polls.
cdef object _ZERO = 0


cdef inline int _common_timeout_ms(Selector selector, object timeout) except -2:
    """_timeout_for_wait(), answering None and 0, the usual timeouts of a
    loop, without converting anything."""
    if timeout is None:
        return -1
    if timeout is _ZERO:
        return 0
    return selector._timeout_for_wait(timeout)


# ---------------------------------------------------------------- epoll

cdef class EpollSelector(Selector):
    """Epoll-based selector (Linux)."""

    def __cinit__(self, *args, **kwargs):
        self._epfd = -1

    def __init__(self):
        fd = epoll_create1(EPOLL_CLOEXEC)
        if fd < 0:
            PyErr_SetFromErrno(OSError)
        self._epfd = fd
        self._generation = _fork_generation

    def __dealloc__(self):
        if self._epfd >= 0:
            close(self._epfd)

    def fileno(self):
        """The epoll file descriptor."""
        self._check_open()
        return self._epfd

    cdef Py_ssize_t _slot_size(self):
        # The kernel's epoll_events are translated in place into ReadyEvents,
        # which are no larger: entry i is read before ReadyEvent i, which ends
        # before epoll_event i + 1 starts, is written.
        return sizeof(epoll_event)

    cdef int _check_open(self) except -1:
        if self._epfd < 0:
            raise ValueError("I/O operation on closed epoll object")
        if self._generation != _fork_generation:
            raise RuntimeError(FORKED_EPOLL_MESSAGE)
        return 0

    cdef int _ctl(self, int op, int fd, int mask) except -1:
        cdef epoll_event ev
        self._check_open()
        ev.events = (EPOLLIN if mask & _READ else 0) | (EPOLLOUT if mask & _WRITE else 0)
        ev.data.u64 = 0
        ev.data.fd = fd
        if epoll_ctl(self._epfd, op, fd, &ev) < 0:
            PyErr_SetFromErrno(OSError)
        return 0

    cdef int _os_register(self, int fd, int mask) except -1:
        return self._ctl(EPOLL_CTL_ADD, fd, mask)

    cdef int _os_modify(self, int fd, int mask) except -1:
        return self._ctl(EPOLL_CTL_MOD, fd, mask)

    cdef void _os_unregister(self, int fd):
        cdef epoll_event ev
        # In a child after fork() only the map forgets the fd: the kernel's
        # interest list is the parent's.
        if self._epfd >= 0 and self._generation == _fork_generation:
            epoll_ctl(self._epfd, EPOLL_CTL_DEL, fd, &ev)

    cdef void _os_close(self):
        if self._epfd >= 0:
            close(self._epfd)
            self._epfd = -1

    cdef int _prepare_wait(self, char *buf) except -1:
        return <int>self._slots_needed()

    cdef int _wait(self, char *buf, int nslots, int timeout_ms) noexcept nogil:
        cdef epoll_event *kernel = <epoll_event *>buf
        cdef ReadyEvent *ready = <ReadyEvent *>buf
        cdef int n = epoll_wait(self._epfd, kernel, nslots, timeout_ms)
        cdef int i, fd
        cdef unsigned int ev
        if n < 0:
            return -errno
        for i in range(n):
            ev = kernel[i].events
            fd = kernel[i].data.fd
            # Anything but EPOLLIN counts as writable and anything but
            # EPOLLOUT as readable, so HUP and ERR wake both directions.
            ready[i].fd = fd
            ready[i].events = ((_WRITE if ev & ~(<unsigned int>EPOLLIN) else 0)
                               | (_READ if ev & ~(<unsigned int>EPOLLOUT) else 0))
        return n


# ---------------------------------------------------------------- poll

cdef class PollSelector(Selector):
    """Poll-based selector."""

    def __cinit__(self, *args, **kwargs):
        self._fds = NULL
        self._nfds = 0
        self._fds_capacity = 0

    def __init__(self):
        pass

    def __dealloc__(self):
        PyMem_Free(self._fds)

    cdef long long _longest_wait_ms(self) noexcept:
        return _POLL_LONGEST_MS

    cdef Py_ssize_t _slot_size(self):
        # A copy of the pollfd array is polled, then translated in place: the
        # k-th ReadyEvent never lies past the pollfd it comes from.
        return sizeof(pollfd)

    cdef Py_ssize_t _index(self, int fd):
        cdef Py_ssize_t i
        for i in range(self._nfds):
            if self._fds[i].fd == fd:
                return i
        return -1

    cdef int _os_register(self, int fd, int mask) except -1:
        cdef Py_ssize_t capacity
        cdef pollfd *fds
        if self._nfds == self._fds_capacity:
            capacity = max(self._fds_capacity * 2, 16)
            fds = <pollfd *>PyMem_Realloc(self._fds, capacity * sizeof(pollfd))
            if fds == NULL:
                raise MemoryError()
            self._fds = fds
            self._fds_capacity = capacity
        self._fds[self._nfds].fd = fd
        self._fds[self._nfds].events = (POLLIN if mask & _READ else 0) | (POLLOUT if mask & _WRITE else 0)
        self._fds[self._nfds].revents = 0
        self._nfds += 1
        return 0

    cdef int _os_modify(self, int fd, int mask) except -1:
        cdef Py_ssize_t i = self._index(fd)
        if i < 0:
            raise KeyError(fd)
        self._fds[i].events = (POLLIN if mask & _READ else 0) | (POLLOUT if mask & _WRITE else 0)
        return 0

    cdef void _os_unregister(self, int fd):
        cdef Py_ssize_t i = self._index(fd)
        if i >= 0:
            # Keep registration order: poll() reports in it, as select.poll does.
            memmove(&self._fds[i], &self._fds[i + 1], (self._nfds - i - 1) * sizeof(pollfd))
            self._nfds -= 1

    cdef void _os_close(self):
        # The stdlib's PollSelector keeps working after close() except for
        # get_map() and get_key(); only the registrations go.
        self._nfds = 0

    cdef Py_ssize_t _slots_needed(self):
        return max(self._nfds, 1)

    cdef int _prepare_wait(self, char *buf) except -1:
        if self._nfds:  # _fds may be NULL, and memcpy from NULL is undefined
            memcpy(buf, self._fds, self._nfds * sizeof(pollfd))
        return <int>self._nfds

    cdef int _wait(self, char *buf, int nslots, int timeout_ms) noexcept nogil:
        cdef pollfd *fds = <pollfd *>buf
        cdef ReadyEvent *ready = <ReadyEvent *>buf
        cdef int n = poll(fds, <nfds_t>nslots, timeout_ms)
        cdef int i, k = 0, fd
        cdef unsigned short ev
        if n < 0:
            return -errno
        for i in range(nslots):
            ev = <unsigned short>fds[i].revents
            if ev == 0:
                continue
            fd = fds[i].fd
            # POLLNVAL (a closed fd) counts both ways, as in the stdlib.
            ready[k].fd = fd
            ready[k].events = ((_WRITE if ev & ~(<unsigned short>POLLIN) else 0)
                               | (_READ if ev & ~(<unsigned short>POLLOUT) else 0))
            k += 1
        return k


# BaseSelector.register is the abstract selector method, which hides the ABC's
# own register(): call ABCMeta's directly to make virtual subclasses.
for _cls in (EpollSelector, PollSelector):
    ABCMeta.register(_stdlib.BaseSelector, _cls)
del _cls


# ---------------------------------------------------------------- kqueue

from libc.stdint cimport uintptr_t
from posix.fcntl cimport F_SETFD, FD_CLOEXEC, fcntl
from posix.time cimport timespec

from .includes.kqueue cimport (
    EV_ADD, EV_DELETE, EV_SET, EVFILT_READ, EVFILT_WRITE, FASTSEL_HAVE_KQUEUE,
    kevent, kevent_t, kqueue)

HAVE_KQUEUE = bool(FASTSEL_HAVE_KQUEUE)

# fork()'s child does not inherit kqueues: there the fd number is free and
# may be reused by an unrelated file. So a kqueue made before the latest fork
# (_fork_generation, above) counts as closed in the child and is never closed
# there (as select.kqueue since CPython 3.12.1, gh-110395).

# kevent() only applying changes must not wait.
cdef timespec _NO_WAIT = timespec(0, 0)


cdef class KqueueSelector(Selector):
    """Kqueue-based selector (macOS and BSD).

    One kernel filter per direction, as the stdlib's: an fd ready both ways
    comes back as two (key, event) entries."""

    def __cinit__(self, *args, **kwargs):
        self._kqfd = -1
        self._nfilters = 0
        self._generation = _fork_generation

    def __init__(self):
        cdef int err
        fd = kqueue()
        if fd < 0:
            PyErr_SetFromErrno(OSError)
        # Not inherited by exec'd programs, as select.kqueue.
        if fcntl(fd, F_SETFD, FD_CLOEXEC) < 0:
            err = errno
            close(fd)
            _raise_errno(err)
        self._kqfd = fd

    def __dealloc__(self):
        if self._is_open():
            close(self._kqfd)

    def fileno(self):
        """The kqueue file descriptor."""
        self._check_open()
        return self._kqfd

    cdef bint _is_open(self) noexcept:
        if self._generation != _fork_generation:
            self._kqfd = -1     # the parent's kqueue: leave its fd number alone
        return self._kqfd >= 0

    cdef Py_ssize_t _slot_size(self):
        # kevents are translated in place into the smaller ReadyEvents: kevent
        # i is read whole before ReadyEvent i, which ends before kevent i + 1
        # starts, is written.
        return sizeof(kevent_t)

    cdef int _check_open(self) except -1:
        if not self._is_open():
            raise ValueError("I/O operation on closed kqueue object")
        return 0

    cdef Py_ssize_t _slots_needed(self):
        # One kevent per filter: READ and WRITE on one fd take two slots.
        return max(self._nfilters, 1)

    cdef int _change(self, int fd, short kfilter, unsigned short flags) noexcept:
        """Add or delete one filter of fd; return 0 or the errno."""
        cdef kevent_t change
        EV_SET(&change, <uintptr_t>fd, kfilter, flags, 0, 0, NULL)
        if kevent(self._kqfd, &change, 1, NULL, 0, &_NO_WAIT) < 0:
            return errno
        return 0

    cdef int _os_register(self, int fd, int mask) except -1:
        cdef int err
        self._check_open()
        if mask & _READ:
            err = self._change(fd, EVFILT_READ, EV_ADD)
            if err:
                return _raise_errno(err)
            self._nfilters += 1
        if mask & _WRITE:
            err = self._change(fd, EVFILT_WRITE, EV_ADD)
            if err:
                # A failed register leaves nothing behind, not even the READ
                # filter that worked (the stdlib leaves that one).
                if mask & _READ:
                    self._change(fd, EVFILT_READ, EV_DELETE)
                    self._nfilters -= 1
                return _raise_errno(err)
            self._nfilters += 1
        return 0

    cdef bint _modify_reregisters(self) noexcept:
        # kqueue has no modify: the stdlib's KqueueSelector inherits
        # _BaseSelectorImpl.modify.
        return True

    cdef void _os_unregister(self, int fd):
        # Errors are ignored like the stdlib's: ENOENT when a filter is gone,
        # EBADF when the fd was closed (which drops its filters).
        key = self._table.find(fd)
        cdef int mask = self._table.mask_of(fd, key)
        if not self._is_open():
            return
        if mask & _READ:
            self._change(fd, EVFILT_READ, EV_DELETE)
            self._nfilters -= 1
        if mask & _WRITE:
            self._change(fd, EVFILT_WRITE, EV_DELETE)
            self._nfilters -= 1

    cdef void _os_close(self):
        if self._is_open():
            close(self._kqfd)
        self._kqfd = -1
        self._nfilters = 0

    cdef int _prepare_wait(self, char *buf) except -1:
        return <int>self._slots_needed()

    cdef int _wait(self, char *buf, int nslots, int timeout_ms) noexcept nogil:
        cdef kevent_t *kernel = <kevent_t *>buf
        cdef ReadyEvent *ready = <ReadyEvent *>buf
        cdef timespec timeout
        cdef timespec *timeout_ptr = NULL     # NULL blocks
        cdef int n, i, fd
        cdef short kfilter
        if timeout_ms >= 0:
            timeout.tv_sec = timeout_ms // 1000
            timeout.tv_nsec = (timeout_ms % 1000) * 1000000
            timeout_ptr = &timeout
        n = kevent(self._kqfd, NULL, 0, kernel, nslots, timeout_ptr)
        if n < 0:
            return -errno
        for i in range(n):
            fd = <int>kernel[i].ident
            kfilter = kernel[i].filter
            ready[i].fd = fd
            ready[i].events = ((_READ if kfilter == EVFILT_READ else 0)
                               | (_WRITE if kfilter == EVFILT_WRITE else 0))
        return n


ABCMeta.register(_stdlib.BaseSelector, KqueueSelector)


def _debug_counters():
    """The debug build's internal counters (keys stored and released by key
    tables, wait buffers allocated and freed); None in a release build."""
    if not FASTSEL_DEBUG_BUILD:
        return None
    return {
        "keys_stored": FASTSEL_COUNTER(FASTSEL_KEYS_STORED),
        "keys_released": FASTSEL_COUNTER(FASTSEL_KEYS_RELEASED),
        "buffers_allocated": FASTSEL_COUNTER(FASTSEL_BUFFERS_ALLOCATED),
        "buffers_freed": FASTSEL_COUNTER(FASTSEL_BUFFERS_FREED),
    }
