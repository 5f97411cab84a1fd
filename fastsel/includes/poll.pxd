# POSIX poll().

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents

    ctypedef unsigned long nfds_t

    const short POLLIN
    const short POLLOUT

    int poll(pollfd *fds, nfds_t nfds, int timeout)
