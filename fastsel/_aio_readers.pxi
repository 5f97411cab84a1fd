# Included by _aio_c.pyx: BaseSelectorEventLoop's add_reader,
# remove_reader, add_writer, remove_writer and the _add_reader,
# _remove_reader, _add_writer, _remove_writer behind them, compiled.
#
# Transports call the underscored ones whenever they start or stop reading
# (a connection made, pause_reading/resume_reading, close) and when a write
# has to wait for the socket. Each takes the running version's steps in
# asyncio's order, calling the selector's methods as asyncio calls them; the
# reader or writer is asyncio's own Handle, made by _new_handle.
#
# asyncio's own methods run in debug mode (its Handle records where it was
# made), when asyncio's Handle was replaced, and when the loop's class or
# the loop itself differs from asyncio's in what these call.

import selectors as _selectors

cdef bint _LOOKUPS_USE_GET = has("fd_lookups_use_get")
cdef bint _READERS_TAKE_CONTEXT = has("readers_take_context")
cdef object _SelectorLoop = __import__("asyncio").selector_events.BaseSelectorEventLoop
cdef object _asyncio_ensure_fd_no_transport = _SelectorLoop._ensure_fd_no_transport
cdef object _asyncio_add_reader = _SelectorLoop._add_reader
cdef object _asyncio_remove_reader = _SelectorLoop._remove_reader
cdef object _asyncio_add_writer = _SelectorLoop._add_writer
cdef object _asyncio_remove_writer = _SelectorLoop._remove_writer
cdef object _asyncio_public_add_reader = _SelectorLoop.add_reader
cdef object _asyncio_public_remove_reader = _SelectorLoop.remove_reader
cdef object _asyncio_public_add_writer = _SelectorLoop.add_writer
cdef object _asyncio_public_remove_writer = _SelectorLoop.remove_writer
cdef object _asyncio_is_closed = base_events.BaseEventLoop.is_closed
cdef int _SELECTOR_READ = _selectors.EVENT_READ
cdef int _SELECTOR_WRITE = _selectors.EVENT_WRITE
cdef TypeCheck _io_loop_type_ok


cdef bint _plain_io_loop(object loop) except -1:
    """The loop's class and the loop itself have asyncio's (or these)
    methods under the names these call, it is not in debug mode and
    asyncio's Handle is asyncio's: the steps below are then asyncio's."""
    return (SUPPORTED and loop_keeps(&_io_loop_type_ok, loop, _IO_HELPERS)
            and not _ltrue(loop, _loop_slotted(loop), LOOP_DEBUG) and _events_has_handle()
            and _plain_handle_class(_Handle))


cdef int _ensure_fd_no_transport(object loop, object fd) except -1:
    """BaseSelectorEventLoop._ensure_fd_no_transport: RuntimeError when a
    transport that is not closing owns the fd."""
    fileno = fd
    if not isinstance(fileno, int):
        try:
            fileno = int(fileno.fileno())
        except (AttributeError, TypeError, ValueError):
            # As selectors resolves file objects.
            raise ValueError(f"Invalid file object: {fd!r}") from None
    transports = _lget(loop, _loop_slotted(loop), LOOP_TRANSPORTS)
    if _LOOKUPS_USE_GET:
        if plain_weak_values(transports):
            transport = weak_value_or_none(transports, fileno)
        else:
            transport = transports.get(fileno)
        if transport and not transport.is_closing():
            raise RuntimeError(
                f'File descriptor {fd!r} is used by transport '
                f'{transport!r}')
        return 0
    if plain_weak_values(transports):
        transport = weak_value_or_none(transports, fileno)
        if transport is None:
            return 0
    else:
        try:
            transport = transports[fileno]
        except KeyError:
            return 0
    if not transport.is_closing():
        raise RuntimeError(
            f'File descriptor {fd!r} is used by transport '
            f'{transport!r}')
    return 0


cdef TypeCheck _lookup_selector_type_ok, _update_selector_type_ok
cdef tuple _SELECTOR_LOOKUPS = (("get_key", (Selector.get_key,)),
                                ("get_map", (Selector.get_map,)))
cdef tuple _SELECTOR_UPDATES = (("register", (Selector.register,)),
                                ("unregister", (Selector.unregister,)),
                                ("modify", (Selector.modify,)))


