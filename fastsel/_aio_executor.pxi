# Included by _aio_c.pyx: run_in_executor and the future chaining behind it
# (asyncio.futures.wrap_future and _chain_future), compiled.
#
# Every run_in_executor (asyncio.to_thread included) wraps the executor's
# concurrent.futures.Future in an asyncio Future of the loop, through three
# closures of _chain_future: the worker thread's done callback, the callback
# it schedules on the loop, and the destination's cancel check. Here they
# are methods of one compiled object and a compiled function, doing
# asyncio's steps; copying the state itself is asyncio's _copy_future_state.

import concurrent.futures as _concurrent_futures

cdef bint _CHAIN_SKIPS_CLOSED_LOOP = has("chain_skips_closed_loop")
cdef bint _CHAIN_COMPARES_RUNNING_LOOP = has("chain_compares_running_loop")
cdef object _ConcurrentFuture = _concurrent_futures.Future
cdef object _AsyncioFuture = futures.Future
cdef object _asyncio_run_in_executor = base_events.BaseEventLoop.run_in_executor
cdef object _asyncio_check_default_executor = base_events.BaseEventLoop._check_default_executor
cdef object _asyncio_create_future = base_events.BaseEventLoop.create_future
cdef object _asyncio_wrap_future = futures.wrap_future
cdef object _asyncio_chain_future = futures._chain_future
cdef object _get_running_loop = events._get_running_loop
cdef TypeCheck _executor_loop_type_ok


def run_in_executor(self, executor, func, *args):
    """BaseEventLoop.run_in_executor (alike in every mirrored version): run
    func(*args) in executor (default: the loop's ThreadPoolExecutor, made on
    first use); returns an asyncio Future of its result.

    asyncio's own runs in debug mode and whenever the loop's class, or the
    loop itself, differs from asyncio's in what this relies on."""
    if (not loop_keeps(&_executor_loop_type_ok, self, _EXECUTOR_HELPERS)
            or _ltrue(self, _loop_slotted(self), LOOP_DEBUG)):
        return _asyncio_run_in_executor(self, executor, func, *args)
    self._check_closed()
    if executor is None:
        executor = self._default_executor
        # Only check when the default executor is being used.
        self._check_default_executor()
        if executor is None:
            executor = _concurrent_futures.ThreadPoolExecutor(
                thread_name_prefix='asyncio')
            self._default_executor = executor
    return _wrap_future(executor.submit(func, *args), self)


cdef class _FutureChain:
    """_chain_future(source, destination) for a concurrent.futures.Future
    source (which has no loop) and an asyncio Future destination."""

    cdef object source
    cdef object destination
    cdef object dest_loop

    def _call_check_cancel(self, destination):
        """Cancelling the destination cancels the source."""
        if destination.cancelled():
            self.source.cancel()

    def _call_set_state(self, source):
        """The source is done (in the thread that completed it): copy its
        state in the destination's loop."""
        destination = self.destination
        dest_loop = self.dest_loop
        if (destination.cancelled() and
                dest_loop is not None and dest_loop.is_closed()):
            return
        if dest_loop is None or dest_loop is (
                _get_running_loop() if _CHAIN_COMPARES_RUNNING_LOOP else None):
            _set_state(destination, source)
        else:
            if _CHAIN_SKIPS_CLOSED_LOOP and dest_loop.is_closed():
                return
            dest_loop.call_soon_threadsafe(_set_state, destination, source)


cdef object _wrap_future(object future, object loop):
    """futures.wrap_future(future, loop=loop); asyncio's own for anything
    but a concurrent.futures.Future chained to this loop's asyncio Future,
    or when asyncio's functions were replaced."""
    if (type(future) is not _ConcurrentFuture
            or futures.wrap_future is not _asyncio_wrap_future
            or futures._chain_future is not _asyncio_chain_future):
        return futures.wrap_future(future, loop=loop)
    cdef _FutureChain chain
    new_future = loop.create_future()
    if type(new_future) is not _AsyncioFuture:
        futures._chain_future(future, new_future)
        return new_future
    chain = _FutureChain.__new__(_FutureChain)
    chain.source = future
    chain.destination = new_future
    chain.dest_loop = new_future.get_loop()
    new_future.add_done_callback(chain._call_check_cancel)
    future.add_done_callback(chain._call_set_state)
    return new_future


def _set_state(future, other):
    """Copy the done concurrent future `other` into the asyncio Future
    `future` (which is never a concurrent one here)."""
    futures._copy_future_state(other, future)


# Callbacks are shown by name (a Handle's or a Future's repr): asyncio's.
_set_state.__qualname__ = "_chain_future.<locals>._set_state"


# What run_in_executor relies on, with the versions it accepts.
cdef tuple _EXECUTOR_HELPERS = (
    ("_check_closed", (_asyncio_check_closed,)),
    ("_check_default_executor", (_asyncio_check_default_executor,)),
    ("create_future", (_asyncio_create_future, create_future)),
) + _NOTES_SHADOWING
