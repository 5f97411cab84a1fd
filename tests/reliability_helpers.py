"""Helpers shared by the reliability tests (leaks, threads, fork, signals,
scale, hostile input)."""
import os
import platform
import socket
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
