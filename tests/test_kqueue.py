"""KqueueSelector: the stdlib's kqueue semantics, compared with the stdlib's
own class where the platform has kqueue (macOS, BSD); elsewhere only that the
compiled class stays out of the way."""
import errno
import os
import select
import selectors
import socket

import pytest

from fastsel import _impl

HAS_KQUEUE = hasattr(select, "kqueue")
needs_kqueue = pytest.mark.skipif(not HAS_KQUEUE, reason="kqueue is macOS/BSD only")
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@pytest.fixture
def kqueue_class(impl):
    if not hasattr(impl, "KqueueSelector"):
        pytest.skip("this implementation has no KqueueSelector here")
    return impl.KqueueSelector


@pytest.fixture
def pairs(request):
    made = []

    def make(n=1):
        for _ in range(n):
            made.append(socket.socketpair())
        return made[-n:]

    yield make
    for a, b in made:
        a.close()
        b.close()


def test_compiled_kqueue_only_where_the_kernel_has_it(impl):
    if impl.IMPLEMENTATION != "c":
        pytest.skip("about the compiled module")
    from fastsel import _selectors_c as compiled

    assert compiled.HAVE_KQUEUE == HAS_KQUEUE
    assert ("KqueueSelector" in vars(_impl.load("c"))) == HAS_KQUEUE
    if not HAS_KQUEUE:
        with pytest.raises(OSError) as info:
            compiled.KqueueSelector()
        assert info.value.errno == errno.ENOSYS


@needs_kqueue
def test_default_selector_is_kqueue(impl):
    assert impl.DefaultSelector is impl.KqueueSelector


@needs_kqueue
def test_ready_both_ways_is_two_entries(kqueue_class, pairs):
    (rd, wr), = pairs()
    wr.send(b"x")
    with kqueue_class() as sel:
        key = sel.register(rd, READ | WRITE)
        ready = sel.select(0)
    assert sorted(events for _, events in ready) == [READ, WRITE]
    assert all(k is key for k, _ in ready)


@needs_kqueue
def test_max_events_counts_filters(kqueue_class, pairs):
    # Every fd ready both ways: a wait sized by fds would return half of them.
    socks = pairs(20)
    with kqueue_class() as sel:
        for rd, wr in socks:
            wr.send(b"x")
            sel.register(rd, READ | WRITE)
        assert len(sel.select(0)) == 40
        for rd, _ in socks[:10]:
            sel.unregister(rd)
        assert len(sel.select(0)) == 20


def _modify_story(cls, rd, rd_again):
    """What modify() does in the stdlib's kqueue semantics, as comparable data."""
    story = []
    with cls() as sel:
        sel.register(rd, READ, "a")
        key = sel.modify(rd_again, WRITE, "b")        # events changed: a new key
        story.append((key.fileobj is rd_again, key.events, key.data))
        same = sel.modify(rd, WRITE, "b")
        story.append(same is key)
        key = sel.modify(rd, WRITE, "c")               # only data: key replaced
        story.append((key.fileobj is rd_again, key.events, key.data))
        try:
            sel.modify(rd, 0)                          # validated, after unregister
        except ValueError:
            story.append(("ValueError", len(sel.get_map())))
    return story


@needs_kqueue
def test_modify_is_unregister_then_register(kqueue_class, pairs):
    (rd, _), = pairs()

    class SameFd:
        def fileno(self):
            return rd.fileno()

    other = SameFd()
    assert _modify_story(kqueue_class, rd, other) == _modify_story(selectors.KqueueSelector, rd, other)


@needs_kqueue
def test_failed_register_leaves_nothing(kqueue_class, pairs):
    # A kqueue fd accepts a READ filter but not, on macOS and FreeBSD, a WRITE
    # one: READ is added, then WRITE fails. Whatever this kernel does, the map
    # must match the stdlib's and a failure must leave fd free to register.
    inner = select.kqueue()
    try:
        with selectors.KqueueSelector() as reference:
            try:
                reference.register(inner.fileno(), READ | WRITE)
                expected = None
            except OSError as exc:
                expected = exc.errno
        with kqueue_class() as sel:
            try:
                sel.register(inner.fileno(), READ | WRITE)
                got = None
            except OSError as exc:
                got = exc.errno
            assert got == expected
            if got is not None:
                assert len(sel.get_map()) == 0
                sel.register(inner.fileno(), READ)
                assert sel.select(0) == []
    finally:
        inner.close()


@needs_kqueue
def test_unregister_ignores_missing_filters(kqueue_class, pairs):
    (rd, wr), = pairs()
    with kqueue_class() as sel:
        fd = os.dup(rd.fileno())
        sel.register(fd, READ | WRITE)
        os.close(fd)                       # the kernel drops the filters
        assert sel.unregister(fd).fd == fd
        assert len(sel.get_map()) == 0


@needs_kqueue
def test_negative_timeout_polls(kqueue_class, pairs):
    (rd, _), = pairs()
    with kqueue_class() as sel:
        sel.register(rd, READ)
        assert sel.select(-1) == []
        assert sel.select(-1e300) == []


@needs_kqueue
def test_fileno_and_close(kqueue_class):
    sel = kqueue_class()
    assert sel.fileno() >= 0
    sel.close()
    sel.close()
    with pytest.raises(ValueError):
        sel.fileno()
    with pytest.raises(ValueError):
        sel.select(0)


@needs_kqueue
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_kqueue_counts_as_closed_after_fork(impl, pairs):
    from fastsel import _selectors_c as compiled

    if impl.IMPLEMENTATION != "c":
        pytest.skip("the stdlib's behaviour here depends on the CPython version")
    (rd, _), = pairs()
    sel = compiled.KqueueSelector()
    sel.register(rd, READ)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            try:
                sel.fileno()
            except ValueError:
                sel.unregister(rd)     # no kernel call in the child
                sel.close()            # and no close() of a reused fd number
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    # The parent's kqueue still works.
    assert sel.select(0) == []
    sel.close()
