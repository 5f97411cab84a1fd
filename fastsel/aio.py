"""asyncio on fastsel: the stdlib's selector event loop over fastsel's selector.

    import fastsel.aio
    fastsel.aio.run(main())                      # instead of asyncio.run(main())
    asyncio.run(main(), loop_factory=fastsel.aio.new_event_loop)       # 3.12+
    with asyncio.Runner(loop_factory=fastsel.aio.new_event_loop) as r: # 3.11+

    uvicorn --loop fastsel.aio:new_event_loop app:app                  # 0.36+
    asyncio.run(hypercorn.asyncio.serve(app, config),
                loop_factory=fastsel.aio.new_event_loop)
    gunicorn app:make_app --worker-class fastsel.aio.GunicornWebWorker # aiohttp

The names match uvloop's (EventLoop, new_event_loop, EventLoopPolicy, run).
EventLoopPolicy, asyncio's default policy with this loop, is deprecated from
Python 3.14 on, as asyncio's policies are.
Streams, futures and tasks are asyncio's own. With the compiled
implementation, the loop iteration (_run_once, _process_events), the loop
methods every callback, future and task uses (call_soon, create_future,
get_debug, create_task), the registration of readers and writers
(add_reader, remove_reader, add_writer, remove_writer and their underscored
versions) and the timer methods (time, call_later, call_at) are compiled
(see fastsel._aio_c), as are call_soon_threadsafe (which wakes the loop at most
once per wait), the self-pipe's reader and run_in_executor, the server's
accept path (fastsel._accept_c) and the socket transport's construction,
close and per-request methods, in a subclass of asyncio's (see
fastsel._transport_c). Each
does the same steps as asyncio's and hands over to asyncio's own code
whenever it could not do exactly that. The bytes an iteration's callbacks
write to one transport go out with one system call when they are done,
and the loop state those methods read lives in EventLoop's __slots__ (see
README, Differences).
"""
import asyncio
import logging
import sys
import warnings
from asyncio import events

from . import DefaultSelector, IMPLEMENTATION, _asyncio_versions

__all__ = ["EventLoop", "new_event_loop", "run"]

_compiled = None
if IMPLEMENTATION == "c":
    from . import _aio_c as _compiled


class _PureEventLoop(asyncio.SelectorEventLoop):
    """asyncio's SelectorEventLoop, on fastsel's DefaultSelector by default."""

    def __init__(self, selector=None):
        if selector is None:
            selector = DefaultSelector()
        super().__init__(selector)


if _compiled is not None and _compiled.SUPPORTED:
    from ._accept_c import accept_connection
    from ._tls import COMPILED_TLS, TLSMixin
    from ._transport_c import SocketTransport, WriteCoalescer

    # TLS with fastsel's compiled SSLProtocol where it exists (see _tls).
    _TLS_BASES = (TLSMixin,) if COMPILED_TLS else ()

    class EventLoop(*_TLS_BASES, _PureEventLoop):
        """asyncio's SelectorEventLoop on fastsel, with a compiled iteration
        and socket transports whose read and write paths are compiled, TLS
        included."""

        _socket_transport_class = SocketTransport
        # The state the compiled methods read on every iteration and call,
        # in slots that they read at their offsets (see
        # fastsel/includes/loop_slots.pxi); a name that asyncio's classes
        # define stays theirs.
        __slots__ = tuple(name for name in _compiled.LOOP_SLOT_NAMES
                          if not hasattr(_PureEventLoop, name))

        def __init__(self, selector=None):
            # Whether a call_soon_threadsafe() wrote to the self-pipe since
            # the loop last went idle (see fastsel/_aio_threadsafe.pxi).
            self._wakeup_pending = False
            # The writes its callbacks make, sent together (see _run_once).
            self._write_coalescer = WriteCoalescer()
            # Whether run_forever below is running _run_once's iterations.
            self._run_forever_state = 0
            super().__init__(selector)

        def run_forever(self):
            # asyncio's (or a base class's), its loop's iterations run by
            # _run_once in turns of several (see fastsel/_aio_c.pyx).
            return _compiled.run_forever(self, super().run_forever)

        _run_once = _compiled.run_once
        _process_events = _compiled.process_events
        call_soon = _compiled.call_soon
        call_soon_threadsafe = _compiled.call_soon_threadsafe
        _read_from_self = _compiled.read_from_self
        run_in_executor = _compiled.run_in_executor
        create_future = _compiled.create_future
        get_debug = _compiled.get_debug
        _accept_connection = accept_connection
        _make_socket_transport = _compiled.make_socket_transport
        time = _compiled.time
        call_later = _compiled.call_later
        call_at = _compiled.call_at
        _timer_handle_cancelled = _compiled.timer_handle_cancelled
        create_task = _compiled.create_task
        add_reader = _compiled.add_reader
        remove_reader = _compiled.remove_reader
        add_writer = _compiled.add_writer
        remove_writer = _compiled.remove_writer
        _add_reader = _compiled.add_reader_handle
        _remove_reader = _compiled.remove_reader_handle
        _add_writer = _compiled.add_writer_handle
        _remove_writer = _compiled.remove_writer_handle
        # The client's connection path (see fastsel/_aio_connect.pxi).
        create_connection = _compiled.create_connection
        sock_connect = _compiled.sock_connect
        _sock_connect = _compiled.sock_connect_step
        _sock_connect_cb = _compiled.sock_connect_cb
        _sock_write_done = _compiled.sock_write_done
        # Note methods replaced on the instance, which asyncio would call.
        __setattr__ = _compiled.loop_setattr
        __delattr__ = _compiled.loop_delattr


    _compiled.use_loop_slots(EventLoop)

