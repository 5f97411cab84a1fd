/* Platform shims: what a platform lacks is stubbed here, so that the Cython
   sources compile everywhere and backends are chosen by ordinary constants
   (FASTSEL_HAVE_*) instead of preprocessor branches in the .pyx files. */
#ifndef FASTSEL_COMPAT_H
#define FASTSEL_COMPAT_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#if defined(__linux__)
#  include <sys/epoll.h>
#  define FASTSEL_HAVE_EPOLL 1
#else
#  define FASTSEL_HAVE_EPOLL 0
   typedef union epoll_data { void *ptr; int fd; uint32_t u32; uint64_t u64; } epoll_data_t;
   struct epoll_event { uint32_t events; epoll_data_t data; };
#  define EPOLLIN  0x001
#  define EPOLLOUT 0x004
#  define EPOLL_CTL_ADD 1
#  define EPOLL_CTL_DEL 2
#  define EPOLL_CTL_MOD 3
#  define EPOLL_CLOEXEC 0
   static inline int epoll_create1(int flags) { (void)flags; errno = ENOSYS; return -1; }
   static inline int epoll_ctl(int e, int op, int fd, struct epoll_event *ev) {
       (void)e; (void)op; (void)fd; (void)ev; errno = ENOSYS; return -1; }
   static inline int epoll_wait(int e, struct epoll_event *evs, int n, int ms) {
       (void)e; (void)evs; (void)n; (void)ms; errno = ENOSYS; return -1; }
#endif

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) \
    || defined(__NetBSD__) || defined(__DragonFly__)
#  include <sys/types.h>
#  include <sys/event.h>
#  include <sys/time.h>
#  define FASTSEL_HAVE_KQUEUE 1
#else
#  define FASTSEL_HAVE_KQUEUE 0
   /* macOS's layout; only ever handed to the stubs below. */
   struct kevent { uintptr_t ident; int16_t filter; uint16_t flags; uint32_t fflags;
                   intptr_t data; void *udata; };
#  define EVFILT_READ  (-1)
#  define EVFILT_WRITE (-2)
#  define EV_ADD    0x0001
#  define EV_DELETE 0x0002
#  define EV_SET(kevp, a, b, c, d, e, f) do { \
       struct kevent *kev_ = (kevp); \
       kev_->ident = (a); kev_->filter = (b); kev_->flags = (c); \
       kev_->fflags = (d); kev_->data = (e); kev_->udata = (f); } while (0)
   static inline int kqueue(void) { errno = ENOSYS; return -1; }
   static inline int kevent(int kq, const struct kevent *changes, int nchanges,
                            struct kevent *events, int nevents, const struct timespec *timeout) {
       (void)kq; (void)changes; (void)nchanges; (void)events; (void)nevents; (void)timeout;
       errno = ENOSYS; return -1; }
#endif

/* Monotonic clock in nanoseconds, for PEP 475 deadlines. */
static inline int64_t fastsel_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The float time.monotonic() returns, without its Python call, where that is
   known: on Linux CPython reads CLOCK_MONOTONIC in nanoseconds and turns
   them into seconds with the rounding below (_PyTime_AsSecondsDouble, alike
   from 3.9 to 3.15). Elsewhere (macOS reads another clock) and if the clock
   fails: -1, for the caller to call time.monotonic(). */
static inline int fastsel_time_monotonic(double *result) {
#if defined(__linux__)
    struct timespec ts;
    int64_t ns;
    volatile double seconds;  /* no excess precision, as in CPython */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return -1;
    ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (ns % 1000000000 == 0) {
        seconds = (double)(ns / 1000000000);
    }
    else {
        seconds = (double)ns;
        seconds /= 1e9;
    }
    *result = seconds;
    return 0;
#else
    (void)result;
    return -1;
#endif
}

#endif
