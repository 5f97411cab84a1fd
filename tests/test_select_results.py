"""What select() returns: a new list each call of (key, events) pairs whose
keys are the registered SelectorKey objects as they are now, and nothing
kept alive once a key is modified or unregistered (the compiled selectors
hand the same immutable pair out again while an fd's key is unchanged)."""
import gc
import os
import resource
import selectors
import socket
import weakref

import pytest

from conftest import selector_names

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@pytest.fixture(params=["EpollSelector", "PollSelector", "SelectSelector"])
def sel(impl, request):
    if request.param not in selector_names(impl):
        pytest.skip(f"no {request.param} here")
    with getattr(impl, request.param)() as selector:
        yield selector


@pytest.fixture
def ready_pair():
    """A socket that is readable (a byte waits in it) and writable, and its peer."""
    a, b = socket.socketpair()
    b.send(b"x")
    yield a, b
    a.close()
    b.close()


def is_open(fd):
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class Data:
    """key.data that can be watched for being freed."""


def test_each_call_returns_a_new_list_of_the_registered_keys(sel, ready_pair):
    a, _ = ready_pair
    key = sel.register(a, READ, "data")
    first = sel.select(0)
    assert first == [(key, READ)] and first[0][0] is key is sel.get_key(a)
    first.append("mine")
    second = sel.select(0)
    assert second == [(key, READ)] and second is not first and second[0][0] is key


def test_events_follow_the_key_as_it_is_now(sel, ready_pair):
    a, _ = ready_pair
    both = sel.register(a, READ | WRITE)
    assert sel.select(0) == [(both, READ | WRITE)]
    read_only = sel.modify(a, READ)
    (result,) = sel.select(0)
    assert result == (read_only, READ) and result[0] is read_only
    write_only = sel.modify(a, WRITE)
    (result,) = sel.select(0)
    assert result == (write_only, WRITE) and result[0] is write_only


def test_modified_data_gives_the_new_key(sel, ready_pair):
    a, _ = ready_pair
    sel.register(a, READ, "old")
    sel.select(0)
    new = sel.modify(a, READ, "new")
    (result,) = sel.select(0)
    assert result[0] is new and result[0].data == "new"


def test_an_fd_registered_again_gives_its_new_key(sel, ready_pair):
    a, _ = ready_pair
    sel.register(a, READ, "first")
    sel.select(0)
    sel.unregister(a)
    assert sel.select(0) == []
    again = sel.register(a.fileno(), READ, "second")
    (result,) = sel.select(0)
    assert result[0] is again and result[0].fileobj == a.fileno()


@pytest.mark.parametrize("change", ["unregister", "modify", "close"])
def test_a_changed_key_is_not_kept_alive(sel, ready_pair, change):
    a, _ = ready_pair
    data = Data()
    watched = weakref.ref(data)
    sel.register(a, READ, data)
    assert len(sel.select(0)) == 1
    del data
    if change == "unregister":
        sel.unregister(a)
    elif change == "modify":
        sel.modify(a, READ, "other")
    else:
        sel.close()
    gc.collect()
    assert watched() is None


def test_a_cycle_through_the_results_is_collected(impl, ready_pair):
    a, _ = ready_pair
    holder = Data()
    holder.selector = impl.DefaultSelector()
    holder.selector.register(a, READ, holder)
    assert holder.selector.select(0)[0][0].data is holder
    watched = weakref.ref(holder)
    del holder
    gc.collect()
    assert watched() is None


def test_fds_sharing_a_slot_each_get_their_own_key(sel, ready_pair):
    """The compiled selectors keep at most 1024 pairs, by fd modulo the
    slots: two fds 1024 apart share one. Each must still get its own key."""
    if isinstance(sel, selectors.SelectSelector):
        pytest.skip("select() cannot watch fds at or above FD_SETSIZE")
    a, _ = ready_pair
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = os.dup(a.fileno())
    high = low + 1024
    if (hard != resource.RLIM_INFINITY and high >= hard) or is_open(high):
        os.close(low)
        pytest.skip(f"fd {high} is in use or beyond RLIMIT_NOFILE")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, high + 1), hard))
    try:
        os.dup2(low, high)
        keys = {fd: sel.register(fd, READ, fd) for fd in (low, high)}
        for _ in range(3):
            results = sel.select(0)
            assert sorted(results) == sorted((keys[fd], READ) for fd in keys)
            for key, _ in results:
                assert key is keys[key.fd]
        sel.unregister(high)
        assert sel.select(0) == [(keys[low], READ)]
    finally:
        sel.close()
        os.close(low)
        os.close(high)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
