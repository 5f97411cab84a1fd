"""create_task on fastsel.aio: names, contexts, task factories (eager ones
included), a closed loop and bad arguments give what asyncio's loop gives,
for the running Python's asyncio."""
import asyncio
import contextvars
import warnings
from asyncio import base_events
from unittest import mock

import pytest

import fastsel
from fastsel import _asyncio_versions as versions
from fastsel import aio
from test_aio_loop import python_calls

compiled = pytest.mark.skipif(
    fastsel.IMPLEMENTATION != "c", reason="the compiled implementation is not live")
TAKES_CONTEXT = versions.has("create_task_takes_context") or versions.has(
    "create_task_passes_kwargs")
LOOPS = [asyncio.SelectorEventLoop, aio.EventLoop]

var = contextvars.ContextVar("var", default="unset")


@pytest.fixture
def loops():
    made = [make() for make in LOOPS]
    yield made
    for loop in made:
        loop.close()


def outcome(call, message=str):
    """What call() returned, or the type and message(exception) of what it
    raised."""
    try:
        return ("returned", call())
    except Exception as exc:  # compared across loops
        return ("raised", type(exc), message(exc))


async def reads_var(tag):
    await asyncio.sleep(0)
    return tag, var.get()


def task_state(task):
    return (type(task), task.get_name(), task.done(), task.cancelled())


def plain_scenario(loop):
    """Tasks without a factory: names given or not, in a given context."""
    async def main():
        made = [loop.create_task(reads_var(1)),
                loop.create_task(reads_var(2), name="second"),
                loop.create_task(reads_var(3), name=None),
                loop.create_task(reads_var(4), name=42)]
        if TAKES_CONTEXT:
            context = contextvars.copy_context()
            context.run(var.set, "in context")
            made.append(loop.create_task(reads_var(5), context=context))
            made.append(loop.create_task(reads_var(6), name="six", context=None))
        var.set("outside")
        states = [task_state(t)[::2] for t in made]
        # Unnamed tasks are numbered across the process.
        names = ["Task-N" if n.startswith("Task-") else n
                 for n in (t.get_name() for t in made)]
        results = await asyncio.gather(*made)
        return states, names, results

    return loop.run_until_complete(main())


def test_names_and_contexts_as_asyncio(loops):
    reference, loop = loops
    assert plain_scenario(loop) == plain_scenario(reference)


class Recorder:
    """A task factory recording how it was called."""

    def __init__(self, make):
        self.calls = []
        self.make = make

    def __call__(self, loop, coro, **kwargs):
        self.calls.append((loop is self.loop, sorted(kwargs)))
        return self.make(loop, coro, **kwargs)


class NotATask:
    """What a factory may return instead of a Task: set_name is recorded."""

    def __init__(self, coro):
        coro.close()
        self.names = []

    def set_name(self, name):
        self.names.append(name)


class Nameless:
    """A factory's result without set_name."""

    def __init__(self, coro):
        coro.close()


def factory_scenario(loop, make, **kwargs):
    recorder = Recorder(make)
    recorder.loop = loop

    async def main():
        loop.set_task_factory(recorder)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = outcome(lambda: loop.create_task(reads_var(0), **kwargs))
        finally:
            loop.set_task_factory(None)
        if result[0] == "returned":
            made = result[1]
            if isinstance(made, asyncio.Task):
                result = ("task", task_state(made)[::2], await made)
            else:
                result = (type(made), getattr(made, "names", None))
        return result, recorder.calls, [
            (w.category, str(w.message), w.filename, w.lineno) for w in caught]

    return loop.run_until_complete(main())


def make_task(loop, coro, **kwargs):
    return asyncio.Task(coro, loop=loop, **kwargs)


FACTORY_CASES = [
    ("task", make_task, {}),
    ("task, named", make_task, {"name": "named"}),
    ("not a task", lambda loop, coro, **kw: NotATask(coro), {}),
    ("not a task, named", lambda loop, coro, **kw: NotATask(coro), {"name": "n"}),
    ("nameless, named", lambda loop, coro, **kw: Nameless(coro), {"name": "n"}),
    ("nameless", lambda loop, coro, **kw: Nameless(coro), {}),
]
if TAKES_CONTEXT:
    FACTORY_CASES += [
        ("task, context", make_task, {"context": contextvars.copy_context()}),
        ("task, context None", make_task, {"context": None, "name": "x"}),
    ]


