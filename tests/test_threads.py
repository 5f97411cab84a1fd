"""One thread blocked in select / dispatch / run_forever while others change
the selector: no crash, no deadlock, a consistent map, and a defined view of
the changes made during the wait (see each test's docstring)."""
import fcntl
import os
import random
import threading
import time

import pytest

from reliability_helpers import (
    JOIN_TIMEOUT, READ, WRITE, SELECTOR_NAMES, SocketPairs, selector_class,
    tiny_batches_from_threads, wait_until_blocked)


class Waiter(threading.Thread):
    """Runs call() in a thread; result, error and native id are kept."""

    def __init__(self, call):
        super().__init__(daemon=True)
        self.call, self.result, self.error = call, None, None
        self.started_waiting = threading.Event()

    def run(self):
        self.started_waiting.set()
        try:
            self.result = self.call()
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def begin(self):
        self.start()
        self.started_waiting.wait()
        wait_until_blocked(self.native_id)
        return self

    def finish(self):
        self.join(JOIN_TIMEOUT)
        assert not self.is_alive(), "deadlock: the waiting thread never returned"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture(params=SELECTOR_NAMES)
def selector(request, impl):
    sel = selector_class(impl, request.param)()
    yield sel
    sel.close()


@pytest.fixture
def pairs():
    made = SocketPairs()
    yield made
    made.close()


def assert_consistent(sel):
    """The map agrees with itself and with get_key()."""
    mapping = sel.get_map()
    keys = list(mapping.values())
    assert len(keys) == len(mapping) == len(list(mapping))
    for key in keys:
        assert mapping[key.fd] is key
        assert sel.get_key(key.fileobj) is key


def test_fd_registered_during_a_wait(selector, pairs):
    """epoll applies a registration to the kernel at once, so a wait already
    blocked reports the new fd; poll and select wait on the set of fds taken
    when the wait started, so the new fd is reported from the next wait."""
    idle, _ = pairs()
    selector.register(idle, READ)
    epoll = type(selector).__name__ == "EpollSelector"
    waiter = Waiter(lambda: selector.select(30 if epoll else 0.3)).begin()
    ready = pairs.ready()
    key = selector.register(ready, READ)
    result = waiter.finish()
    assert result == ([(key, READ)] if epoll else [])
    assert selector.select(0) == [(key, READ)]


def test_fd_modified_during_a_wait(selector, pairs, impl):
    """As for registration: epoll waits for the new events at once; poll and
    select keep waiting for the old ones until the wait ends. The compiled
    modify() changes the kernel and the map under the GIL, so the wait sees
    the new key; the stdlib's (the pure twin's) can let the wait run in
    between, which then reports the old key with events 0."""
    idle, _ = pairs()
    old = selector.register(idle, READ, "old")
    epoll = type(selector).__name__ == "EpollSelector"
    waiter = Waiter(lambda: selector.select(30 if epoll else 0.3)).begin()
    key = selector.modify(idle, WRITE, "new")      # a socket is writable at once
    result = waiter.finish()
    if not epoll:
        assert result == []
    elif impl.IMPLEMENTATION == "c":
        assert result == [(key, WRITE)]
    else:
        assert result in ([(key, WRITE)], [(old, 0)])
    assert selector.select(0) == [(key, WRITE)]


def test_fd_unregistered_during_a_wait(selector, pairs):
    """A wait never reports an fd unregistered while it blocked, even if it
    became ready (epoll forgets it at once; poll and select may wake for it,
    and skip it since it is no longer in the map)."""
    a, b = pairs()
    selector.register(a, READ)
    waiter = Waiter(lambda: selector.select(0.3)).begin()
    selector.unregister(a)
    b.send(b"x")
    assert waiter.finish() == []
    assert_consistent(selector)


def test_close_during_a_wait(selector, pairs):
    """Closing a selector while another thread waits in it: the wait returns
    at the latest at its timeout, without an error, and reports nothing."""
    a, b = pairs()
    selector.register(a, READ)
    waiter = Waiter(lambda: selector.select(0.3)).begin()
    selector.close()
    b.send(b"x")
    assert waiter.finish() == []
    assert selector.get_map() is None


def test_dispatch_blocked_while_others_change_the_map(selector, pairs):
    """dispatch() blocked in one thread; an fd registered meanwhile by another
    thread is delivered by the wait that sees it (not skipped as 'fresh')."""
    calls = []
    late = pairs.ready()
    epoll = type(selector).__name__ == "EpollSelector"
    waiter = Waiter(lambda: selector.dispatch(30 if epoll else 0.3)).begin()
    selector.register(late, READ, lambda f, ev: calls.append((f, ev)))
    called = waiter.finish()
    if not epoll:
        assert called == 0
        called = selector.dispatch(0)
    assert called == 1 and calls == [(late, READ)]


def test_concurrent_waits(selector, pairs, impl):
    """Two threads waiting in one selector both see a ready fd. The stdlib's
    PollSelector (the pure twin's) refuses a second concurrent wait with
    RuntimeError; the compiled one gives each wait its own buffer."""
    a, b = pairs()
    key = selector.register(a, READ)
    stdlib_poll = impl.IMPLEMENTATION == "python" and type(selector).__name__ == "PollSelector"
    first = Waiter(lambda: selector.select(5)).begin()
    if stdlib_poll:
        with pytest.raises(RuntimeError, match="concurrent poll"):
            selector.select(5)
        b.send(b"x")
        assert first.finish() == [(key, READ)]
        return
    second = Waiter(lambda: selector.select(5)).begin()
    b.send(b"x")
    assert first.finish() == second.finish() == [(key, READ)]


