# Declarations of the compiled callback loop.
from ._selectors_c cimport Selector


cdef class Handle:
    cdef object _callback
    cdef tuple _args
    cdef object _context         # contextvars.Context the callback runs in
    cdef Loop _loop
    cdef bint _cancelled

    cdef int _run(self) except -1


cdef class TimerHandle(Handle):
    cdef double _when
    cdef unsigned long long _seq  # ties fire in order of scheduling
    cdef bint _scheduled          # still in the loop's heap


cdef class Loop:
    cdef object _selector
    cdef Selector _compiled       # _selector when it is a compiled one: read directly
    cdef list _ready              # Handles to run on the next iteration
    cdef list _timers             # heap of TimerHandles
    cdef Py_ssize_t _cancelled_timers
    cdef unsigned long long _timer_seq
    cdef bint _stopping
    cdef bint _closed
    cdef object _running_thread   # ident of the thread in run_forever(), or None
    cdef long _owner_pid          # the process it was created in
    cdef object _exception_handler
    cdef int _wakeup_read
    cdef int _wakeup_write
    cdef bint _wakeup_pending    # a wake-up byte was written since the loop went idle
    cdef double _clock_resolution
    cdef object __weakref__

    cdef int _check_closed(self) except -1
    cdef Handle _call_soon(self, object callback, tuple args, object context)
    cdef int _timer_cancelled(self, TimerHandle timer) except -1
    cdef int _compact_timers(self) except -1
    cdef int _poll_io(self, int timeout_ms) except -1
    cdef int _run_once(self) except -1
