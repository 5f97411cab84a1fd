"""The handles fastsel.aio makes, runs and checks through their slots are
asyncio's in every respect a program can see; a Handle class that is not
exactly asyncio's (a slot, __init__, _run or attribute access replaced) is
used through attribute access and its own methods, as asyncio uses it.

Each test runs on fastsel.aio.EventLoop and on asyncio's own loop, the
oracle, and compares what they show."""
import asyncio
import contextvars
import re
import sys
import threading
import weakref
from asyncio import events

import pytest

from fastsel import aio

FACTORIES = {"fastsel.aio": aio.EventLoop, "asyncio": asyncio.SelectorEventLoop}
VAR = contextvars.ContextVar("VAR", default="unset")


@pytest.fixture(params=list(FACTORIES))
def loop(request):
    made = FACTORIES[request.param]()
    yield made
    made.close()


def run_ready(loop):
    """Run one pass of the loop over what is ready now (and what that adds)."""
    loop.call_soon(loop.stop)
    loop.run_forever()


def slot_values(handle, loop):
    """Every slot of handle, by name ('<unset>' for an empty one), with the
    loop, the context and the lock shown by what they are."""
    seen = {}
    for cls in type(handle).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name == "__weakref__":
                continue
            try:
                value = getattr(handle, name)
            except AttributeError:
                value = "<unset>"
            if value is loop:
                value = "<the loop>"
            elif isinstance(value, contextvars.Context):
                value = ("<context>", dict(value))
            elif name == "_lock":
                value = ("<lock>", type(value) is type(threading.RLock()))
            elif name == "_when":
                value = ("<when>", type(value))
            seen[name] = value
    return seen


def observe(handle, loop):
    """What a program can see of a handle, before and after cancel()."""
    def shown():
        state = {"type": type(handle), "slots": slot_values(handle, loop),
                 "repr": re.sub(r"when=[0-9.e+-]+", "when=T", repr(handle)),
                 "cancelled": handle.cancelled()}
        if hasattr(handle, "get_context"):  # 3.12+
            state["get_context"] = handle.get_context() is handle._context
        if hasattr(handle, "when"):
            state["when"] = handle.when() is handle._when
        return state

    before = shown()
    handle.cancel()
    return before, shown()


MAKERS = {
    "call_soon": lambda loop, *args, **kw: loop.call_soon(*args, **kw),
    "call_soon_threadsafe": lambda loop, *args, **kw: loop.call_soon_threadsafe(*args, **kw),
    "call_later": lambda loop, *args, **kw: loop.call_later(100, *args, **kw),
    "call_at": lambda loop, *args, **kw: loop.call_at(loop.time() + 100, *args, **kw),
}


def observations(factory, maker, **kwargs):
    loop = factory()
    try:
        VAR.set("current")
        handle = MAKERS[maker](loop, print, 1, "two", **kwargs)
        return observe(handle, loop), loop._timer_cancelled_count
    finally:
        loop.close()


@pytest.mark.parametrize("maker", list(MAKERS))
@pytest.mark.parametrize("with_context", [False, True])
def test_handle_shows_what_asyncios_does(maker, with_context):
    def kwargs():
        if not with_context:
            return {}
        context = contextvars.Context()
        context.run(VAR.set, "given")
        return {"context": context}

    ours = contextvars.copy_context().run(
        observations, aio.EventLoop, maker, **kwargs())
    reference = contextvars.copy_context().run(
        observations, asyncio.SelectorEventLoop, maker, **kwargs())
    assert ours == reference


def test_given_context_is_the_handles(loop):
    context = contextvars.Context()
    for maker in MAKERS.values():
        handle = maker(loop, print, context=context)
        assert handle._context is context
        handle.cancel()


