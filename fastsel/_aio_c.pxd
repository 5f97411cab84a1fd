# What other compiled modules call in fastsel._aio_c.

cdef int cancel_timer(object timer) except -1
