"""asyncio on fastsel: the stdlib's selector event loop over fastsel's selector.

    import fastsel.aio
    fastsel.aio.run(main())          # instead of asyncio.run(main())

The names match uvloop's (EventLoop, new_event_loop, EventLoopPolicy, run).
Streams, futures and tasks are asyncio's own. With the compiled
implementation, the loop iteration (_run_once, _process_events) and the loop
methods every callback and future uses (call_soon, create_future, get_debug)
are compiled (see fastsel._aio_c), and so are the per-request methods of the
socket transport, a subclass of asyncio's (see fastsel._transport_c). Each
does the same steps as asyncio's and hands over to asyncio's own code
whenever it could not do exactly that. The bytes an iteration's callbacks
write to one transport go out with one system call when they are done
(see README, Differences).
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
    from ._transport_c import SocketTransport, WriteCoalescer

    _CHECKS_FD_HAS_NO_TRANSPORT = _asyncio_versions.has("checks_fd_has_no_transport")
    _TRANSPORT_HAS_CONTEXT = _asyncio_versions.has("transport_has_context")

    class EventLoop(_PureEventLoop):
        """asyncio's SelectorEventLoop on fastsel, with a compiled iteration
        and socket transports whose read and write paths are compiled."""

        _run_once = _compiled.run_once
        _process_events = _compiled.process_events
        call_soon = _compiled.call_soon
        create_future = _compiled.create_future
        get_debug = _compiled.get_debug

        def __init__(self, selector=None):
            # The writes its callbacks make, sent together (see _run_once).
            self._write_coalescer = WriteCoalescer()
            super().__init__(selector)

        if _TRANSPORT_HAS_CONTEXT:
            def _make_socket_transport(self, sock, protocol, waiter=None, *,
                                       extra=None, server=None, context=None):
                self._ensure_fd_no_transport(sock)
                transport = SocketTransport(self, sock, protocol, waiter, extra,
                                            server, context=context)
                transport._write_coalescer = self._write_coalescer
                return transport
        else:
            def _make_socket_transport(self, sock, protocol, waiter=None, *,
                                       extra=None, server=None):
                if _CHECKS_FD_HAS_NO_TRANSPORT:
                    self._ensure_fd_no_transport(sock)
                transport = SocketTransport(self, sock, protocol, waiter, extra,
                                            server)
                transport._write_coalescer = self._write_coalescer
                return transport

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
    """Return a new fastsel.aio.EventLoop."""
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
    # asyncio 3.14 deprecates policies and renames the base class (the old
    # name, where it still resolves, warns).
    base = getattr(events, "_BaseDefaultEventLoopPolicy", None)
    if base is None:
        base = events.BaseDefaultEventLoopPolicy

    class EventLoopPolicy(base):
        """An event loop policy whose loops are fastsel.aio.EventLoop.

        Deprecated on Python 3.14+, like asyncio's policies: use run() or
        asyncio.Runner(loop_factory=fastsel.aio.new_event_loop)."""

        _loop_factory = EventLoop

        def __repr__(self):
            return "<fastsel.aio.EventLoopPolicy>"

    EventLoopPolicy.__module__ = __name__
    EventLoopPolicy.__qualname__ = "EventLoopPolicy"
    return EventLoopPolicy


if sys.version_info < (3, 14):
    EventLoopPolicy = _policy_class()
    __all__.append("EventLoopPolicy")
else:
    _deprecated_policy = None

    def __getattr__(name):
        global _deprecated_policy
        if name != "EventLoopPolicy":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        warnings.warn(
            "fastsel.aio.EventLoopPolicy is deprecated, as asyncio's policies "
            "are since Python 3.14; use fastsel.aio.run() or "
            "asyncio.Runner(loop_factory=fastsel.aio.new_event_loop)",
            DeprecationWarning, stacklevel=2)
        if _deprecated_policy is None:
            _deprecated_policy = _policy_class()
        return _deprecated_policy
