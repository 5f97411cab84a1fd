"""Every test runs on both implementations through the `impl` fixture.

`impl` is a namespace with the public classes of one implementation (see
fastsel._impl.load). The compiled one must load: a broken build fails the run
instead of passing on the fallback. Only an explicit opt-out skips it:
`--no-c-extensions` or FASTSEL_NO_EXTENSIONS=1.
"""
import gc
import os

import pytest

from fastsel import _impl

IMPLEMENTATIONS = ("c", "python")


def pytest_addoption(parser):
    parser.addoption(
        "--no-c-extensions",
        action="store_true",
        help="test only the pure-Python implementation",
    )


def compiled_opted_out(config=None):
    if os.environ.get("FASTSEL_NO_EXTENSIONS") == "1":
        return True
    return bool(config and config.getoption("--no-c-extensions"))


@pytest.fixture(scope="session", params=IMPLEMENTATIONS)
def impl(request):
    if request.param == "c" and compiled_opted_out(request.config):
        pytest.skip("compiled implementation opted out")
    return _impl.load(request.param)


@pytest.fixture(scope="module", autouse=True)
def collect_only_what_the_module_makes():
    """Hide the objects that exist when a test module starts (the session's
    modules, plugins and caches) from the cycle collector until it ends.

    CPython's asyncio suites collect three times after every test; scanning
    the whole session's heap each time made them the better part of the
    run. What the module's tests make is collected as usual, and the heap
    is cleaned before it is frozen, so no garbage is kept."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def selector_names(ns):
    """The selector classes an implementation namespace offers."""
    return [n for n in ("EpollSelector", "PollSelector", "SelectSelector",
                        "KqueueSelector", "DevpollSelector") if hasattr(ns, n)]


def _debug_counters():
    """The compiled modules' internal counters, or None outside a debug build
    (FASTSEL_DEBUG=1 python setup.py build_ext --inplace)."""
    try:
        from fastsel import _loop_c, _selectors_c
    except ImportError:
        return None
    counters = _selectors_c._debug_counters()
    if counters is None:
        return None
    return {**counters, **_loop_c._debug_counters()}


_BALANCED = (("keys_stored", "keys_released"),
             ("buffers_allocated", "buffers_freed"),
             ("handles_created", "handles_freed"))


_unbalanced_tests = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """In a debug build, every test must free what it made: keys stored in
    key tables, wait buffers, loop handles. Checked once the test's fixtures
    are gone (after a full collection); a test that leaks fails the session."""
    before = _debug_counters()
    yield
    if before is None:
        return
    gc.collect()
    after = _debug_counters()
    unbalanced = {
        made: (after[made] - before[made], after[freed] - before[freed])
        for made, freed in _BALANCED
        if after[made] - before[made] != after[freed] - before[freed]
    }
    if unbalanced:
        _unbalanced_tests.append((item.nodeid, unbalanced))


def pytest_terminal_summary(terminalreporter):
    for nodeid, unbalanced in _unbalanced_tests:
        terminalreporter.write_line(f"UNBALANCED {nodeid}: made vs freed {unbalanced}")


def pytest_sessionfinish(session):
    if _unbalanced_tests:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
