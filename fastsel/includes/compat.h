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

/* Monotonic clock in nanoseconds, for PEP 475 deadlines. */
static inline int64_t fastsel_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
