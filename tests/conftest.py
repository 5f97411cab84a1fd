"""Every test runs on both implementations through the `impl` fixture.

`impl` is a namespace with the public classes of one implementation (see
fastsel._impl.load). The compiled one must load: a broken build fails the run
instead of passing on the fallback. Only an explicit opt-out skips it:
`--no-c-extensions` or FASTSEL_NO_EXTENSIONS=1.
"""
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


def selector_names(ns):
    """The selector classes an implementation namespace offers."""
    return [n for n in ("EpollSelector", "PollSelector", "SelectSelector",
                        "KqueueSelector", "DevpollSelector") if hasattr(ns, n)]
