#!/usr/bin/env python
"""CPython's whole test.test_asyncio package, on asyncio's loop and on fastsel's.

    python tools/asyncio_suite.py [-j N] [--timeout S] [--modules test_tasks ...]

Runs on the interpreter that runs it, from a checkout where fastsel is
importable (built in place or installed). Each module of the package runs
twice, each time in its own process with a timeout: once as it is, once with
fastsel.aio.EventLoop as the loop asyncio's policy makes and as
asyncio.SelectorEventLoop (and asyncio.EventLoop). The failures of the two
runs are compared; tests failing only under fastsel are run again, alone,
on both loops, to tell real failures from flaky ones. Prints the totals and
every test that fails only under fastsel; exits 1 if there is one.

Every loop made by asyncio's selector loop class is counted: a module that
made some on asyncio's run but not one fastsel loop on fastsel's (its loops
escaped the patching) is reported and counts as a failure.
"""
import argparse
import concurrent.futures
import json
import os
import pkgutil
import signal
import subprocess
import sys
import time
import unittest
import warnings

LOOPS = ("asyncio", "fastsel")
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILED = "failures"


def use_fastsel_loop():
    """Make fastsel.aio.EventLoop the loop asyncio's default policy makes and
    the one asyncio.SelectorEventLoop and asyncio.EventLoop name. Both the
    policy and its class are replaced: the tests reset the policy to the
    default class in their tearDowns."""
    import asyncio
    from asyncio import events, unix_events

    import fastsel.aio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        policy = fastsel.aio.EventLoopPolicy
    for module in (asyncio, unix_events):
        for name in ("SelectorEventLoop", "EventLoop"):
            if name in vars(module):
                setattr(module, name, fastsel.aio.EventLoop)
        # 3.14+ reads unix_events._DefaultEventLoopPolicy (asyncio's
        # DefaultEventLoopPolicy is then a deprecated alias of it).
        for name in ("DefaultEventLoopPolicy", "_DefaultEventLoopPolicy"):
            if name in vars(module):
                setattr(module, name, policy)
    events._event_loop_policy = None


def count_loops():
    """Return a dict counting the loops of asyncio's SelectorEventLoop class
    (subclasses included, fastsel's among them) made from now on, and those
    that are fastsel's."""
    from asyncio import selector_events, unix_events

    import fastsel.aio

    counts = {"selector_loops": 0, "fastsel_loops": 0}
    init = selector_events.BaseSelectorEventLoop.__init__

    def counting_init(self, *args, **kwargs):
        # asyncio's class under its own name, which use_fastsel_loop() leaves.
        if isinstance(self, unix_events._UnixSelectorEventLoop):
            counts["selector_loops"] += 1
        if isinstance(self, fastsel.aio.EventLoop):
            counts["fastsel_loops"] += 1
        init(self, *args, **kwargs)

    selector_events.BaseSelectorEventLoop.__init__ = counting_init
    return counts


class _Result(unittest.TextTestResult):
    """Records the ids of failed tests (a failed subtest as its test's id)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failed_ids = []

    def _record(self, test):
        test = getattr(test, "test_case", test)  # a subtest's own test
        if test.id() not in self.failed_ids:
            self.failed_ids.append(test.id())

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._record(subtest)


def run_in_this_process(loop, names, report):
    """Load and run the tests named (modules or test ids); write the results
    as JSON to the file report. The test output goes to stderr."""
    # Started from a background job, the process inherits SIGINT ignored
    # and Python installs no KeyboardInterrupt handler: test_runners'
    # interrupt tests would then wait for a signal that never arrives.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if loop == "fastsel":
        use_fastsel_loop()
    counts = count_loops()
    suite, skipped_modules = unittest.TestSuite(), 0
    for name in names:
        try:
            suite.addTest(unittest.defaultTestLoader.loadTestsFromName(name))
        except unittest.SkipTest:  # the module skips itself (Windows only)
            skipped_modules += 1
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=1,
                                     resultclass=_Result)
    result = runner.run(suite)
    with open(report, "w") as file:
        json.dump({"run": result.testsRun,
                   "skipped": len(result.skipped) + skipped_modules,
                   FAILED: result.failed_ids, **counts}, file)


def run_in_child(loop, names, timeout, label):
    """Run the tests named in a child process; return its results (a crash or
    a timeout counts as one failure named after the module)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "report.json")
        log = os.path.join(scratch, "output.txt")
        command = [sys.executable, os.path.abspath(__file__), "--child", loop,
                   "--report", report, *names]
        started = time.monotonic()
        with open(log, "wb") as output:
            try:
                subprocess.run(command, stdout=output, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=timeout,
                               cwd=scratch, env=_child_env())
                problem = None if os.path.exists(report) else "crashed"
            except subprocess.TimeoutExpired:
                problem = f"timed out after {timeout:.0f} s"
        elapsed = time.monotonic() - started
        if problem is None:
            with open(report) as file:
                results = json.load(file)
        else:
            with open(log, "rb") as file:
                tail = file.read()[-3000:].decode(errors="replace")
            results = {"run": 0, "skipped": 0, FAILED: [f"{label} ({problem})"],
                       "selector_loops": 0, "fastsel_loops": 0, "tail": tail}
    results["seconds"] = elapsed
    return results


