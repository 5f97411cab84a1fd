"""Selector.dispatch(): callbacks called from the selector, on every class of
both implementations."""
import os
import socket

import pytest

from conftest import selector_names

READ, WRITE = 1, 2


@pytest.fixture(params=["EpollSelector", "PollSelector", "SelectSelector"])
def selector(request, impl):
    if request.param not in selector_names(impl):
        pytest.skip(f"no {request.param} here")
    sel = getattr(impl, request.param)()
    yield sel
    sel.close()


@pytest.fixture
def pairs():
    made = []

    def make():
        a, b = socket.socketpair()
        made.extend((a, b))
        return a, b

    yield make
    for s in made:
        s.close()


def ready_reader(make):
    """A socket with one byte waiting to be read."""
    a, b = make()
    b.send(b"x")
    return a


def test_calls_each_ready_key_with_fileobj_and_events(selector, pairs):
    a, b = ready_reader(pairs), ready_reader(pairs)
    idle, _ = pairs()
    calls = []
    for sock in (a, b, idle):
        selector.register(sock, READ, lambda f, ev: calls.append((f, ev)))
    assert selector.dispatch(0) == 2
    assert sorted(calls, key=lambda c: c[0].fileno()) == [(a, READ), (b, READ)]


def test_returns_zero_on_timeout(selector, pairs):
    idle, _ = pairs()
    selector.register(idle, READ, lambda f, ev: pytest.fail("not ready"))
    assert selector.dispatch(0.01) == 0
    assert selector.dispatch(0) == 0


def test_write_readiness_and_masking(selector, pairs):
    a, _ = pairs()
    calls = []
    selector.register(a, READ | WRITE, lambda f, ev: calls.append(ev))
    assert selector.dispatch(0) == 1
    assert calls == [WRITE]


def test_key_unregistered_by_earlier_callback_is_not_called(selector, pairs):
    socks = [ready_reader(pairs) for _ in range(2)]
    calls = []

    def callback(sock, events):
        calls.append(sock)
        for other in socks:
            if other is not sock:
                selector.unregister(other)

    for sock in socks:
        selector.register(sock, READ, callback)
    assert selector.dispatch(0) == 1
    assert len(calls) == 1


def test_key_modified_by_earlier_callback_gets_current_data_and_events(selector, pairs):
    socks = [ready_reader(pairs) for _ in range(3)]
    calls = []
    first = []

    def new_data(sock, events):
        calls.append(("new", events))

    def callback(sock, events):
        if first:
            calls.append(("old", events))
            return
        first.append(sock)
        others = [s for s in socks if s is not sock]
        # One keeps READ with new data; the other waits only for WRITE now,
        # which this batch did not report: it must not be called.
        selector.modify(others[0], READ, new_data)
        selector.modify(others[1], WRITE, callback)

    for sock in socks:
        selector.register(sock, READ, callback)
    assert selector.dispatch(0) == 2
    assert calls == [("new", READ)]


def test_fd_closed_and_registered_again_is_not_called_with_old_events(selector, pairs):
    a, b = ready_reader(pairs), ready_reader(pairs)
    calls = []

    def replace_other(sock, events):
        calls.append("first")
        other = b if sock is a else a
        fd = other.fileno()
        selector.unregister(other)
        # A new, idle socket takes over the same fd number.
        fresh, _ = pairs()
        os.dup2(fresh.fileno(), fd)
        selector.register(fd, READ, lambda f, ev: calls.append("stale"))

    selector.register(a, READ, replace_other)
    selector.register(b, READ, replace_other)
    assert selector.dispatch(0) == 1
    assert calls == ["first"]
    # Not stale on the next call either: the new socket has nothing to read.
    assert selector.dispatch(0) in (0, 1)
    assert "stale" not in calls


