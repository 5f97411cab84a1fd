"""The pure-Python twin of the compiled selectors.

Each class is the stdlib's own, subclassed so that fastsel's additions live in
one place for both implementations. Used on interpreters other than CPython,
where the extension cannot be built, or when FASTSEL_NO_EXTENSIONS=1.
"""
import selectors as _stdlib

EVENT_READ = _stdlib.EVENT_READ
EVENT_WRITE = _stdlib.EVENT_WRITE
SelectorKey = _stdlib.SelectorKey

__all__ = ["SelectSelector"]


class SelectSelector(_stdlib.SelectSelector):
    """select()-based selector."""


if hasattr(_stdlib, "PollSelector"):

    class PollSelector(_stdlib.PollSelector):
        """Poll-based selector."""

    __all__.append("PollSelector")

if hasattr(_stdlib, "EpollSelector"):

    class EpollSelector(_stdlib.EpollSelector):
        """Epoll-based selector (Linux)."""

    __all__.append("EpollSelector")

if hasattr(_stdlib, "DevpollSelector"):

    class DevpollSelector(_stdlib.DevpollSelector):
        """Solaris /dev/poll selector."""

    __all__.append("DevpollSelector")

if hasattr(_stdlib, "KqueueSelector"):

    class KqueueSelector(_stdlib.KqueueSelector):
        """Kqueue-based selector (macOS and BSD)."""

    __all__.append("KqueueSelector")