@pytest.mark.parametrize("make, kwargs", [case[1:] for case in FACTORY_CASES],
                         ids=[case[0] for case in FACTORY_CASES])
def test_task_factories_as_asyncio(loops, make, kwargs):
    """The factory gets what asyncio gives it; a result that is not a Task
    is named (or not) as asyncio names it, warnings and errors included."""
    reference, loop = loops
    assert factory_scenario(loop, make, **kwargs) == factory_scenario(
        reference, make, **kwargs)


@pytest.mark.skipif(not hasattr(asyncio, "eager_task_factory"),
                    reason="no eager tasks in this asyncio")
def test_eager_task_factory_as_asyncio(loops):
    def scenario(loop):
        loop.set_task_factory(asyncio.eager_task_factory)
        seen = []

        async def at_once():
            seen.append("ran")
            return "done"

        async def main():
            task = loop.create_task(at_once(), name="eager")
            state = (task.done(), list(seen), task.get_name())
            suspended = loop.create_task(reads_var("later"))
            return state, suspended.done(), await task, await suspended

        return loop.run_until_complete(main())

    reference, loop = loops
    assert scenario(loop) == scenario(reference)


@pytest.mark.skipif(not versions.has("create_task_passes_kwargs"),
                    reason="create_task takes no other keywords here")
def test_keywords_reach_task_as_asyncio(loops):
    def scenario(loop):
        async def main():
            task = loop.create_task(reads_var("x"), eager_start=True, name="e")
            return task_state(task), await task

        return loop.run_until_complete(main())

    reference, loop = loops
    assert scenario(loop) == scenario(reference)


def bad_calls(loop):
    coro = reads_var(0)
    try:
        results = [outcome(lambda: loop.create_task()),
                   outcome(lambda: loop.create_task(coro, "name")),
                   outcome(lambda: loop.create_task(coro, bogus=1)),
                   outcome(lambda: loop.create_task(coro, loop=loop)),
                   outcome(lambda: loop.create_task(42))]
    finally:
        coro.close()
    loop.close()
    coro = reads_var(0)
    try:
        results.append(outcome(lambda: loop.create_task(coro)))
        results.append(outcome(lambda: loop.create_task(coro, name="n")))
    finally:
        coro.close()
    return results


def test_bad_calls_and_closed_loop_as_asyncio(loops):
    reference, loop = loops
    assert bad_calls(loop) == bad_calls(reference)
    assert bad_calls(loop)[-1] == ("raised", RuntimeError, "Event loop is closed")


def test_debug_traceback_ends_at_the_caller(loops):
    for loop in loops:
        loop.set_debug(True)

        async def main():
            task = loop.create_task(reads_var(0))  # the caller's line
            frame = task._source_traceback[-1]
            await task
            return frame

        frame = loop.run_until_complete(main())
        assert frame.name == "main" and "the caller's line" in frame.line


def test_replaced_task_class_is_used(loops, monkeypatch):
    class MyTask(asyncio.Task):
        pass

    monkeypatch.setattr(asyncio.tasks, "Task", MyTask)
    for loop in loops:
        task = loop.create_task(reads_var(0))
        assert type(task) is MyTask
        loop.run_until_complete(task)


def test_check_closed_replaced_on_the_instance_is_called(loops):
    counts = []
    for loop in loops:
        with mock.patch.object(loop, "_check_closed",
                               wraps=loop._check_closed) as check:
            loop.run_until_complete(loop.create_task(reads_var(0)))
        counts.append(check.call_count)
    assert counts[1] == counts[0] >= 1


@compiled
def test_asyncios_python_create_task_is_not_run():
    async def workload():
        loop = asyncio.get_running_loop()
        await asyncio.gather(*[loop.create_task(reads_var(i)) for i in range(5)])
        return True

    counts = []
    for make in LOOPS:
        loop = make()
        try:
            result, calls = python_calls(loop, workload(),
                                         [base_events.BaseEventLoop.create_task])
        finally:
            loop.close()
        assert result
        counts.append(calls)
    assert counts[0][0] >= 5
    assert counts[1] == [0]