def test_exception_propagates_and_undelivered_events_are_not_lost(selector, pairs):
    socks = [ready_reader(pairs) for _ in range(3)]
    called = []

    def callback(sock, events):
        called.append(sock)
        if len(called) == 1:
            raise ZeroDivisionError

    for sock in socks:
        selector.register(sock, READ, callback)
    with pytest.raises(ZeroDivisionError):
        selector.dispatch(0)
    assert len(called) == 1
    # Level-triggered: the next call reports every fd still ready.
    assert selector.dispatch(0) == 3
    assert set(called) == set(socks)


def test_select_and_dispatch_inside_a_callback(selector, pairs):
    a, b = ready_reader(pairs), ready_reader(pairs)
    seen = []

    def outer(sock, events):
        seen.append(sock)
        if len(seen) == 1:
            ready = selector.select(0)
            assert {key.fileobj for key, _ in ready} == {a, b}
            assert selector.dispatch(0) == 2

    selector.register(a, READ, outer)
    selector.register(b, READ, outer)
    assert selector.dispatch(0) == 2
    # The first callback, then both from the nested call, then the other
    # one of the outer batch.
    assert len(seen) == 4 and set(seen) == {a, b}


class CallableObject:
    """A callable without the vectorcall protocol (called through tp_call)."""

    def __init__(self, calls):
        self.calls = calls

    def __call__(self, fileobj, events):
        self.calls.append(("object", events))


class Recorder:
    def __init__(self, calls):
        self.calls = calls

    def method(self, fileobj, events):
        self.calls.append(("method", events))


@pytest.mark.parametrize("kind", ["function", "method", "object", "builtin", "slot wrapper",
                                  "partial"])
def test_every_kind_of_callable_is_called_with_fileobj_and_events(selector, pairs, kind):
    import functools
    calls = []
    seen = {}
    sock = ready_reader(pairs)
    callback = {
        "function": lambda f, ev: calls.append(("function", ev)),
        "method": Recorder(calls).method,
        "object": CallableObject(calls),
        "builtin": seen.setdefault,         # a C method (vectorcall)
        "slot wrapper": seen.__setitem__,   # a method-wrapper (tp_call)
        "partial": functools.partial(lambda tag, f, ev: calls.append((tag, ev)), "partial"),
    }[kind]
    selector.register(sock, READ, callback)
    assert selector.dispatch(0) == 1
    if kind in ("builtin", "slot wrapper"):
        assert seen == {sock: READ}
    else:
        assert calls == [(kind, READ)]


def test_a_callback_called_with_the_wrong_arguments_raises_type_error(selector, pairs):
    selector.register(ready_reader(pairs), READ, [].append)     # takes one argument
    with pytest.raises(TypeError):
        selector.dispatch(0)


def test_callback_that_drops_the_last_reference_to_its_key(selector, pairs):
    """The key (and with it the callback and the file object) stays alive
    while the callback runs, even when the callback unregisters it and
    nothing else refers to it."""
    import gc
    import weakref
    calls = []

    class Handler:
        def __call__(self, fileobj, events):
            selector.unregister(fileobj)
            gc.collect()
            calls.append((ref() is not None, events))

    handler = Handler()
    ref = weakref.ref(handler)
    selector.register(ready_reader(pairs), READ, handler)
    del handler
    assert selector.dispatch(0) == 1
    assert calls == [(True, READ)]
    gc.collect()
    assert ref() is None


def test_data_that_is_not_callable_raises_type_error(selector, pairs):
    selector.register(ready_reader(pairs), READ, "not callable")
    with pytest.raises(TypeError):
        selector.dispatch(0)


def test_bad_timeouts_like_select(selector):
    for timeout, error in ((float("nan"), ValueError), ("1", TypeError), (1e300, OverflowError)):
        with pytest.raises(error):
            selector.dispatch(timeout)


def test_dispatch_after_close(selector, pairs):
    selector.close()
    if type(selector).__name__ == "EpollSelector":
        with pytest.raises(ValueError):
            selector.dispatch(0)
    else:
        assert selector.dispatch(0) == 0