def contexts_and_errors(factory):
    """Handles of each kind run in a given context, and raising: what the
    callbacks saw and what reached the exception handler."""
    loop = factory()
    seen, errors = [], []
    loop.set_exception_handler(lambda loop, context: errors.append(
        (context["message"], type(context["exception"]), type(context["handle"]))))
    context = contextvars.Context()
    context.run(VAR.set, "given")
    try:
        loop.call_soon(lambda: seen.append(VAR.get()), context=context)
        loop.call_soon_threadsafe(lambda: seen.append(VAR.get()), context=context)
        loop.call_later(0, lambda: seen.append(VAR.get()), context=context)
        loop.call_soon(divmod, 1, 0)
        loop.call_soon_threadsafe(divmod, 2, 0)
        loop.call_later(0, divmod, 3, 0)
        while len(seen) < 3 or len(errors) < 3:
            run_ready(loop)
    finally:
        loop.close()
    return seen, sorted(errors, key=str)


def test_handles_run_in_their_context_and_report_errors_as_asyncio():
    seen, errors = contexts_and_errors(aio.EventLoop)
    assert seen == ["given"] * 3
    assert {handle for _, _, handle in errors} >= {events.Handle, events.TimerHandle}
    assert (seen, errors) == contexts_and_errors(asyncio.SelectorEventLoop)


def test_timer_bookkeeping_as_asyncio(loop):
    ran = []
    gone = loop.call_later(0, ran.append, 0)
    timer = loop.call_later(0.001, ran.append, 1)
    assert timer._scheduled is True and loop._scheduled == [gone, timer]
    gone.cancel()
    assert gone._scheduled is True and loop._timer_cancelled_count == 1
    while not ran:
        run_ready(loop)
    assert ran == [1] and loop._scheduled == []
    assert timer._scheduled is False and gone._scheduled is False
    assert loop._timer_cancelled_count == 0


def test_handle_cancelled_in_the_queue_does_not_run(loop):
    seen = []
    for maker in MAKERS.values():
        maker(loop, seen.append, 1).cancel()
    loop.call_soon(seen.append, 2)
    run_ready(loop)
    assert seen == [2]


# ------------------------------------------- classes that are not asyncio's

def run_one_of_each(loop, seen):
    """A handle from call_soon, call_soon_threadsafe and call_later each,
    appending 1, 2 and 3 to seen, run; returns seen."""
    loop.call_soon(seen.append, 1)
    loop.call_soon_threadsafe(seen.append, 2)
    loop.call_later(0, seen.append, 3)
    while len(seen) < 3:
        run_ready(loop)
    return seen


def test_replaced_slot_is_used(loop, monkeypatch):
    """A slot replaced on asyncio's Handle by a property: every read and
    write of the attribute goes through it."""
    slot = events.Handle.__dict__["_cancelled"]
    reads = []

    def read(handle):
        reads.append(type(handle))
        return slot.__get__(handle)

    monkeypatch.setattr(events.Handle, "_cancelled",
                        property(read, lambda handle, value: slot.__set__(handle, value)))
    seen = []
    assert sorted(run_one_of_each(loop, seen)) == [1, 2, 3]
    assert events.Handle in reads and events.TimerHandle in reads


def test_replaced_attribute_access_is_used(loop, monkeypatch):
    reads = []

    def getattribute(handle, name):
        reads.append(name)
        return object.__getattribute__(handle, name)

    monkeypatch.setattr(events.Handle, "__getattribute__", getattribute)
    seen = []
    loop.call_soon(seen.append, 1)
    run_ready(loop)
    assert seen == [1]
    assert "_cancelled" in reads and "_callback" in reads


def test_replaced_init_and_run_are_called(loop, monkeypatch):
    calls, seen = [], []
    init, run = events.Handle.__init__, events.Handle._run

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if self._callback == seen.append:
            calls.append("__init__")

    def recording_run(self):
        if self._callback == seen.append:
            calls.append("_run")
        run(self)

    monkeypatch.setattr(events.Handle, "__init__", recording_init)
    monkeypatch.setattr(events.Handle, "_run", recording_run)
    assert sorted(run_one_of_each(loop, seen)) == [1, 2, 3]
    assert calls.count("__init__") == 3 and calls.count("_run") == 3


