"""The loop's state as asyncio has it: the same attributes after
construction, use and close; mock.patch.object, assignment and deletion on
them honoured by the compiled methods; a subclass's property or class
attribute under one of the names used.

fastsel.aio.EventLoop keeps the state its compiled methods read on every
iteration in slots, read at their offsets; each scenario runs on asyncio's
loop and on fastsel.aio.EventLoop, and the two observations must be equal (on
the pure implementation EventLoop is asyncio's loop, and they only compare)."""
import asyncio
import subprocess
import sys
import textwrap
from unittest import mock

import pytest

import fastsel
from fastsel import aio

LOOPS = {"asyncio": asyncio.SelectorEventLoop, "fastsel.aio": aio.EventLoop}
# fastsel's own loop state, which asyncio's loop has not.
OWN_STATE = ("_wakeup_pending", "_write_coalescer", "_run_forever_state")
SLOT_NAMES = getattr(aio.EventLoop, "__slots__", ())
STATE = ("_ready", "_scheduled", "_selector", "_debug", "_stopping", "_closed",
         "_clock_resolution", "_timer_cancelled_count", "_task_factory",
         "_csock", "_transports")

compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the compiled implementation is not live")


def on_both(scenario, classes=LOOPS):
    """scenario(loop) run on a loop of each class: the results by name."""
    results = {}
    for name, make_loop in classes.items():
        loop = make_loop()
        try:
            results[name] = scenario(loop)
        finally:
            loop.close()
    return results


def describe(loop, name):
    try:
        value = getattr(loop, name)
    except AttributeError:
        return "unset"
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return type(value).__name__


def test_state_as_asyncio_keeps_it():
    def scenario(loop):
        seen = {"built": {name: describe(loop, name) for name in STATE}}
        timers = [loop.call_later(10, print) for _ in range(3)]
        timers[0].cancel()
        loop.call_soon(len, ())
        seen["queued"] = {name: describe(loop, name) for name in STATE}
        seen["queued"]["sizes"] = (len(loop._ready), len(loop._scheduled))
        loop.run_until_complete(asyncio.sleep(0))
        seen["ran"] = {name: describe(loop, name) for name in STATE}
        seen["ran"]["sizes"] = (len(loop._ready), len(loop._scheduled))
        loop.close()
        seen["closed"] = {name: describe(loop, name) for name in STATE}
        return seen

    results = on_both(scenario)
    assert results["fastsel.aio"] == results["asyncio"]
    assert results["asyncio"]["queued"]["_timer_cancelled_count"] == 1


@compiled
def test_state_is_in_slots():
    """On every mirrored version the names are slots that the compiled
    methods read at their offsets; the instance dict no longer has them
    (README, Differences)."""
    from fastsel import _aio_c

    assert set(SLOT_NAMES) == set(STATE + OWN_STATE)
    assert _aio_c.use_loop_slots(aio.EventLoop)
    loop = aio.EventLoop()
    try:
        assert not set(SLOT_NAMES) & set(vars(loop))
        assert _aio_c._reads_loop_slots(loop)
        Sub = type("Sub", (aio.EventLoop,), {})
        assert _aio_c._reads_loop_slots(Sub())
    finally:
        loop.close()


@compiled
def test_setting_the_state_marks_no_method_shadowed():
    """A slot takes the value itself, so setting it never turns on the
    search of loop instances for replaced methods."""
    code = textwrap.dedent("""
        import asyncio
        from fastsel import aio, _aio_c
        loop = aio.EventLoop()
        loop.set_debug(True)
        loop.set_debug(False)
        loop.run_until_complete(asyncio.sleep(0.001))
        loop.close()
        assert not _aio_c.loop_shadowing_seen()
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_patched_clock_resolution_is_honoured():
    """A timer within the clock resolution of now is due: a patched
    resolution moves a far timer into this iteration on both loops."""
    def scenario(loop):
        ran = []
        with mock.patch.object(loop, "_clock_resolution", 3600.0):
            loop.call_later(600, ran.append, "timer")
            loop.call_soon(loop.stop)
            loop.run_forever()
        return ran, loop._clock_resolution != 3600.0

    results = on_both(scenario)
    assert results["fastsel.aio"] == results["asyncio"] == (["timer"], True)


def test_assigned_debug_is_honoured():
    """Assigning _debug directly (as some tests and tools do) switches the
    compiled methods to debug mode's steps, as on asyncio's loop."""
    def scenario(loop):
        loop._debug = True
        handle = loop.call_soon(print)
        debug = (loop.get_debug(), handle._source_traceback is not None)
        handle.cancel()
        loop._debug = False
        handle = loop.call_soon(print)
        return debug, loop.get_debug(), handle._source_traceback
    results = on_both(scenario)
    assert results["fastsel.aio"] == results["asyncio"] == ((True, True), False, None)


def test_closed_flag_and_stopping_are_read_anew():
    def scenario(loop):
        loop._closed = True
        try:
            loop.call_soon(print)
        except RuntimeError as exc:
            refused = str(exc)
        loop._closed = False
        ran = []
        loop.call_soon(ran.append, 1)
        loop._stopping = True
        loop.run_forever()  # one iteration, then stops
        return refused, ran, loop._stopping

    results = on_both(scenario)
    assert results["fastsel.aio"] == results["asyncio"]
    assert results["asyncio"] == ("Event loop is closed", [1], False)


def test_deleted_state_fails_as_on_asyncio():
    def scenario(loop):
        ready = loop._ready
        del loop._ready
        try:
            loop.call_soon(print)
        except AttributeError as exc:
            error = type(exc).__name__, "_ready" in str(exc)
        loop._ready = ready
        return error, len(loop._ready)

    results = on_both(scenario)
    assert results["fastsel.aio"] == results["asyncio"] == (("AttributeError", True), 0)


@pytest.mark.parametrize("how", ["property", "class attribute"])
def test_subclass_under_a_name_is_used(how):
    """A property or a class attribute under one of the names is what the
    compiled methods read, as asyncio's would."""
    reads = []

    def debug_property(self):
        reads.append(1)
        return False

    if how == "property":
        extra = {"_debug": property(debug_property, lambda self, value: None)}
    else:
        extra = {"_task_factory": None}

    classes = {name: type("Sub", (cls,), extra) for name, cls in LOOPS.items()}

    def scenario(loop):
        reads.clear()
        loop.set_task_factory(None)
        task = loop.create_task(asyncio.sleep(0, "done"))
        result = loop.run_until_complete(task)
        return result, loop.get_debug(), bool(reads)

    results = on_both(scenario, classes)
    assert results["fastsel.aio"] == results["asyncio"]
    assert results["asyncio"][2] == (how == "property")
    if fastsel.IMPLEMENTATION == "c" and how == "property":
        from fastsel import _aio_c

        loop = classes["fastsel.aio"]()
        try:
            assert not _aio_c._reads_loop_slots(loop)
        finally:
            loop.close()


def test_subclass_with_slots_of_its_own():
    """A subclass may add slots of its own beside EventLoop's."""
    Sub = type("Sub", (aio.EventLoop,), {"__slots__": ("extra",)})
    loop = Sub()
    try:
        loop.extra = 5
        assert loop.run_until_complete(asyncio.sleep(0, loop.extra)) == 5
    finally:
        loop.close()
