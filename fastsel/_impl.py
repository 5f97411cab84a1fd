"""Chooses between the compiled and the pure-Python selectors.

FASTSEL_NO_EXTENSIONS=1 asks for the pure implementation. FASTSEL_IMPL=c
demands the compiled one (ImportError if it cannot load); FASTSEL_IMPL=python
is the same as FASTSEL_NO_EXTENSIONS=1. Otherwise the compiled one is used
when it loads, and the reason it did not is logged at debug level.
"""
import functools
import logging
import os
import select
import sys
import types

logger = logging.getLogger("fastsel")

# The stdlib's order of preference (Lib/selectors.py).
_PREFERENCE = (
    ("KqueueSelector", "kqueue"),
    ("EpollSelector", "epoll"),
    ("DevpollSelector", "devpoll"),
    ("PollSelector", "poll"),
    ("SelectSelector", None),
)


def _os_supports(method):
    """Whether the select module's `method` exists and the kernel accepts it."""
    if method is None:
        return True
    factory = getattr(select, method, None)
    if factory is None:
        return False
    try:
        poller = factory()
        if method == "poll":
            poller.poll(0)
        else:
            poller.close()
    except OSError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def load(kind):
    """The public classes of one implementation, 'c' or 'python'.

    The compiled module provides the classes it has (epoll, kqueue, poll);
    the others come from the pure twin. Raises ImportError when 'c' cannot load."""
    from . import _selectors_py as pure

    classes = {name: getattr(pure, name) for name in pure.__all__}
    if kind == "c":
        from . import _loop_c as loop
        from . import _selectors_c as compiled

        classes["PollSelector"] = compiled.PollSelector
        if compiled.HAVE_EPOLL:
            classes["EpollSelector"] = compiled.EpollSelector
        if compiled.HAVE_KQUEUE:
            classes["KqueueSelector"] = compiled.KqueueSelector
    elif kind == "python":
        from . import _loop_py as loop
    else:
        raise ValueError(f"unknown fastsel implementation: {kind!r}")
    default = next(
        classes[name]
        for name, method in _PREFERENCE
        if name in classes and _os_supports(method)
    )
    return types.SimpleNamespace(
        IMPLEMENTATION=kind, DefaultSelector=default, Loop=loop.Loop,
        Handle=loop.Handle, TimerHandle=loop.TimerHandle, **classes)


def choose():
    """Load the implementation the environment asks for (see the module doc)."""
    wanted = os.environ.get("FASTSEL_IMPL", "")
    if wanted not in ("", "c", "python"):
        raise ImportError(f"FASTSEL_IMPL must be 'c' or 'python', not {wanted!r}")
    if wanted == "c":
        return load("c")
    if wanted == "python" or os.environ.get("FASTSEL_NO_EXTENSIONS") == "1":
        logger.debug("fastsel: pure-Python implementation requested by the environment")
        return load("python")
    if sys.implementation.name != "cpython":
        logger.debug("fastsel: pure-Python implementation on %s", sys.implementation.name)
        return load("python")
    try:
        return load("c")
    except ImportError as exc:
        logger.debug("fastsel: compiled core unavailable (%s); using pure Python", exc)
        return load("python")