def test_subclass_runs_its_own_run(loop):
    class Own(events.Handle):
        __slots__ = ()

        def _run(self):
            seen.append("own")
            super()._run()

    seen = []
    loop._ready.append(Own(seen.append, ("callback",), loop, None))
    run_ready(loop)
    assert seen == ["own", "callback"]


# ---------------------------------------------------- 3.14+: _ThreadSafeHandle

threadsafe_handle = pytest.mark.skipif(
    not hasattr(events, "_ThreadSafeHandle"), reason="3.14+: _ThreadSafeHandle")


@threadsafe_handle
def test_threadsafe_handle_runs_under_its_lock(loop):
    held = []

    def callback():
        # An RLock held by this thread: acquiring again succeeds at once, and
        # another thread cannot.
        taken = []
        thread = threading.Thread(target=lambda: taken.append(handle._lock.acquire(False)))
        thread.start()
        thread.join()
        held.append(taken == [False])

    handle = loop.call_soon_threadsafe(callback)
    run_ready(loop)
    assert held == [True]
    assert handle._lock.acquire(False)
    handle._lock.release()


@threadsafe_handle
def test_threadsafe_handle_cancelled_while_its_lock_is_held(loop):
    """_ThreadSafeHandle._run checks _cancelled again under the lock: a handle
    cancelled by the thread holding its lock, after the loop's check, does
    not run (a loop that gets there later skips it at the check)."""
    seen = []
    handle = loop.call_soon_threadsafe(seen.append, 1)
    taken = threading.Event()

    def hold_then_cancel():
        with handle._lock:
            taken.set()
            # The loop, meanwhile, waits for the lock in the handle's _run.
            threading.Event().wait(0.2)
            handle.cancel()

    thread = threading.Thread(target=hold_then_cancel)
    thread.start()
    taken.wait()
    run_ready(loop)
    thread.join()
    assert seen == [] and handle.cancelled()


@threadsafe_handle
def test_threadsafe_handle_takes_the_lock_threading_makes(loop, monkeypatch):
    made = []
    factory = threading.RLock

    def rlock():
        made.append(factory())
        return made[-1]

    monkeypatch.setattr(threading, "RLock", rlock)
    handle = loop.call_soon_threadsafe(print)
    assert made and handle._lock is made[-1]
    handle.cancel()


@threadsafe_handle
def test_replaced_threadsafe_run_is_called(loop, monkeypatch):
    run = events._ThreadSafeHandle._run
    calls = []

    def recording_run(self):
        calls.append(self)
        return run(self)

    monkeypatch.setattr(events._ThreadSafeHandle, "_run", recording_run)
    seen = []
    handle = loop.call_soon_threadsafe(seen.append, 1)
    run_ready(loop)
    assert seen == [1] and calls == [handle]


def after_runs(factory):
    """What a program sees of handles around their runs: one it keeps, one
    it holds weakly, and one made once many handles have run and been
    dropped (fastsel.aio may fill such an emptied handle again)."""
    loop = factory()
    try:
        kept = loop.call_soon(len, (1, 2))
        watched = weakref.ref(loop.call_soon(len, ()))
        for _ in range(100):
            loop.call_soon(len, ())
        run_ready(loop)
        made = loop.call_soon(print, 1, "two")
        return (slot_values(kept, loop), watched() is None, observe(made, loop),
                type(loop.call_soon(len, ())) is events.Handle)
    finally:
        loop.close()


def test_handles_around_their_runs_as_asyncio():
    assert after_runs(aio.EventLoop) == after_runs(asyncio.SelectorEventLoop)


def test_a_replaced_handle_class_is_made_after_handles_ran(monkeypatch):
    """events.Handle is looked up on each call_soon, after any number of
    them, as asyncio looks it up."""
    class OwnHandle(events.Handle):
        __slots__ = ()

    loop = aio.EventLoop()
    try:
        for _ in range(3):
            loop.call_soon(len, ())
            run_ready(loop)
        monkeypatch.setattr(events, "Handle", OwnHandle)
        assert type(loop.call_soon(len, ())) is OwnHandle
        monkeypatch.undo()
        assert type(loop.call_soon(len, ())) is events.Handle
    finally:
        loop.close()
