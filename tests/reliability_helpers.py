"""Helpers shared by the reliability tests (leaks, threads, fork, signals,
scale, hostile input)."""
import os
import socket

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
