"""What the compiled Loop and its pure twin share: checks, constants and the
default exception handler, which are not on any hot path."""
import logging

logger = logging.getLogger("fastsel")

# As asyncio: with at least this many timers, and more than this fraction of
# them cancelled, the heap is rebuilt without the cancelled ones.
MIN_TIMERS_TO_COMPACT = 100
CANCELLED_FRACTION_TO_COMPACT = 0.5
# As asyncio: never ask the kernel to wait longer than a day.
MAX_WAIT_SECONDS = 24 * 3600

# A child process that ran its parent's loop would read the wake-ups meant
# for the parent from the shared self-pipe (and, with epoll, change the
# parent's registrations), so run_forever() refuses.
FORKED_LOOP_MESSAGE = (
    "this Loop was created in another process (before fork()): its self-pipe "
    "and selector are shared with that process; close it and create a new "
    "Loop in the child")


def check_callback(callback, method):
    if not callable(callback):
        raise TypeError(f"a callable object was expected by {method}(), got {callback!r}")


def check_handler(handler):
    if handler is not None and not callable(handler):
        raise TypeError(f"A callable object or None is expected, got {handler!r}")


def default_exception_handler(loop, context):
    """Log context['message'] and the exception's traceback, then carry on."""
    message = context.get("message") or "Unhandled exception in event loop"
    exception = context.get("exception")
    exc_info = (type(exception), exception, exception.__traceback__) if exception else False
    details = [f"{name}: {value!r}" for name, value in sorted(context.items())
               if name not in ("message", "exception")]
    if details:
        message = "\n".join([message, *details])
    logger.error(message, exc_info=exc_info)


def call_exception_handler(loop, handler, context):
    """Report context through handler (or the default), never raising except
    for KeyboardInterrupt and SystemExit: one failure must not stop a server."""
    if handler is None:
        try:
            default_exception_handler(loop, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            logger.error("Exception in default exception handler", exc_info=True)
        return
    try:
        handler(loop, context)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        try:
            default_exception_handler(loop, {
                "message": "Unhandled error in exception handler",
                "exception": exc,
                "context": context,
            })
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            logger.error("Exception in default exception handler while handling "
                         "an unexpected error in custom exception handler", exc_info=True)


def watch(selector, which, fileobj, handle):
    """Make handle fileobj's reader (which=1) or writer (which=2).

    The key's data is the pair (reader, writer), as asyncio keeps it.
    Returns the handle this one replaces, or None."""
    try:
        key = selector.get_key(fileobj)
    except KeyError:
        selector.register(fileobj, which, (handle, None) if which == 1 else (None, handle))
        return None
    reader, writer = key.data
    if which == 1:
        selector.modify(fileobj, key.events | which, (handle, writer))
        return reader
    selector.modify(fileobj, key.events | which, (reader, handle))
    return writer


def unwatch(selector, which, fileobj):
    """Stop watching fileobj for reading (which=1) or writing (which=2),
    unregistering it when it waits for nothing else; return the handle
    removed, or None."""
    try:
        key = selector.get_key(fileobj)
    except KeyError:
        return None
    reader, writer = key.data
    if which == 1:
        old, reader = reader, None
    else:
        old, writer = writer, None
    events = key.events & ~which
    if events:
        selector.modify(fileobj, events, (reader, writer))
    else:
        selector.unregister(fileobj)
    return old


def callback_repr(callback, args):
    name = getattr(callback, "__qualname__", None) or repr(callback)
    return f"{name}({', '.join(map(repr, args or ()))})"