def test_stress_changes_from_threads_while_waiting(selector, pairs):
    """Several threads register, modify and unregister their own fds while
    one thread loops in select() and dispatch(): no crash, no deadlock, and
    the map matches what each thread last did."""
    workers, per_worker, seconds = 3, 20, 0.6
    fds = [[pairs.ready() for _ in range(per_worker)] for _ in range(workers)]
    stop = threading.Event()
    expected = [dict() for _ in range(workers)]

    def waiter():
        while not stop.is_set():
            selector.select(0.005)
            selector.dispatch(0.005)

    def worker(index):
        rng = random.Random(index)
        mine = expected[index]
        while not stop.is_set():
            sock = rng.choice(fds[index])
            if sock in mine and rng.random() < 0.5:
                selector.unregister(sock)
                del mine[sock]
            elif sock in mine:
                events = rng.choice((READ, WRITE, READ | WRITE))
                selector.modify(sock, events, lambda f, ev: None)
                mine[sock] = events
            else:
                selector.register(sock, READ, lambda f, ev: None)
                mine[sock] = READ

    threads = [threading.Thread(target=waiter, daemon=True)]
    threads += [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    errors = []
    for t in threads:
        t.run = (lambda run: lambda: _record(run, errors))(t.run)
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive(), "deadlock"
    assert errors == []
    assert_consistent(selector)
    wanted = {sock.fileno(): events for mine in expected for sock, events in mine.items()}
    assert {key.fd: key.events for key in selector.get_map().values()} == wanted
    # Every registered fd is readable and writable: the kernel agrees with the map.
    reported = {key.fd: events for key, events in selector.select(0)}
    assert reported == wanted


def _record(run, errors):
    try:
        run()
    except BaseException as exc:
        errors.append(exc)


def test_call_soon_threadsafe_never_loses_a_wakeup(impl):
    """A loop blocked in the kernel with nothing to do wakes for every
    call_soon_threadsafe() from another thread."""
    loop = impl.Loop()
    woken = threading.Event()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        for _ in range(30):
            woken.clear()
            wait_until_blocked(runner.native_id)
            loop.call_soon_threadsafe(woken.set)
            assert woken.wait(JOIN_TIMEOUT), "lost wake-up"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(JOIN_TIMEOUT)
        assert not runner.is_alive(), "run_forever did not stop"
        loop.close()


def test_call_soon_threadsafe_tiny_batches_never_stall(impl):
    """Wake-ups are coalesced, yet none is lost: threads sending tiny
    batches to a loop that keeps going idle."""
    loop = impl.Loop()
    try:
        assert tiny_batches_from_threads(loop) == []
    finally:
        loop.close()


def _new_pipe_read_end(fds_before):
    """The read end of the one pipe opened since fds_before (Linux /proc)."""
    for fd in set(map(int, os.listdir("/proc/self/fd"))) - fds_before:
        try:  # the listing's own fd is gone by now
            kind = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:
            continue
        if kind.startswith("pipe:") and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            return fd
    raise AssertionError("no new pipe")


def _pipe_bytes(fd):
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the self-pipe in /proc")
def test_call_soon_threadsafe_writes_once_per_wait(impl):
    """Calls made while a wake-up is pending write nothing more; once the
    loop has found nothing ready, the next call writes again."""
    before = set(map(int, os.listdir("/proc/self/fd")))
    loop = impl.Loop()
    try:
        wakeups = _new_pipe_read_end(before)
        for _ in range(50):
            loop.call_soon_threadsafe(int)
        assert _pipe_bytes(wakeups) == b"\0"
        loop.stop()
        loop.run_forever()  # runs them: it never found nothing ready
        loop.call_soon_threadsafe(int)
        assert _pipe_bytes(wakeups) == b""
        loop.stop()
        loop.run_forever()
        loop.stop()
        loop.run_forever()  # nothing ready
        for _ in range(50):
            loop.call_soon_threadsafe(int)
        assert _pipe_bytes(wakeups) == b"\0"
    finally:
        loop.close()


def test_call_soon_threadsafe_from_many_threads(impl):
    """Callbacks scheduled from several threads at once all run, once."""
    loop = impl.Loop()
    counts = []
    senders, each = 4, 500
    done = threading.Event()

    def record(i):
        counts.append(i)
        if len(counts) == senders * each:
            done.set()

    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    def send(base):
        for i in range(each):
            loop.call_soon_threadsafe(record, base + i)

    threads = [threading.Thread(target=send, args=(k * each,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    try:
        assert done.wait(JOIN_TIMEOUT), f"only {len(counts)} callbacks ran"
        assert sorted(counts) == list(range(senders * each))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(JOIN_TIMEOUT)
        loop.close()


def test_loop_refuses_close_from_another_thread_while_running(impl):
    loop = impl.Loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        wait_until_blocked(runner.native_id)
        with pytest.raises(RuntimeError, match="running"):
            loop.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(JOIN_TIMEOUT)
        loop.close()