def _child_env():
    # The child runs in a scratch directory (tests write files into the
    # current one), with the fastsel this process imported.
    import fastsel

    found_in = os.path.dirname(os.path.dirname(os.path.abspath(fastsel.__file__)))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=found_in + (os.pathsep + path if path else ""))


def import_fastsel():
    """fastsel as installed, else from this checkout (built in place)."""
    try:
        import fastsel
    except ImportError:
        sys.path.insert(0, CHECKOUT)
        import fastsel
    return fastsel


def all_modules():
    import test.test_asyncio as package

    return sorted(name for _, name, _ in pkgutil.iter_modules(package.__path__)
                  if name.startswith("test_"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", metavar="MODULE",
                        help="modules of test.test_asyncio to run (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help="processes running at once (default 1)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds allowed to each module's process (default 900)")
    parser.add_argument("--child", choices=LOOPS, help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_in_this_process(args.child, args.names, args.report)
        return 0

    fastsel = import_fastsel()
    modules = args.modules or all_modules()
    print(f"CPython {sys.version.split()[0]}; fastsel's {fastsel.IMPLEMENTATION} "
          f"implementation from {os.path.dirname(fastsel.__file__)}; "
          f"{len(modules)} modules, -j {args.jobs}", flush=True)
    results = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        jobs = {pool.submit(run_in_child, loop, [f"test.test_asyncio.{module}"],
                            args.timeout, f"test.test_asyncio.{module}"):
                (module, loop)
                for module in modules for loop in LOOPS}
        for job in concurrent.futures.as_completed(jobs):
            module, loop = jobs[job]
            results[module, loop] = result = job.result()
            print(f"  {module} on {loop}: {result['run']} run, "
                  f"{len(result[FAILED])} failed, {result['selector_loops']} "
                  f"SelectorEventLoops ({result['fastsel_loops']} fastsel's), "
                  f"{result['seconds']:.0f} s", flush=True)

    fastsel_only, flaky, unpatched = [], [], []
    for module in modules:
        on_asyncio, on_fastsel = results[module, "asyncio"], results[module, "fastsel"]
        if on_asyncio["selector_loops"] and not on_fastsel["fastsel_loops"]:
            unpatched.append(module)
        candidates = [t for t in on_fastsel[FAILED] if t not in on_asyncio[FAILED]]
        if not candidates:
            continue
        if on_fastsel["run"] == 0:  # the whole module crashed or timed out
            print(on_fastsel.get("tail", ""))
        # Run each test again alone, on both loops: a failure on asyncio's
        # loop too, or none on fastsel's, means it did not come from fastsel.
        # A module that crashed, or a setUpModule, cannot be run that way.
        fastsel_only.extend(t for t in candidates if " " in t)
        for test_id in (t for t in candidates if " " not in t):
            again = {loop: run_in_child(loop, [test_id], args.timeout, test_id)
                     for loop in LOOPS}
            if test_id not in again["fastsel"][FAILED] and again["fastsel"]["run"]:
                flaky.append(test_id)
            elif again["asyncio"][FAILED]:
                flaky.append(test_id)
            else:
                fastsel_only.append(test_id)

    print()
    for loop in LOOPS:
        run = sum(results[m, loop]["run"] for m in modules)
        skipped = sum(results[m, loop]["skipped"] for m in modules)
        failed = sum(len(results[m, loop][FAILED]) for m in modules)
        made = sum(results[m, loop]["fastsel_loops"] for m in modules)
        print(f"on {loop}'s loop: {run} tests run, {skipped} skipped, {failed} failed"
              f" ({made} fastsel loops made)")
    for test_id in flaky:
        print(f"flaky (not failing again alone, or failing on asyncio's loop too): {test_id}")
    for module in unpatched:
        print(f"UNPATCHED: {module} made no fastsel loop")
    for test_id in fastsel_only:
        print(f"FAILS ONLY ON FASTSEL: {test_id}")
    print(f"{len(fastsel_only)} tests fail only on fastsel; "
          f"{len(unpatched)} modules were not run on fastsel")
    return 1 if fastsel_only or unpatched else 0


if __name__ == "__main__":
    # Guarded: multiprocessing's spawn and forkserver re-import this file.
    sys.exit(main())
