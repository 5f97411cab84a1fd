# CPython's socket object as the compiled transport reads it, and the calls
# it makes on the fd.
from libc.stdint cimport int64_t

cdef extern from "includes/sockets.h":
    ctypedef struct fastsel_socket:
        int fd
        int family
        int type
        int proto
        int64_t timeout_ns

    # sock.recv(size) and sock.send(data) (exact bytes) of a non-blocking socket.
    object fastsel_socket_recv(object sock, Py_ssize_t size)
    # sock.recv_into(buffer), into the whole of a writable buffer
    # (NotImplemented for any other buffer).
    object fastsel_socket_recv_into(object sock, object buffer)
    object fastsel_socket_send(object sock, object data)
    # The exact bytes objects of a list (at most FASTSEL_SENDV_MAX) with one
    # sendmsg: the number of bytes sent.
    enum: FASTSEL_SENDV_MAX
    object fastsel_socket_sendv(object sock, list chunks)
    # sock._accept() of a non-blocking IPv4/IPv6 socket (the new fd made
    # non-blocking too when asked); None when no connection waits,
    # NotImplemented where the caller must call _accept.
    object fastsel_socket_accept(object sock, bint nonblocking)
    # _socket.socket.__new__(cls) then its __init__(*init_args), c_socket_type
    # being _socket.socket: the type's C slots, without their wrappers.
    object fastsel_socket_object(object c_socket_type, object cls, tuple init_args)
    # sock.getsockname() (peer: getpeername()) of an IPv4/IPv6 socket, None
    # where it raises OSError; NotImplemented for other families.
    object fastsel_socket_address(object sock, bint peer)
    # sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1).
    int fastsel_socket_set_nodelay(object sock) except -1
    # sock.getsockopt(SOL_SOCKET, SO_ERROR).
    object fastsel_socket_error(object sock)
    # Whether socket.inet_pton(family, text) succeeds, for an ASCII str
    # without NUL; -1 for any other str (then make the call).
    int fastsel_is_address(int family, str text)
