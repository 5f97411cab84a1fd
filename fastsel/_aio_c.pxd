# What other compiled modules call in fastsel._aio_c.

cdef int cancel_timer(object timer) except -1

# loop.call_later(delay, callback), loop.call_soon(callback, *args) and
# bool(loop.get_debug()), without the method calls where the loop's methods
# are fastsel's (the TLS protocol's timeouts and callbacks); the methods are
# called otherwise.
cdef object loop_call_later(object loop, object delay, object callback)
cdef object loop_call_soon(object loop, object callback, tuple args)
cdef bint loop_debug(object loop) except -1
