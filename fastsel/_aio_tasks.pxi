# Included by _aio_c.pyx: BaseEventLoop.create_task, compiled.
#
# Framework servers run each request in a task of its own (uvicorn's
# request-response cycle, aiohttp's handler), so create_task runs once per
# request. Here it takes the running version's steps: the closed check, then
# either the loop's task factory or asyncio's Task, with the name, context
# and (3.14+) other keywords passed as that version passes them.
#
# asyncio's own runs in debug mode (its Task records a traceback, from
# which asyncio's create_task drops its own frame: here there is none),
# when asyncio.tasks.Task is not the class it was at import, and when the
# loop's class or the loop itself differs from asyncio's in what
# create_task calls. Arguments that do not fit the version's signature go
# to asyncio's too, which raises its own TypeError.

import warnings as _warnings
from asyncio import tasks as _tasks

cdef bint _TASK_TAKES_CONTEXT = has("create_task_takes_context")
cdef bint _SET_TASK_NAME_WARNS = has("set_task_name_warns")
cdef bint _TASK_NAMED_BY_METHOD = has("create_task_names_by_method")
cdef bint _TASK_PASSES_KWARGS = has("create_task_passes_kwargs")
cdef object _asyncio_create_task = base_events.BaseEventLoop.create_task
cdef object _Task = _tasks.Task
cdef object _asyncio_set_task_name = getattr(_tasks, "_set_task_name", None)
cdef TypeCheck _task_loop_type_ok
cdef ModuleEntry _tasks_task_seen


cdef bint _plain_task_loop(object loop) except -1:
    """create_task may take asyncio's steps itself: not in debug mode, on
    asyncio's Task, with asyncio's helpers on the loop."""
    return (SUPPORTED and module_attr(_tasks, "Task", &_tasks_task_seen) is _Task
            and loop_keeps(&_task_loop_type_ok, loop, _TASK_HELPERS)
            and not _ltrue(loop, _loop_slotted(loop), LOOP_DEBUG))


cdef int _set_task_name(object task, object name) except -1:
    """tasks._set_task_name(task, name) (3.9 to 3.12), looked up when
    called, as create_task looks it up. A warning it makes points at the
    caller of create_task, as asyncio's stacklevel does."""
    set_task_name = _tasks._set_task_name
    if set_task_name is not _asyncio_set_task_name:
        set_task_name(task, name)
        return 0
    if name is None:
        return 0
    try:
        set_name = task.set_name
    except AttributeError:
        if _SET_TASK_NAME_WARNS:
            _warnings.warn("Task.set_name() was added in Python 3.8, "
                           "the method support will be mandatory for third-party "
                           "task implementations since 3.13.",
                           DeprecationWarning, stacklevel=1)
    else:
        set_name(name)
    return 0


cdef object _new_task(object loop, object coro, object name, object context):
    """create_task's steps before 3.14 once the loop is known open."""
    factory = _lget(loop, _loop_slotted(loop), LOOP_TASK_FACTORY)
    if factory is None:
        # The Task records no traceback outside debug mode: nothing to trim.
        if name is None and context is None:
            return _Task(coro, loop=loop)
        if _TASK_TAKES_CONTEXT:
            return _Task(coro, loop=loop, name=name, context=context)
        return _Task(coro, loop=loop, name=name)
    if context is None:
        task = factory(loop, coro)
    else:
        task = factory(loop, coro, context=context)
    if _TASK_NAMED_BY_METHOD:
        task.set_name(name)
    else:
        _set_task_name(task, name)
    return task


def create_task(self, *args, **kwargs):
    """BaseEventLoop.create_task: schedule coroutine args[0] as a task;
    returns it (or what the loop's task factory returns)."""
    if len(args) != 1 or not _plain_task_loop(self):
        return _asyncio_create_task(self, *args, **kwargs)
    cdef bint slotted = _loop_slotted(self)
    coro = (<tuple>args)[0]
    if _TASK_PASSES_KWARGS:
        if 'loop' in kwargs:  # Task's own TypeError, from asyncio's call
            return _asyncio_create_task(self, *args, **kwargs)
        if _ltrue(self, slotted, LOOP_CLOSED):
            raise RuntimeError('Event loop is closed')
        factory = _lget(self, slotted, LOOP_TASK_FACTORY)
        if factory is not None:
            return factory(self, coro, **kwargs)
        if not kwargs:
            return _Task(coro, loop=self)
        return _Task(coro, loop=self, **kwargs)
    name = context = None
    if kwargs:
        for key in kwargs:
            if key != 'name' and not (_TASK_TAKES_CONTEXT and key == 'context'):
                # A keyword this version does not take: asyncio's TypeError.
                return _asyncio_create_task(self, *args, **kwargs)
        name = kwargs.get('name')
        if _TASK_TAKES_CONTEXT:
            context = kwargs.get('context')
    if _ltrue(self, slotted, LOOP_CLOSED):
        raise RuntimeError('Event loop is closed')
    return _new_task(self, coro, name, context)


# What create_task relies on, with the versions it accepts (the Task asks
# the loop's get_debug()).
cdef tuple _TASK_HELPERS = (
    ("_check_closed", (_asyncio_check_closed,)),
    ("get_debug", (_asyncio_get_debug, get_debug)),
) + _NOTES_SHADOWING
