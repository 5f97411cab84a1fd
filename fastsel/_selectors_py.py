"""The pure-Python twin of the compiled selectors.

Each class is the stdlib's own, subclassed so that fastsel's additions live in
one place for both implementations. Used on interpreters other than CPython,
where the extension cannot be built, or when FASTSEL_NO_EXTENSIONS=1.
"""
import os
import selectors as _stdlib

EVENT_READ = _stdlib.EVENT_READ
EVENT_WRITE = _stdlib.EVENT_WRITE
SelectorKey = _stdlib.SelectorKey

__all__ = ["SelectSelector"]

FORKED_EPOLL_MESSAGE = (
    "this EpollSelector was created before fork(): its epoll object is shared "
    "with the parent process, whose registrations a change here would alter; "
    "close it and create a new selector in the child")

# Bumped in the child after os.fork(), as in the compiled core.
_fork_generation = 0


def _after_fork_in_child():
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Dispatching:
    """fastsel's additions to the stdlib classes, in pure Python.

    The bookkeeping mirrors the compiled core's: see its dispatch()."""

    _dispatch_depth = 0
    _fresh_fds = None

    def register(self, fileobj, events, data=None):
        key = super().register(fileobj, events, data)
        if self._dispatch_depth:
            self._fresh_fds.add(key.fd)
        return key

    def dispatch(self, timeout=None):
        """Wait as select(timeout) does, then call key.data(key.fileobj,
        events) for every ready key; return how many callbacks ran.

        Each event is checked against the registrations as they are after
        the callbacks before it: unregistered keys are skipped, modified ones
        get their current data and events, and fds registered anew during
        this dispatch are skipped. Exceptions from callbacks propagate."""
        ready = self.select(timeout)
        if self._dispatch_depth == 0:
            self._fresh_fds = set()
        self._dispatch_depth += 1
        called = 0
        try:
            current_key = self._fd_to_key.get
            fresh = self._fresh_fds
            for key, events in ready:
                key = current_key(key.fd)
                if key is None or (fresh and key.fd in fresh):
                    continue
                events &= key.events
                if events:
                    key.data(key.fileobj, events)
                    called += 1
        finally:
            self._dispatch_depth -= 1
            if self._dispatch_depth == 0:
                self._fresh_fds = None
        return called


class SelectSelector(_Dispatching, _stdlib.SelectSelector):
    """select()-based selector."""


if hasattr(_stdlib, "PollSelector"):

    class PollSelector(_Dispatching, _stdlib.PollSelector):
        """Poll-based selector."""

    __all__.append("PollSelector")

if hasattr(_stdlib, "EpollSelector"):

    class EpollSelector(_Dispatching, _stdlib.EpollSelector):
        """Epoll-based selector (Linux).

        Unlike the stdlib's, it refuses to change or wait on its epoll object
        in a child process after fork() (RuntimeError), since that object is
        shared with the parent (a refused modify() drops the key, as any
        failed kernel modify does); unregister() and close() still work
        there, and touch only the child's side."""

        def __init__(self):
            super().__init__()
            self._generation = _fork_generation

        def _check_not_forked(self):
            if self._generation != _fork_generation:
                raise RuntimeError(FORKED_EPOLL_MESSAGE)

        def register(self, fileobj, events, data=None):
            self._check_not_forked()
            return super().register(fileobj, events, data)

        def modify(self, fileobj, events, data=None):
            # Only a change of events reaches the kernel; refused, it drops
            # the key as any failed kernel modify does (the compiled core's
            # behaviour too).
            if self._generation != _fork_generation and events != self.get_key(fileobj).events:
                _stdlib._BaseSelectorImpl.unregister(self, fileobj)
                raise RuntimeError(FORKED_EPOLL_MESSAGE)
            return super().modify(fileobj, events, data)

        def select(self, timeout=None):
            self._check_not_forked()
            return super().select(timeout)

        def unregister(self, fileobj):
            if self._generation != _fork_generation:
                # Forget the fd in this process's map only.
                return _stdlib._BaseSelectorImpl.unregister(self, fileobj)
            return super().unregister(fileobj)

    __all__.append("EpollSelector")

if hasattr(_stdlib, "DevpollSelector"):

    class DevpollSelector(_Dispatching, _stdlib.DevpollSelector):
        """Solaris /dev/poll selector."""

    __all__.append("DevpollSelector")

if hasattr(_stdlib, "KqueueSelector"):

    class KqueueSelector(_Dispatching, _stdlib.KqueueSelector):
        """Kqueue-based selector (macOS and BSD)."""

    __all__.append("KqueueSelector")
