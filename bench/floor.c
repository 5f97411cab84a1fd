/* The C floor: the kernel work of a micro case with nothing on top.
 *
 *   floor MODE N K
 *
 * MODE is "wait" (epoll_wait with timeout 0 and maxevents N, the call a
 * selector's select(0) makes), "regunreg" (EPOLL_CTL_ADD then _DEL of one
 * more fd) or "modify" (EPOLL_CTL_MOD to IN|OUT then back to IN).
 * N fds are registered for EPOLLIN, K of them readable; the fds are both ends
 * of N/2 socketpairs, as in the Python cases.
 *
 * Prints "ready" once set up, then reads an iteration count per line from
 * stdin and answers each with one line: nanoseconds per operation, timed
 * in-process as CPU time (CLOCK_PROCESS_CPUTIME_ID, as the Python side
 * measures). Exits at end of input.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void raise_fd_limit(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

static void add(int ep, int fd, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl ADD");
}

/* N fds registered, K readable; returns the fds (both ends of each pair). */
static int *setup(int ep, int n, int k)
{
    int *fds = calloc((size_t)n + 1, sizeof(int));
    if (fds == NULL)
        die("calloc");
    for (int i = 0; i < n; i += 2) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
            die("socketpair");
        fds[i] = pair[0];
        if (i + 1 < n)
            fds[i + 1] = pair[1];
        else
            fds[n] = pair[1]; /* odd N: the spare end is not registered */
    }
    for (int i = 0; i < n; i++)
        add(ep, fds[i], EPOLLIN);
    /* Writing on one end makes its peer readable: fd i's peer is i ^ 1. */
    for (int i = 0; i < k; i++) {
        int peer = (i ^ 1) < n ? fds[i ^ 1] : fds[n];
        if (write(peer, "x", 1) != 1)
            die("write");
    }
    return fds;
}

static double run(const char *mode, int ep, int n, int spare, long iters,
                  struct epoll_event *events)
{
    long long began = now_ns();
    if (strcmp(mode, "wait") == 0) {
        for (long i = 0; i < iters; i++)
            if (epoll_wait(ep, events, n > 0 ? n : 1, 0) < 0)
                die("epoll_wait");
    } else if (strcmp(mode, "regunreg") == 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = spare};
        for (long i = 0; i < iters; i++) {
            if (epoll_ctl(ep, EPOLL_CTL_ADD, spare, &ev) < 0)
                die("epoll_ctl ADD");
            if (epoll_ctl(ep, EPOLL_CTL_DEL, spare, NULL) < 0)
                die("epoll_ctl DEL");
        }
    } else {
        struct epoll_event both = {.events = EPOLLIN | EPOLLOUT, .data.fd = spare};
        struct epoll_event in = {.events = EPOLLIN, .data.fd = spare};
        for (long i = 0; i < iters; i++) {
            if (epoll_ctl(ep, EPOLL_CTL_MOD, spare, &both) < 0)
                die("epoll_ctl MOD");
            if (epoll_ctl(ep, EPOLL_CTL_MOD, spare, &in) < 0)
                die("epoll_ctl MOD");
        }
    }
    return (double)(now_ns() - began) / (double)iters;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s wait|regunreg|modify N K\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int n = atoi(argv[2]), k = atoi(argv[3]);
    if (n < 0 || k < 0 || k > n) {
        fprintf(stderr, "need 0 <= K <= N\n");
        return 2;
    }
    raise_fd_limit();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    int *fds = setup(ep, n, k);
    int spare[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, spare) < 0)
        die("socketpair");
    if (strcmp(mode, "modify") == 0)
        add(ep, spare[0], EPOLLIN);
    struct epoll_event *events = calloc((size_t)(n > 0 ? n : 1), sizeof *events);
    if (events == NULL)
        die("calloc");

    printf("ready\n");
    fflush(stdout);
    long iters;
    while (scanf("%ld", &iters) == 1 && iters > 0) {
        printf("%.3f\n", run(mode, ep, n, spare[0], iters, events));
        fflush(stdout);
    }
    free(events);
    free(fds);
    return 0;
}
