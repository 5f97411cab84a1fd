# Included by _transport_c.pyx: the socket transport's is_reading,
# pause_reading, resume_reading and _add_reader, compiled.
#
# Up to 3.10 the first three are methods of _SelectorSocketTransport that
# read _closing and _paused; from 3.11 they are _SelectorTransport's and ask
# is_closing() and is_reading(). Every method they call (is_closing,
# is_reading, the loop's _add_reader, _remove_reader and get_debug, the
# transport's _add_reader) is called as asyncio calls it (the loop's in C
# where they are fastsel's or asyncio's own, see set_loop_hooks), so a method
# replaced on a subclass or an instance is honoured. Where asyncio reads
# _closing itself, the writes held back are sent first: one that fails would
# have closed the transport in asyncio's write() already.

cdef bint _ASKS_IS_CLOSING = has("reading_state_asks_is_closing")


cdef inline bint _closing(object transport) except -1:
    """transport._closing, as asyncio's write() would have left it."""
    send_held_writes(transport)
    return transport._closing


cdef bint _is_reading(object transport) except -1:
    """is_reading(): neither paused nor closing."""
    if _ASKS_IS_CLOSING:
        return not transport.is_closing() and not transport._paused
    return not transport._paused and not _closing(transport)


cdef int _pause_reading(object transport) except -1:
    """pause_reading(): stop reading until resume_reading()."""
    if _ASKS_IS_CLOSING:
        if not transport.is_reading():
            return 0
    elif _closing(transport) or transport._paused:
        return 0
    transport._paused = True
    _loop_remove_io(transport._loop, transport._sock_fd, True)
    if _loop_debug(transport._loop):
        selector_events.logger.debug("%r pauses reading", transport)
    return 0


cdef int _resume_reading(object transport) except -1:
    """resume_reading(): read again after pause_reading()."""
    if _closing(transport) or not transport._paused:
        return 0
    transport._paused = False
    transport._add_reader(transport._sock_fd, transport._read_ready)
    if _loop_debug(transport._loop):
        selector_events.logger.debug("%r resumes reading", transport)
    return 0


cdef int _add_transport_reader(object transport, object fd, object callback,
                               tuple args) except -1:
    """_SelectorTransport._add_reader: the loop's, unless the transport
    stopped reading (3.15: in the transport's context)."""
    if _ASKS_IS_CLOSING:
        if not transport.is_reading():
            return 0
    elif _closing(transport):
        return 0
    _loop_add_io(transport._loop, fd, callback, args,
                 transport._context if _HAS_CONTEXT else None, True)
    return 0
