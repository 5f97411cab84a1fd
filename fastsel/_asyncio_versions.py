"""How asyncio differs between the CPython versions fastsel.aio mirrors.

fastsel.aio's compiled code (fastsel._aio_c, fastsel._transport_c) repeats
asyncio's hot methods step by step. Where those methods changed between
versions, the change is listed here, once, with the versions that have it;
the compiled code asks `has(name)` at import and follows the running
version. An interpreter outside MIRRORED runs asyncio's own methods: its
asyncio was never read, so nothing about it is guessed.
"""
import sys

# The oldest and newest asyncio whose hot methods were read and mirrored.
MIRRORED = ((3, 9), (3, 15))

# name: (first version that has it, last version that has it or None, what).
CHANGES = {
    "add_callback_asserts_handle": (
        (3, 9), (3, 9),
        "BaseEventLoop._add_callback asserts that it got a Handle"),
    "buffer_is_deque": (
        (3, 12), None,
        "socket transports keep unsent data as a deque of memoryviews "
        "(before: one bytearray that write() extends)"),
    "checks_fd_has_no_transport": (
        (3, 12), None,
        "_make_socket_transport first checks that no transport owns the fd"),
    "transport_init_sets_paused": (
        (3, 11), None,
        "_SelectorTransport.__init__ sets _paused (before: "
        "_SelectorSocketTransport.__init__, after its super().__init__)"),
    "write_ready_is_attribute": (
        (3, 12), None,
        "socket transports set _write_ready in __init__ (_write_sendmsg where "
        "the socket has sendmsg, else _write_send)"),
    "close_drops_read_callback": (
        (3, 12), None,
        "_SelectorSocketTransport.close() first sets _read_ready_cb to None"),
    "close_drops_write_callback": (
        (3, 12), (3, 13),
        "_SelectorSocketTransport.close() also sets _write_ready to None"),
    "connection_lost_drops_callbacks": (
        (3, 14), None,
        "_SelectorSocketTransport._call_connection_lost sets _write_ready and "
        "_read_ready_cb to None, and fails the sendfile waiter, in a finally"),
    "server_tracks_clients": (
        (3, 13), None,
        "Server._attach/_detach take the transport (a set of clients, for "
        "close_clients/abort_clients; before: a count)"),
    "accept_has_ssl_shutdown_timeout": (
        (3, 11), None,
        "_start_serving, _accept_connection and _accept_connection2 take "
        "ssl_shutdown_timeout after ssl_handshake_timeout"),
    "accept_discards_aborted": (
        (3, 14), None,
        "_accept_connection accepts up to backlog + 1 and goes on past a "
        "ConnectionAbortedError (before: backlog, and it stops there)"),
    "sslproto_memory_bio": (
        (3, 11), None,
        "asyncio's TLS is the memory-BIO SSLProtocol that fastsel._sslproto_c "
        "extends (before: the older design, left to asyncio's own code)"),
    "sslproto_timeouts_are_bound_methods": (
        (3, 13), None,
        "SSLProtocol gives call_later its _check_handshake_timeout and "
        "_check_shutdown_timeout as bound methods (before: lambdas calling them)"),
    "timeout_clamped_by_comparisons": (
        (3, 13), None,
        "_run_once clamps its select() timeout with comparisons (before: "
        "min(max(0, t), MAXIMUM_SELECT_TIMEOUT); they differ for a NaN)"),
    "chain_skips_closed_loop": (
        (3, 10), None,
        "futures._chain_future: a source completing in another thread does "
        "not call_soon_threadsafe into a destination loop that is closed"),
    "chain_compares_running_loop": (
        (3, 14), None,
        "futures._chain_future copies the state at once when the destination's "
        "loop is the running one (before: when it is the source's loop)"),
    "handle_error_formats_with_debug": (
        (3, 13), None,
        "Handle._run formats a failing callback with the loop's debug flag"),
    "write_error_names_types": (
        (3, 14), None,
        "write()'s TypeError names bytes, bytearray and memoryview "
        "(before: 'a bytes-like object')"),
    "thread_safe_handle": (
        (3, 14), None,
        "call_soon_threadsafe makes an events._ThreadSafeHandle, whose "
        "cancel() and _run() take a lock"),
    "start_tls_moves_stream_buffer": (
        (3, 14), None,
        "start_tls on the server side hands what a StreamReader already "
        "buffered to the TLS protocol, and drops its waiter on failure"),
    "tls_closing_follows_socket_transport": (
        (3, 14), None,
        "a TLS transport also counts as closing once its socket transport is"),
    "tls_shutdown_timeout_until_lost": (
        (3, 14), None,
        "SSLProtocol._on_shutdown_complete, after a clean shutdown, keeps the "
        "shutdown timeout (arming it if the peer began the shutdown) until "
        "connection_lost (before: it cancels the timeout)"),
    "due_window_at_least_ulp": (
        (3, 15), None,
        "_run_once takes timers due before now + max(clock resolution, "
        "ulp(now)) (before: now + clock resolution)"),
    "transport_counts_buffer": (
        (3, 15), None,
        "socket transports keep _buffer_size up to date in write() "
        "(before: get_write_buffer_size() sums the buffer)"),
    "transport_has_context": (
        (3, 15), None,
        "transports carry a contextvars context: _make_socket_transport takes "
        "context=, and a transport schedules its callbacks and registers its "
        "reader and writer through its own _call_soon/_add_reader/_add_writer"),
    "create_task_takes_context": (
        (3, 11), (3, 13),
        "create_task(coro, *, name=None, context=None) hands context to Task, "
        "and to the task factory only when it is not None (before: no context)"),
    "set_task_name_warns": (
        (3, 11), (3, 12),
        "tasks._set_task_name, which create_task calls for a factory's task, "
        "warns (DeprecationWarning) when the task has no set_name"),
    "create_task_names_by_method": (
        (3, 13), (3, 13),
        "create_task calls set_name(name) on a factory's task, None included "
        "(before: tasks._set_task_name(task, name), which skips None)"),
    "create_task_passes_kwargs": (
        (3, 14), None,
        "create_task(coro, **kwargs) hands kwargs as they are to the task "
        "factory, returning what it returns, or to Task"),
    "fd_lookups_use_get": (
        (3, 13), None,
        "_ensure_fd_no_transport and the loop's _add/_remove_reader/writer look "
        "fds up with .get() (before: [] and get_key() in try/except KeyError); "
        "_ensure_fd_no_transport then also asks the transport's truth value"),
    "readers_take_context": (
        (3, 15), None,
        "the loop's _add_reader and _add_writer take context= for their Handle"),
    "reading_state_asks_is_closing": (
        (3, 11), None,
        "is_reading, pause_reading and resume_reading live on _SelectorTransport: "
        "is_reading() asks is_closing(), pause_reading() and the transport's "
        "_add_reader ask is_reading() (before, on the socket transport: they "
        "read _closing and _paused; _add_reader only _closing)"),
    "create_connection_has_ssl_shutdown_timeout": (
        (3, 11), None,
        "create_connection and _create_connection_transport take "
        "ssl_shutdown_timeout after ssl_handshake_timeout"),
    "create_connection_all_errors": (
        (3, 12), None,
        "create_connection takes all_errors=False; when true, a failure raises "
        "ExceptionGroup('create_connection failed', every address's errors)"),
    "connect_sock_ignores_close_error": (
        (3, 14), None,
        "_connect_sock ignores an OSError from closing the socket of a failed "
        "attempt (before: it replaces the attempt's exception)"),
    "connection_transport_closes_socket": (
        (3, 14), None,
        "_create_connection_transport closes the socket when setblocking, the "
        "protocol factory, create_future or the transport fail (before: left "
        "open)"),
}


def mirrored(version=None):
    """Whether asyncio of `version` (default: the running one) is mirrored."""
    version = tuple(version or sys.version_info[:2])
    return MIRRORED[0] <= version <= MIRRORED[1]


def has(name, version=None):
    """Whether asyncio of `version` (default: the running one) has the change
    `name`; KeyError for a name not in CHANGES."""
    first, last, _ = CHANGES[name]
    version = tuple(version or sys.version_info[:2])
    return first <= version and (last is None or version <= last)
