# Linux epoll, through compat.h (stubbed to fail with ENOSYS elsewhere).
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "includes/compat.h" nogil:
    const int FASTSEL_HAVE_EPOLL

    ctypedef union epoll_data_t:
        void *ptr
        int fd
        uint32_t u32
        uint64_t u64

    struct epoll_event:
        uint32_t events
        epoll_data_t data

    const int EPOLLIN
    const int EPOLLOUT
    const int EPOLL_CTL_ADD
    const int EPOLL_CTL_DEL
    const int EPOLL_CTL_MOD
    const int EPOLL_CLOEXEC

    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)
