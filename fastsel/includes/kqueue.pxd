# BSD/macOS kqueue, through compat.h (stubbed to fail with ENOSYS elsewhere).
# The struct and the call share the name kevent in C; Cython needs two names.
from libc.stdint cimport intptr_t, uintptr_t
from posix.time cimport timespec

cdef extern from "includes/compat.h" nogil:
    const int FASTSEL_HAVE_KQUEUE

    ctypedef struct kevent_t "struct kevent":
        uintptr_t ident
        short filter
        unsigned short flags
        unsigned int fflags
        intptr_t data
        void *udata

    const short EVFILT_READ
    const short EVFILT_WRITE
    const unsigned short EV_ADD
    const unsigned short EV_DELETE

    void EV_SET(kevent_t *kev, uintptr_t ident, short filter, unsigned short flags,
                unsigned int fflags, intptr_t data, void *udata)
    int kqueue()
    int kevent(int kq, const kevent_t *changelist, int nchanges,
               kevent_t *eventlist, int nevents, const timespec *timeout)