else:
    if _compiled is not None:
        logging.getLogger("fastsel").debug(
            "fastsel.aio: asyncio of Python %d.%d is not one fastsel mirrors "
            "(%d.%d to %d.%d); its loops run asyncio's own Python methods",
            *sys.version_info[:2], *_asyncio_versions.MIRRORED[0],
            *_asyncio_versions.MIRRORED[1])

    class EventLoop(_PureEventLoop):
        """asyncio's SelectorEventLoop on fastsel's DefaultSelector."""


def new_event_loop():
    """Return a new fastsel.aio.EventLoop: the loop_factory to give
    asyncio.run(), asyncio.Runner or uvicorn --loop."""
    return EventLoop()


def run(main, *, debug=None):
    """Run coroutine main on a new EventLoop and return its result, exactly
    as asyncio.run() does (cancels leftover tasks, shuts down async
    generators and the default executor, closes the loop)."""
    if sys.version_info >= (3, 12):
        return asyncio.run(main, debug=debug, loop_factory=new_event_loop)
    if sys.version_info >= (3, 11):
        # asyncio.run() of 3.11, which has no loop_factory argument yet.
        if events._get_running_loop() is not None:
            raise RuntimeError(
                "asyncio.run() cannot be called from a running event loop")
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    return _run_before_runner(main, debug)


def _run_before_runner(main, debug):
    # asyncio.run() of 3.9 and 3.10, with the loop made by new_event_loop().
    from asyncio import coroutines, runners

    if events._get_running_loop() is not None:
        raise RuntimeError(
            "asyncio.run() cannot be called from a running event loop")
    if not coroutines.iscoroutine(main):
        raise ValueError("a coroutine was expected, got {!r}".format(main))
    loop = new_event_loop()
    try:
        events.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            runners._cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            events.set_event_loop(None)
            loop.close()


def _policy_class():
    # asyncio's default policy for this platform (on Unix the one with child
    # watchers, which asyncio's subprocesses need up to 3.13), making
    # EventLoop; on Windows, the selector policy.
    if sys.platform == "win32":
        # 3.14 renamed the base class; the old name, where it resolves, warns.
        base = getattr(events, "_BaseDefaultEventLoopPolicy", None)
        if base is None:
            base = events.BaseDefaultEventLoopPolicy
    else:
        from asyncio import unix_events

        base = unix_events._UnixDefaultEventLoopPolicy

    class EventLoopPolicy(base):
        """asyncio's default event loop policy, with fastsel.aio.EventLoop
        as its loop.

        Deprecated on Python 3.14+, like asyncio's policies: use run(),
        asyncio.run(main(), loop_factory=fastsel.aio.new_event_loop) or
        asyncio.Runner(loop_factory=fastsel.aio.new_event_loop)."""

        _loop_factory = EventLoop

        def __repr__(self):
            return "<fastsel.aio.EventLoopPolicy>"

    EventLoopPolicy.__module__ = __name__
    EventLoopPolicy.__qualname__ = "EventLoopPolicy"
    return EventLoopPolicy


# Python 3.14 deprecates asyncio's policies: reading asyncio.DefaultEventLoopPolicy
# warns, so reading fastsel.aio.EventLoopPolicy warns the same way.
_POLICIES_DEPRECATED = sys.version_info >= (3, 14)
_policy = None

if not _POLICIES_DEPRECATED:
    EventLoopPolicy = _policy_class()
    __all__.append("EventLoopPolicy")


def __getattr__(name):
    global _policy
    if name == "EventLoopPolicy" and _POLICIES_DEPRECATED:
        # The message and category of asyncio's (warnings._deprecated), whose
        # stacklevel also points at the line that read the name.
        warnings.warn(
            "'fastsel.aio.EventLoopPolicy' is deprecated and slated for removal "
            "in Python 3.16, as asyncio's policies are; use fastsel.aio.run() or "
            "asyncio.run(main(), loop_factory=fastsel.aio.new_event_loop)",
            DeprecationWarning, stacklevel=2)
        if _policy is None:
            _policy = _policy_class()
        return _policy
    if name == "GunicornWebWorker":
        # Imported on use: it needs aiohttp and gunicorn.
        from ._gunicorn import GunicornWebWorker

        return GunicornWebWorker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
