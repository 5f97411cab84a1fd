# Small pieces of libc and the platform shims the core needs.
from libc.stdint cimport int64_t

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

cdef extern from "includes/compat.h" nogil:
    int64_t fastsel_monotonic_ns()
    # time.monotonic()'s value, or -1 where the caller must call it.
    int fastsel_time_monotonic(double *seconds)

cdef extern from "includes/keys.h":
    object fastsel_make_key(object key_type, object fileobj, object fd,
                            object events, object data)