cdef bint _compiled_selector_keeps(TypeCheck *check, object selector,
                                   tuple methods) except -1:
    """selector is a compiled fastsel selector whose class and instance
    leave it the compiled `methods`."""
    cls = type(selector)
    if not type_check_remembers(check, cls):
        if not isinstance(selector, Selector):
            return False
        for name, allowed in methods:
            if getattr(cls, name) not in allowed:
                return False
        type_check_remember(check, cls)
    return instance_keeps(selector, methods)


cdef bint _plain_lookups(object selector) except -1:
    """An open compiled fastsel selector whose get_key and get_map are the
    compiled ones: asking it for an fd's key can skip both the method call
    and the KeyError of a missing fd."""
    return (_compiled_selector_keeps(&_lookup_selector_type_ok, selector, _SELECTOR_LOOKUPS)
            and (<Selector>selector)._mapping is not None)


cdef bint _plain_updates(object selector) except -1:
    """A compiled fastsel selector whose register, unregister and modify are
    the compiled ones: they are called without the method call."""
    return _compiled_selector_keeps(&_update_selector_type_ok, selector, _SELECTOR_UPDATES)


cdef object _registered_key(object selector, object fd):
    """The selector's key for fd, None when it has none."""
    if PyLong_CheckExact(fd) and _plain_lookups(selector):
        return (<Selector>selector).registered_key(fd)
    if _LOOKUPS_USE_GET:
        return selector.get_map().get(fd)
    try:
        return selector.get_key(fd)
    except KeyError:
        return None


cdef inline object _register(object selector, bint compiled, object fd,
                             object events, object data):
    """selector.register(fd, events, data)."""
    if compiled:
        return (<Selector>selector).c_register(fd, events, data)
    return selector.register(fd, events, data)


cdef inline object _modify(object selector, bint compiled, object fd,
                           object events, object data):
    """selector.modify(fd, events, data)."""
    if compiled:
        return (<Selector>selector).c_modify(fd, events, data)
    return selector.modify(fd, events, data)


cdef object _add_io(object loop, object fd, object callback, tuple args,
                    object context, bint read):
    """_add_reader (read) or _add_writer: a Handle for callback(*args)
    registered for fd, replacing (and cancelling) the one it had."""
    cdef bint slotted = _loop_slotted(loop)
    if _ltrue(loop, slotted, LOOP_CLOSED):
        raise RuntimeError('Event loop is closed')
    handle = _new_handle(loop, callback, args, context)
    selector = _lget(loop, slotted, LOOP_SELECTOR)
    key = _registered_key(selector, fd)
    cdef bint compiled = _plain_updates(selector)
    if key is None:
        if read:
            _register(selector, compiled, fd, _SELECTOR_READ, (handle, None))
        else:
            _register(selector, compiled, fd, _SELECTOR_WRITE, (None, handle))
        return handle
    mask, (reader, writer) = key.events, key.data
    if read:
        _modify(selector, compiled, fd, mask | _SELECTOR_READ, (handle, writer))
        if reader is not None:
            _cancel_handle(reader)
    else:
        _modify(selector, compiled, fd, mask | _SELECTOR_WRITE, (reader, handle))
        if writer is not None:
            _cancel_handle(writer)
    return handle


cdef object _remove_io(object loop, object fd, bint read):
    """_remove_reader (read) or _remove_writer: whether fd had one, which
    is cancelled; the fd stays registered for the other direction."""
    cdef bint slotted = _loop_slotted(loop)
    if _ltrue(loop, slotted, LOOP_CLOSED):
        return False
    selector = _lget(loop, slotted, LOOP_SELECTOR)
    key = _registered_key(selector, fd)
    if key is None:
        return False
    cdef bint compiled = _plain_updates(selector)
    mask, (reader, writer) = key.events, key.data
    mask &= ~(_SELECTOR_READ if read else _SELECTOR_WRITE)
    if not mask:
        if compiled:
            (<Selector>selector).c_unregister(fd)
        else:
            selector.unregister(fd)
    elif read:
        _modify(selector, compiled, fd, mask, (None, writer))
    else:
        _modify(selector, compiled, fd, mask, (reader, None))
    handle = reader if read else writer
    if handle is not None:
        _cancel_handle(handle)
        return True
    return False


