"""CPython's own asyncio event-loop suites, run on fastsel.

test.test_asyncio.test_events, test_sock_lowlevel and test_sendfile are
imported from the interpreter's test package, not copied. Each has
EPollEventLoopTests/PollEventLoopTests/SelectEventLoopTests classes that get
their loop from create_event_loop(); one TestCase is built per (suite, loop)
from them, with that hook returning a loop on fastsel:

- fastsel.aio.EventLoop on each compiled selector (the compiled iteration),
  and on the pure DefaultSelector (where it falls back to asyncio's);
- asyncio.SelectorEventLoop on every selector class of both
  implementations (the selector alone, under asyncio's own iteration).

The whole matrix runs, no subset (9 loops x 3 suites, about a minute on
3.11 here, with the session's heap frozen out of the collector: see
conftest.py). The CPython modules' own tearDownModule (reset the event loop
policy) is repeated below.
"""
import asyncio
import warnings

import pytest

from conftest import IMPLEMENTATIONS, compiled_opted_out, selector_names
from fastsel import _impl

try:
    from test.test_asyncio import test_events, test_sendfile, test_sock_lowlevel
except ImportError:  # interpreters built without their test package
    SUITES = ()
else:
    SUITES = (test_events, test_sock_lowlevel, test_sendfile)

# The CPython class to start from, per selector class name: they differ in
# their create_event_loop and in platform skips that belong to the backend.
BASE_FOR = {
    "EpollSelector": "EPollEventLoopTests",
    "PollSelector": "PollEventLoopTests",
    "SelectSelector": "SelectEventLoopTests",
    "KqueueSelector": "KqueueEventLoopTests",
}


def _loop_factories():
    """name -> (CPython base class name, function making the loop)."""
    from fastsel import aio

    factories = {}
    for kind in IMPLEMENTATIONS:
        if kind == "c" and compiled_opted_out():
            continue
        ns = _impl.load(kind)
        for name in selector_names(ns):
            cls = getattr(ns, name)
            if kind == "c" and cls is _impl.load("python").__dict__.get(name):
                continue  # the compiled namespace borrows this pure class
            label = f"{kind.capitalize()}{name}"
            factories[f"Selector{label}"] = (
                BASE_FOR[name], lambda cls=cls: asyncio.SelectorEventLoop(cls()))
            if kind == "c":
                # aio.EventLoop takes the compiled path on this selector.
                factories[f"AioEventLoop{label}"] = (
                    BASE_FOR[name], lambda cls=cls: aio.EventLoop(cls()))
        if kind == "python":
            default = ns.DefaultSelector
            factories["AioEventLoopPythonDefault"] = (
                BASE_FOR[default.__name__],
                lambda: aio.EventLoop(default()))
    return factories


def _build_cases():
    cases = {}
    for suite in SUITES:
        short = suite.__name__.rsplit(".", 1)[1]
        for loop_name, (base_name, make_loop) in _loop_factories().items():
            base = getattr(suite, base_name, None)
            if base is None:
                continue
            case = f"Test_{short}_{loop_name}"
            cases[case] = type(case, (base,), {
                "create_event_loop": lambda self, make_loop=make_loop: make_loop(),
                "__module__": __name__,
                "__qualname__": case,
            })
    return cases


globals().update(_build_cases())


def teardown_module():
    with warnings.catch_warnings():
        # Deprecated from 3.14 on, as asyncio's policies are.
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(None)


if not SUITES:
    def test_cpython_asyncio_suites_unavailable():
        pytest.skip("this interpreter does not ship test.test_asyncio")
