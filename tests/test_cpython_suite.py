"""CPython's own test.test_selectors, run against every fastsel class.

The module is imported from the interpreter's test package, not copied. One
TestCase is built per (implementation, class) from the matching CPython
TestCase. test_modify_unregister patches the stdlib class by name and reads
its private _map, so it is replaced here by a real fault: the fd is closed
under the selector, and the kernel's modify fails.
"""
import os
import selectors
import unittest

import pytest

from conftest import IMPLEMENTATIONS, compiled_opted_out, selector_names
from fastsel import _impl

try:
    from test import test_selectors as cpython
except ImportError:  # interpreters built without their test package
    cpython = None


def _modify_unregister_by_fault(self):
    """modify() whose kernel call fails drops the key, then re-raises."""
    if self.SELECTOR.__name__ not in ("EpollSelector", "DevpollSelector"):
        # poll's modify never calls the kernel; select's is unregister+register.
        self.skipTest("modify makes no kernel call that can fail")
    s = self.SELECTOR()
    self.addCleanup(s.close)
    rd, wr = self.make_socketpair()
    fd = os.dup(rd.fileno())
    s.register(fd, selectors.EVENT_READ)
    os.close(fd)
    with self.assertRaises(OSError):
        s.modify(fd, selectors.EVENT_WRITE)
    self.assertEqual(len(s.get_map()), 0)
    self.assertRaises(KeyError, s.get_key, fd)


def _build_cases():
    cases = {}
    for kind in IMPLEMENTATIONS:
        if kind == "c" and compiled_opted_out():
            continue
        ns = _impl.load(kind)  # a missing extension fails collection, loudly
        for name in selector_names(ns) + ["DefaultSelector"]:
            base_name = name.replace("Selector", "SelectorTestCase")
            base = getattr(cpython, base_name)
            case = f"Test{kind.capitalize()}{name}"
            cases[case] = type(case, (base,), {
                "SELECTOR": getattr(ns, name),
                "test_modify_unregister": _modify_unregister_by_fault,
                "__module__": __name__,
            })
    return cases


if cpython is not None:
    globals().update(_build_cases())
else:
    def test_cpython_suite_unavailable():
        pytest.skip("this interpreter does not ship test.test_selectors")
