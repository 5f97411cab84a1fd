"""Memory, as tracemalloc sees it: with 10,000 fds registered, fastsel uses
no more per fd than the stdlib selector of the same kind (once they have been
ready, plus the bounded pairs select() keeps), and gives all of it back once
everything is unregistered and the selector closed.

Both sides register the same int fds with the same data, so the keys cost the
same; what differs is each selector's own structures. `pytest -s` prints the
per-fd figures.
"""
import gc
import resource
import selectors
import socket
import sys
import tracemalloc

import pytest

PAIRS = 5000                 # both ends registered: 10,000 fds
SPARE_FDS = 200              # for the interpreter, pytest and the selectors
RETAINED_TOLERANCE = 4096    # bytes left behind after close(), at most


@pytest.fixture(scope="module")
def fds():
    """10,000 open socket fds (as ints, made before anything is traced)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * PAIRS + SPARE_FDS
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {needed} fds needed")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pairs = []
    try:
        for _ in range(PAIRS):
            pairs.append(socket.socketpair())
        yield [sock.fileno() for pair in pairs for sock in pair]
    finally:
        for pair in pairs:
            for sock in pair:
                sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def traced():
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure(selector_class, fds, events=selectors.EVENT_READ):
    """(bytes per registered fd, bytes left after unregister and close).

    With EVENT_READ nothing is ready; with EVENT_WRITE every fd is, and the
    one select() reports all of them."""
    tracemalloc.start()
    try:
        base = traced()
        sel = selector_class()
        for fd in fds:
            sel.register(fd, events)
        # One wait, so that a buffer kept for the next one is counted too.
        assert len(sel.select(0)) == (len(fds) if events == selectors.EVENT_WRITE else 0)
        per_fd = (traced() - base) / len(fds)
        for fd in fds:
            sel.unregister(fd)
        sel.close()
        del sel
        retained = traced() - base
    finally:
        tracemalloc.stop()
    return per_fd, retained


@pytest.mark.parametrize("name", ["EpollSelector", "PollSelector"])
def test_memory_per_fd(impl, fds, name):
    if not hasattr(selectors, name):
        pytest.skip(f"{name} is not available on this platform")
    fast_per_fd, fast_retained = measure(getattr(impl, name), fds)
    std_per_fd, std_retained = measure(getattr(selectors, name), fds)
    print(f"\n{impl.IMPLEMENTATION} {name}: {fast_per_fd:.1f} B/fd "
          f"(stdlib {std_per_fd:.1f} B/fd, ratio {fast_per_fd / std_per_fd:.2f}); "
          f"left after close: {fast_retained} B (stdlib {std_retained} B)")
    # 1 %: two runs of the very same class (the pure twin) differ by a few bytes.
    assert fast_per_fd <= std_per_fd * 1.01
    assert fast_retained <= RETAINED_TOLERANCE


# The compiled selectors keep the (key, events) pairs select() hands out, in
# at most this many slots, each holding one pair.
PAIR_SLOTS = 1024


@pytest.mark.parametrize("name", ["EpollSelector", "PollSelector"])
def test_memory_per_fd_once_every_fd_was_ready(impl, fds, name):
    """Past the stdlib's memory only by the bounded pairs select() keeps."""
    if not hasattr(selectors, name):
        pytest.skip(f"{name} is not available on this platform")
    fast_per_fd, fast_retained = measure(getattr(impl, name), fds, selectors.EVENT_WRITE)
    std_per_fd, _ = measure(getattr(selectors, name), fds, selectors.EVENT_WRITE)
    kept_pairs = PAIR_SLOTS * (8 + sys.getsizeof((None, None))) / len(fds)
    print(f"\n{impl.IMPLEMENTATION} {name}, every fd ready once: {fast_per_fd:.1f} B/fd "
          f"(stdlib {std_per_fd:.1f} B/fd; kept pairs at most {kept_pairs:.1f} B/fd)")
    assert fast_per_fd <= std_per_fd * 1.01 + kept_pairs
    assert fast_retained <= RETAINED_TOLERANCE
