"""Run CPython's asyncio TLS suites on one event loop and list what fails.

    python tools/tls_conformance.py LOOP [MODULE ...]

LOOP is asyncio (asyncio's own selector loop), fastsel (fastsel.aio.EventLoop)
or aiofastnet (aiofastnet.loop_factory over fastsel.aio.new_event_loop).
MODULE defaults to test_sslproto and test_ssl (3.11+). Every loop the suites
create through asyncio.new_event_loop() or asyncio.SelectorEventLoop() comes
from LOOP; the count of loops made is printed, so a suite that silently ran
on another loop shows. Run from the source tree after an in-place build.
"""
import asyncio
import importlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def loop_factory(name):
    if name == "asyncio":
        return asyncio.SelectorEventLoop
    import fastsel.aio
    if name == "fastsel":
        return fastsel.aio.new_event_loop
    if name == "aiofastnet":
        import aiofastnet
        return aiofastnet.loop_factory(fastsel.aio.new_event_loop)
    raise SystemExit(f"unknown loop {name!r}")


def main(argv):
    loop_name, *modules = argv
    modules = modules or ["test_sslproto", "test_ssl"]
    make = loop_factory(loop_name)
    made = []

    def new_event_loop(*args):
        loop = make()
        made.append(type(loop).__name__)
        return loop

    asyncio.new_event_loop = asyncio.events.new_event_loop = new_event_loop
    asyncio.SelectorEventLoop = asyncio.selector_events.SelectorEventLoop = (
        asyncio.unix_events.SelectorEventLoop) = new_event_loop
    suite = unittest.TestSuite()
    for short in modules:
        try:
            module = importlib.import_module(f"test.test_asyncio.{short}")
        except ImportError as exc:
            print(f"{short}: not on this interpreter ({exc})")
            continue
        suite.addTests(unittest.defaultTestLoader.loadTestsFromModule(module))
    result = unittest.TextTestRunner(verbosity=0, stream=open(os.devnull, "w")).run(suite)
    asyncio.set_event_loop_policy(None)
    print(f"{loop_name} on {sys.version.split()[0]}: ran {result.testsRun}, "
          f"failures {len(result.failures)}, errors {len(result.errors)}, "
          f"skipped {len(result.skipped)}; loops made {len(made)} ({sorted(set(made))})")
    for kind, entries in (("FAIL", result.failures), ("ERROR", result.errors)):
        for test, trace in entries:
            last = trace.strip().splitlines()[-1]
            print(f"  {kind} {test.id()}: {last}")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
