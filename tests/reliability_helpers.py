"""Helpers shared by the reliability tests (leaks, threads, fork, signals,
scale, hostile input)."""
import os
import platform
import socket
import threading
import time

import pytest

from conftest import selector_names

READ, WRITE = 1, 2
# The classes whose code fastsel owns or wraps; SelectSelector is the stdlib's
# own in both implementations but is kept, as users reach it through fastsel.
SELECTOR_NAMES = ("EpollSelector", "PollSelector", "SelectSelector")


def selector_class(impl, name):
    if name not in selector_names(impl):
        pytest.skip(f"no {name} here")
    return getattr(impl, name)


def open_fds():
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


class SocketPairs:
    """Socket pairs made for one test, all closed at the end."""

    def __init__(self):
        self.made = []

    def __call__(self):
        a, b = socket.socketpair()
        self.made.extend((a, b))
        return a, b

    def ready(self):
        """A socket with one byte waiting to be read."""
        a, b = self()
        b.send(b"x")
        return a

    def close(self):
        for sock in self.made:
            sock.close()
        self.made.clear()


# Syscalls a thread blocks in while it waits for I/O: poll, select,
# epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2.
_WAIT_SYSCALLS = {
    "x86_64": {"7", "23", "232", "270", "271", "281", "441"},
    "aarch64": {"72", "73", "22", "441"},
}.get(platform.machine(), set())


def wait_until_blocked(thread_id, timeout=5.0):
    """Return once the thread is asleep in a kernel wait (Linux /proc)."""
    if not _WAIT_SYSCALLS:
        pytest.skip(f"wait syscall numbers unknown on {platform.machine()}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/self/task/{thread_id}/syscall") as f:
                if f.read().split()[0] in _WAIT_SYSCALLS:
                    return
        except (FileNotFoundError, IndexError):
            pass
        time.sleep(0.001)
    raise AssertionError("the waiting thread never blocked in the kernel")


JOIN_TIMEOUT = 10


class LoopThread:
    """A loop (asyncio's API) running forever in a thread of its own."""

    def __init__(self, loop):
        self.loop = loop
        self.thread = threading.Thread(target=loop.run_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(JOIN_TIMEOUT)
        assert not self.thread.is_alive(), "the loop never stopped"


def tiny_batches_from_threads(loop, senders=4, batches=300):
    """Several threads, each sending tiny batches (one or two callbacks)
    with call_soon_threadsafe and waiting for them to run: each batch finds
    the loop idle or about to be, where a skipped wake-up would leave it
    asleep. Returns the stalls seen (a stall is a timeout)."""
    runner = LoopThread(loop)
    stalls = []

    def send(index):
        done = threading.Event()
        for batch in range(batches):
            done.clear()
            if batch % 2:
                loop.call_soon_threadsafe(int)
            loop.call_soon_threadsafe(done.set)
            if not done.wait(JOIN_TIMEOUT):
                stalls.append(f"sender {index} stalled at batch {batch}")
                return

    threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT * 2)
    runner.stop()
    return stalls + [f"{t.name} never finished" for t in threads if t.is_alive()]