if _READERS_TAKE_CONTEXT:
    def add_reader_handle(self, fd, callback, *args, context=None):
        """BaseSelectorEventLoop._add_reader: returns the reader's Handle."""
        if not _plain_io_loop(self):
            return _asyncio_add_reader(self, fd, callback, *args, context=context)
        return _add_io(self, fd, callback, args, context, True)

    def add_writer_handle(self, fd, callback, *args, context=None):
        """BaseSelectorEventLoop._add_writer: returns the writer's Handle."""
        if not _plain_io_loop(self):
            return _asyncio_add_writer(self, fd, callback, *args, context=context)
        return _add_io(self, fd, callback, args, context, False)
else:
    def add_reader_handle(self, fd, callback, *args):
        """BaseSelectorEventLoop._add_reader: returns the reader's Handle."""
        if not _plain_io_loop(self):
            return _asyncio_add_reader(self, fd, callback, *args)
        return _add_io(self, fd, callback, args, None, True)

    def add_writer_handle(self, fd, callback, *args):
        """BaseSelectorEventLoop._add_writer: returns the writer's Handle."""
        if not _plain_io_loop(self):
            return _asyncio_add_writer(self, fd, callback, *args)
        return _add_io(self, fd, callback, args, None, False)


def remove_reader_handle(self, fd):
    """BaseSelectorEventLoop._remove_reader: whether fd had a reader."""
    if not _plain_io_loop(self):
        return _asyncio_remove_reader(self, fd)
    return _remove_io(self, fd, True)


def remove_writer_handle(self, fd):
    """BaseSelectorEventLoop._remove_writer: whether fd had a writer."""
    if not _plain_io_loop(self):
        return _asyncio_remove_writer(self, fd)
    return _remove_io(self, fd, False)


def add_reader(self, fd, callback, *args):
    """BaseSelectorEventLoop.add_reader: call callback(*args) whenever fd is
    readable (not for an fd a transport uses)."""
    if not _plain_io_loop(self):
        return _asyncio_public_add_reader(self, fd, callback, *args)
    _ensure_fd_no_transport(self, fd)
    _add_io(self, fd, callback, args, None, True)


cdef object _remove_public(object loop, object fd, bint read):
    """remove_reader (read) or remove_writer on a loop that passed
    _plain_io_loop: not for an fd a transport uses."""
    _ensure_fd_no_transport(loop, fd)
    return _remove_io(loop, fd, read)


def remove_reader(self, fd):
    """BaseSelectorEventLoop.remove_reader: whether fd had a reader."""
    if not _plain_io_loop(self):
        return _asyncio_public_remove_reader(self, fd)
    return _remove_public(self, fd, True)


def add_writer(self, fd, callback, *args):
    """BaseSelectorEventLoop.add_writer: call callback(*args) whenever fd is
    writable (not for an fd a transport uses)."""
    if not _plain_io_loop(self):
        return _asyncio_public_add_writer(self, fd, callback, *args)
    _ensure_fd_no_transport(self, fd)
    _add_io(self, fd, callback, args, None, False)


def remove_writer(self, fd):
    """BaseSelectorEventLoop.remove_writer: whether fd had a writer."""
    if not _plain_io_loop(self):
        return _asyncio_public_remove_writer(self, fd)
    return _remove_public(self, fd, False)


cdef tuple _REMOVE_WRITER = (("remove_writer", (remove_writer,)),) + _NOTES_SHADOWING


# What these rely on, with the versions they accept: the methods they call
# on the loop, and what asyncio's Handle asks of it.
cdef tuple _IO_HELPERS = (
    ("_ensure_fd_no_transport", (_asyncio_ensure_fd_no_transport,)),
    ("_add_reader", (_asyncio_add_reader, add_reader_handle)),
    ("_remove_reader", (_asyncio_remove_reader, remove_reader_handle)),
    ("_add_writer", (_asyncio_add_writer, add_writer_handle)),
    ("_remove_writer", (_asyncio_remove_writer, remove_writer_handle)),
    ("_check_closed", (_asyncio_check_closed,)),
    ("is_closed", (_asyncio_is_closed,)),
    ("get_debug", (_asyncio_get_debug, get_debug)),
) + _NOTES_SHADOWING
