"""Scale and exhaustion: thousands of ready fds in one wait, running out of
file descriptors, fds closed while registered, fds beyond select()'s
FD_SETSIZE."""
import errno
import gc
import os
import resource
import selectors
import socket

import pytest

from reliability_helpers import READ, WRITE, open_fds, selector_class

FD_SETSIZE = 1024


@pytest.fixture(scope="module")
def fd_limit():
    """The soft RLIMIT_NOFILE raised to the hard limit for this module."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 20_000
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, 20_000), hard))
    yield min(wanted, 20_000)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def many_ready(fd_limit):
    """As many socket pairs as the fd limit allows (keeping 200 fds spare),
    each with a byte waiting in its first socket."""
    count = (fd_limit - open_fds() - 200) // 2
    pairs = [socket.socketpair() for _ in range(count)]
    for _, peer in pairs:
        peer.send(b"x")
    yield [a for a, _ in pairs]
    for a, b in pairs:
        a.close()
        b.close()


@pytest.mark.parametrize("name", ["EpollSelector", "PollSelector"])
def test_every_fd_up_to_the_limit_reported_by_one_wait(impl, name, many_ready):
    assert len(many_ready) > 1000
    with selector_class(impl, name)() as sel:
        calls = []
        for sock in many_ready:
            sel.register(sock, READ | WRITE, lambda f, ev: calls.append(ev))
        ready = sel.select(0)
        assert len(ready) == len(many_ready)
        assert {events for _, events in ready} == {READ | WRITE}
        assert {key.fileobj for key, _ in ready} == set(many_ready)
        assert sel.dispatch(0) == len(many_ready) == len(calls)
        for sock in many_ready[::2]:
            sel.unregister(sock)
        assert len(sel.select(0)) == len(many_ready) - len(many_ready[::2])


class LowestFreeFd:
    """Lower the soft fd limit so that only `spare` more fds can be opened."""

    def __init__(self, spare):
        self.spare = spare

    def __enter__(self):
        self.saved = resource.getrlimit(resource.RLIMIT_NOFILE)
        probe = os.dup(0)
        os.close(probe)
        # A new fd takes the lowest free number; fds above it may be open,
        # so this bounds what can be opened to at most `spare`.
        resource.setrlimit(resource.RLIMIT_NOFILE, (probe + self.spare, self.saved[1]))
        return self

    def __exit__(self, *exc_info):
        resource.setrlimit(resource.RLIMIT_NOFILE, self.saved)


def test_emfile_creating_a_selector(impl):
    before = open_fds()
    with LowestFreeFd(0):
        with pytest.raises(OSError) as error:
            impl.EpollSelector()
        # PollSelector and SelectSelector need no fd of their own.
        impl.PollSelector().close()
        impl.SelectSelector().close()
    assert error.value.errno == errno.EMFILE
    del error
    gc.collect()
    assert open_fds() == before


@pytest.mark.parametrize("spare", [0, 1, 2])
def test_emfile_creating_a_loop_leaks_nothing(impl, spare):
    # 0: the selector fails; 1: the self-pipe fails; 2: its second end fails.
    before = open_fds()
    with LowestFreeFd(spare):
        with pytest.raises(OSError):
            impl.Loop()
    gc.collect()
    assert open_fds() == before


@pytest.mark.parametrize("name", ["EpollSelector", "PollSelector", "SelectSelector"])
def test_fd_closed_while_registered(impl, name):
    """As the stdlib: epoll forgets a closed fd, poll reports it (POLLNVAL)
    as ready both ways, select raises EBADF; the closed socket can still be
    unregistered (found by identity), and its number registered anew."""
    cls = selector_class(impl, name)
    with cls() as sel, getattr(selectors, name)() as oracle:
        results = []
        for s in (sel, oracle):
            a, b = socket.socketpair()
            fd = a.fileno()
            key = s.register(a, READ | WRITE)
            a.close()
            try:
                results.append(sorted(ev for k, ev in s.select(0) if k is key))
            except OSError as exc:
                results.append(type(exc))
            assert s.unregister(a) is key
            assert len(s.get_map()) == 0
            c, d = socket.socketpair()
            assert c.fileno() == fd            # the number is reused
            assert s.register(c, READ).fd == fd
            s.unregister(c)
            for sock in (b, c, d):
                sock.close()
        assert results[0] == results[1]


def test_select_selector_fd_setsize(impl, fd_limit):
    """SelectSelector is the stdlib's in both implementations: an fd at or
    above FD_SETSIZE registers, and select() raises ValueError."""
    a, b = socket.socketpair()
    in_use = {int(fd) for fd in os.listdir("/proc/self/fd")}
    high = next(fd for fd in range(FD_SETSIZE, fd_limit) if fd not in in_use)
    os.dup2(a.fileno(), high)
    try:
        with impl.SelectSelector() as sel:
            sel.register(high, READ)
            with pytest.raises(ValueError, match="out of range"):
                sel.select(0)
            sel.unregister(high)
        # The poll-like selectors take it.
        for name in ("EpollSelector", "PollSelector"):
            with getattr(impl, name)() as sel:
                key = sel.register(high, READ)
                b.send(b"x")
                assert sel.select(0) == [(key, READ)]
                a.recv(1)
    finally:
        os.close(high)
        a.close()
        b.close()
