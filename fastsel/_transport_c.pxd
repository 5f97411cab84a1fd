from cpython.object cimport PyObject

cdef class WriteCoalescer:
    # The loop's thread while the loop runs its callbacks (writes are then
    # held back), 0 otherwise.
    cdef unsigned long thread
    # Transports with writes held back (strong references; count of them
    # in an array of capacity).
    cdef PyObject **held
    cdef Py_ssize_t count, capacity

    cdef int hold(self) except -1
    cdef int add(self, object transport) except -1
    cdef int flush(self) except -1


# SocketTransport(loop, sock, protocol, waiter, extra, server[, context]),
# writing through the loop's WriteCoalescer (fastsel.aio's
# _make_socket_transport).
cdef object new_socket_transport(object loop, object sock, object protocol,
                                 object waiter, object extra, object server,
                                 object context, object coalescer)

# What a transport asks of its loop, made in C by fastsel.aio (which sets
# the hooks when it loads) where the loop's methods are fastsel's or
# asyncio's own; otherwise (NotImplemented, or -1 for the debug flag) the
# transport calls the method.
# loop.call_soon(callback, *args, context=context):
ctypedef object (*SoonHook)(object loop, object callback, tuple args, object context)
# loop._add_reader(fd, callback, *args, context=context) (read) or
# loop._add_writer(...), context= only where the transport passes it:
ctypedef object (*AddIoHook)(object loop, object fd, object callback, tuple args,
                             object context, bint read)
# loop._remove_reader(fd) (read) or loop._remove_writer(fd):
ctypedef object (*RemoveIoHook)(object loop, object fd, bint read)
# loop.get_debug(), as a truth value:
ctypedef int (*DebugHook)(object loop) except -2
cdef int set_loop_hooks(SoonHook soon, AddIoHook add_io, RemoveIoHook remove_io,
                        DebugHook debug) except -1

# protocol.get_buffer(size) and protocol.buffer_updated(nbytes) as C
# functions, for the read path of buffered protocols: fastsel's TLS protocol
# sets them when it loads. Each returns NotImplemented for a protocol it does
# not take, and the transport then calls the method.
ctypedef object (*BufferedCall)(object protocol, object argument)
cdef int set_buffered_hooks(BufferedCall get_buffer, BufferedCall buffer_updated) except -1

# socket.socket(*init_args), for a socket.socket and __init__ that are the
# stdlib's (the caller checks), without that __init__'s Python frame.
cdef object new_stdlib_socket(tuple init_args)

# sock.accept() followed by conn.setblocking(False), as asyncio's accept
# loop does; None for the accept's BlockingIOError.
cdef object accept_nonblocking(object sock)

# loop._transports (a WeakValueDictionary) read and written without its
# Python frames: includes/weak_values.pxi.
cdef bint plain_weak_values(object mapping) except -1
cdef object weak_value_or_none(object mapping, object key)
cdef int set_weak_value(object mapping, object key, object value) except -1
