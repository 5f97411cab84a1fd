# Included by _sslproto_c.pyx: the steps of asyncio's SSLProtocol that run
# once per connection (__init__, the handshake, the shutdown,
# connection_lost) and its application transport's close, compiled.
#
# Each takes the steps of asyncio's method in the same order. The methods
# are alike in every version from 3.11 on, except where _asyncio_versions
# lists a difference: the timeout callbacks given to call_later, and what
# _on_shutdown_complete does with the shutdown timeout. Where the versions'
# code differs otherwise (_start_shutdown during a handshake, which aborts),
# asyncio's own method runs.

import collections
from asyncio import protocols

cdef bint _TIMEOUTS_BOUND = has("sslproto_timeouts_are_bound_methods")
cdef bint _SHUTDOWN_TIMEOUT_UNTIL_LOST = has("tls_shutdown_timeout_until_lost")

cdef object _STATE_INIT = sslproto.AppProtocolState.STATE_INIT
cdef object _STATE_CON_MADE = sslproto.AppProtocolState.STATE_CON_MADE
cdef object _STATE_EOF = sslproto.AppProtocolState.STATE_EOF
cdef object _STATE_CON_LOST = sslproto.AppProtocolState.STATE_CON_LOST
cdef object _SSLError = ssl.SSLError
cdef object _CertificateError = ssl.CertificateError
cdef object _BufferedProtocol = protocols.BufferedProtocol
cdef object _asyncio_start_shutdown = sslproto.SSLProtocol._start_shutdown
cdef object _deque = collections.deque


# ------------------------------------------------------------ set-up

cdef ModuleEntry _sslproto_ssl_seen
cdef ModuleEntry _write_high_water_seen
cdef ModuleEntry _read_high_water_seen
cdef ModuleEntry _handshake_timeout_seen
cdef ModuleEntry _shutdown_timeout_seen


cdef int _init_protocol(RecordState self, object loop, object app_protocol,
                        object sslcontext, object waiter, object server_side,
                        object server_hostname, object call_connection_made,
                        object ssl_handshake_timeout,
                        object ssl_shutdown_timeout) except -1:
    """SSLProtocol.__init__, but for the receive buffer: asyncio makes it
    with bytearray(max_size), 256 KiB written with zeros per connection that
    nothing reads (recv_into() fills what is then read); here an int
    max_size is allocated unfilled."""
    if module_attr(sslproto, "ssl", &_sslproto_ssl_seen) is None:
        raise RuntimeError("stdlib ssl module not available")

    size = self.max_size
    if type(size) is int and size >= 0:
        self._ssl_buffer = PyByteArray_FromStringAndSize(NULL, size)
    else:
        self._ssl_buffer = bytearray(size)
    self._ssl_buffer_view = memoryview(self._ssl_buffer)

    if ssl_handshake_timeout is None:
        ssl_handshake_timeout = module_attr(constants, "SSL_HANDSHAKE_TIMEOUT",
                                            &_handshake_timeout_seen)
    elif ssl_handshake_timeout <= 0:
        raise ValueError(
            f"ssl_handshake_timeout should be a positive number, "
            f"got {ssl_handshake_timeout}")
    if ssl_shutdown_timeout is None:
        ssl_shutdown_timeout = module_attr(constants, "SSL_SHUTDOWN_TIMEOUT",
                                           &_shutdown_timeout_seen)
    elif ssl_shutdown_timeout <= 0:
        raise ValueError(
            f"ssl_shutdown_timeout should be a positive number, "
            f"got {ssl_shutdown_timeout}")

    if not sslcontext:
        sslcontext = sslproto._create_transport_context(
            server_side, server_hostname)

    self._server_side = server_side
    if server_hostname and not server_side:
        self._server_hostname = server_hostname
    else:
        self._server_hostname = None
    self._sslcontext = sslcontext
    # What get_extra_info() has before the handshake.
    self._extra = dict(sslcontext=sslcontext)

    # The application's writes waiting for the handshake or the socket.
    self._write_backlog = _deque()
    self._write_buffer_size = 0

    self._waiter = waiter
    self._loop = loop
    _set_app_protocol(self, app_protocol)
    self._app_transport = None
    self._app_transport_created = False
    # The socket transport, once connection_made() gives it.
    self._transport = None
    self._ssl_handshake_timeout = ssl_handshake_timeout
    self._ssl_shutdown_timeout = ssl_shutdown_timeout
    # The TLS connection over two memory BIOs.
    self._incoming = _MemoryBIO()
    self._outgoing = _MemoryBIO()
    self._state = _UNWRAPPED
    self._conn_lost = 0  # connection_lost() counts itself here
    if call_connection_made:
        self._app_state = _STATE_INIT
    else:
        self._app_state = _STATE_CON_MADE
    self._sslobj = self._sslcontext.wrap_bio(
        self._incoming, self._outgoing,
        server_side=self._server_side,
        server_hostname=self._server_hostname)

    # Flow control.
    self._ssl_writing_paused = False
    self._app_reading_paused = False
    self._ssl_reading_paused = False
    self._incoming_high_water = 0
    self._incoming_low_water = 0
    _set_read_buffer_limits(self, None, None)
    self._eof_received = False
    self._app_writing_paused = False
    self._outgoing_high_water = 0
    self._outgoing_low_water = 0
    _set_write_buffer_limits(self, None, None)
    _get_app_transport(self)
    return 0


cdef object _get_app_transport(RecordState self):
    """SSLProtocol._get_app_transport, making fastsel's SSLProtocolTransport."""
    if self._app_transport is None:
        if self._app_transport_created:
            raise RuntimeError('Creating _SSLProtocolTransport twice')
        self._app_transport = _new_app_transport(self._loop, self)
        self._app_transport_created = True
    return self._app_transport


cdef int _set_write_buffer_limits(RecordState self, object high, object low) except -1:
    """SSLProtocol._set_write_buffer_limits."""
    high, low = _flowcontrol_defaults(
        high, low, module_attr(constants, "FLOW_CONTROL_HIGH_WATER_SSL_WRITE",
                               &_write_high_water_seen))
    self._outgoing_high_water = high
    self._outgoing_low_water = low
    return 0


cdef int _set_read_buffer_limits(RecordState self, object high, object low) except -1:
    """SSLProtocol._set_read_buffer_limits."""
    high, low = _flowcontrol_defaults(
        high, low, module_attr(constants, "FLOW_CONTROL_HIGH_WATER_SSL_READ",
                               &_read_high_water_seen))
    self._incoming_high_water = high
    self._incoming_low_water = low
    return 0


cdef tuple _flowcontrol_defaults(object high, object low, object kb):
    """sslproto.add_flowcontrol_defaults."""
    if high is None:
        if low is None:
            hi = kb * 1024
        else:
            lo = low
            hi = 4 * lo
    else:
        hi = high
    if low is None:
        lo = hi // 4
    else:
        lo = low

    if not hi >= lo >= 0:
        raise ValueError('high (%r) must be >= low (%r) must be >= 0' %
                         (hi, lo))
    return hi, lo


cdef int _set_app_protocol(RecordState self, object app_protocol) except -1:
    """SSLProtocol._set_app_protocol."""
    self._app_protocol = app_protocol
    if (hasattr(app_protocol, 'get_buffer') and
            isinstance(app_protocol, _BufferedProtocol)):
        self._app_protocol_get_buffer = app_protocol.get_buffer
        self._app_protocol_buffer_updated = app_protocol.buffer_updated
        self._app_protocol_is_buffer = True
    else:
        self._app_protocol_is_buffer = False
    return 0


cdef int _wakeup_waiter(RecordState self, object exc) except -1:
    """SSLProtocol._wakeup_waiter."""
    if self._waiter is None:
        return 0
    if not self._waiter.cancelled():
        if exc is not None:
            self._waiter.set_exception(exc)
        else:
            self._waiter.set_result(None)
    self._waiter = None
    return 0


cdef int _set_state(RecordState self, object new_state) except -1:
    """SSLProtocol._set_state: only the transitions asyncio allows."""
    state = self._state
    if (new_state is _UNWRAPPED
            or (state is _UNWRAPPED and new_state is _DO_HANDSHAKE)
            or (state is _DO_HANDSHAKE and new_state is _WRAPPED)
            or (state is _WRAPPED and new_state is _FLUSHING)
            or (state is _FLUSHING and new_state is _SHUTDOWN)):
        self._state = new_state
        return 0
    raise RuntimeError('cannot switch state from {} to {}'.format(state, new_state))


cdef extern from "Python.h":
    object PyFunction_New(object code, object globals)
    int PyFunction_SetClosure(object function, object closure) except -1
    object PyCell_New(object value)

# The callback 3.11 and 3.12 give call_later is a lambda that looks the
# method up when it runs. Its code comes from Python source, so that the
# callback is a Python function named '<lambda>' as asyncio's is (what a
# debug-mode repr of the TimerHandle shows); each callback is that code
# with its own closure, made without running Python code.
_deferred_method_code = eval(
    "lambda protocol, name: lambda: getattr(protocol, name)()",
    {"getattr": getattr})(None, None).__code__
cdef object _DEFERRED_CODE = _deferred_method_code
cdef dict _DEFERRED_GLOBALS = {"getattr": getattr, "__builtins__": __builtins__}
# Where each of the lambda's two free variables goes in its closure.
cdef bint _PROTOCOL_CELL_FIRST = _deferred_method_code.co_freevars == ("protocol", "name")
del _deferred_method_code


cdef object _deferred_method(object protocol, str name):
    """lambda: getattr(protocol, name)()"""
    function = PyFunction_New(_DEFERRED_CODE, _DEFERRED_GLOBALS)
    if _PROTOCOL_CELL_FIRST:
        closure = (PyCell_New(protocol), PyCell_New(name))
    else:
        closure = (PyCell_New(name), PyCell_New(protocol))
    PyFunction_SetClosure(function, closure)
    return function


cdef object _timeout_callback(RecordState self, str name):
    """The running version's call_later callback for the timeout `name`."""
    if _TIMEOUTS_BOUND:
        return getattr(self, name)
    return _deferred_method(self, name)


# ------------------------------------------------------------ handshake

cdef int _start_handshake(RecordState self) except -1:
    """SSLProtocol._start_handshake."""
    if loop_debug(self._loop):
        sslproto.logger.debug("%r starts SSL handshake", self)
        self._handshake_start_time = self._loop.time()
    else:
        self._handshake_start_time = None

    _set_state(self, _DO_HANDSHAKE)

    # The handshake's timeout starts now.
    self._handshake_timeout_handle = loop_call_later(
        self._loop, self._ssl_handshake_timeout,
        _timeout_callback(self, "_check_handshake_timeout"))

    _do_handshake(self)
    return 0


cdef int _do_handshake(RecordState self) except -1:
    """SSLProtocol._do_handshake."""
    cdef PyObject *again = NULL
    sslobj = _unwrapped(self, self._sslobj)
    try:
        if type(sslobj) is _SSLSocket:
            fastsel_call_catching(_SSL_DO_HANDSHAKE, sslobj, _AGAIN_ERRORS, &again)
        else:
            sslobj.do_handshake()
    except _AGAIN_ERRORS:
        _process_outgoing(self)
    except _SSLError as exc:
        _on_handshake_complete(self, exc)
    else:
        if again is NULL:
            _on_handshake_complete(self, None)
        else:
            _process_outgoing_handling(self, again)
    return 0


cdef int _on_handshake_complete(RecordState self, object handshake_exc) except -1:
    """SSLProtocol._on_handshake_complete."""
    if self._handshake_timeout_handle is not None:
        cancel_timer(self._handshake_timeout_handle)
        self._handshake_timeout_handle = None

    sslobj = self._sslobj
    try:
        if handshake_exc is None:
            _set_state(self, _WRAPPED)
        else:
            raise handshake_exc

        raw = _unwrapped(self, sslobj)
        peercert = raw.getpeercert()
    except Exception as exc:
        handshake_exc = None
        _set_state(self, _UNWRAPPED)
        if isinstance(exc, _CertificateError):
            msg = 'SSL handshake failed on verifying the certificate'
        else:
            msg = 'SSL handshake failed'
        self._fatal_error(exc, msg)
        _wakeup_waiter(self, exc)
        return 0

    if loop_debug(self._loop):
        dt = self._loop.time() - self._handshake_start_time
        sslproto.logger.debug("%r: SSL handshake took %.1f ms", self, dt * 1e3)

    # What the transport's get_extra_info() has once the handshake is done.
    self._extra.update(peercert=peercert,
                       cipher=raw.cipher(),
                       compression=raw.compression(),
                       ssl_object=sslobj)
    if self._app_state is _STATE_INIT:
        self._app_state = _STATE_CON_MADE
        self._app_protocol.connection_made(self._get_app_transport())
    _wakeup_waiter(self, None)
    _do_read(self)
    return 0


# ------------------------------------------------------------ shutdown

cdef int _start_shutdown(RecordState self) except -1:
    """SSLProtocol._start_shutdown (during the handshake, asyncio's own:
    its abort differs between versions)."""
    state = self._state
    if state is _FLUSHING or state is _SHUTDOWN or state is _UNWRAPPED:
        return 0
    if state is _DO_HANDSHAKE:
        _asyncio_start_shutdown(self)
        return 0
    if self._app_transport is not None:
        self._app_transport._closed = True
    _set_state(self, _FLUSHING)
    self._shutdown_timeout_handle = loop_call_later(
        self._loop, self._ssl_shutdown_timeout,
        _timeout_callback(self, "_check_shutdown_timeout"))
    _do_flush(self)
    return 0


cdef int _do_flush(RecordState self) except -1:
    """SSLProtocol._do_flush."""
    _do_read(self)
    _set_state(self, _SHUTDOWN)
    _do_shutdown(self)
    return 0


cdef int _do_shutdown(RecordState self) except -1:
    """SSLProtocol._do_shutdown."""
    cdef PyObject *again = NULL
    try:
        if not self._eof_received:
            sslobj = _unwrapped(self, self._sslobj)
            if type(sslobj) is _SSLSocket:
                fastsel_call_catching(_SSL_SHUTDOWN, sslobj, _AGAIN_ERRORS, &again)
            else:
                sslobj.unwrap()
    except _AGAIN_ERRORS:
        _process_outgoing(self)
    except _SSLError as exc:
        _on_shutdown_complete(self, exc)
    else:
        if again is not NULL:
            _process_outgoing_handling(self, again)
            return 0
        _process_outgoing(self)
        _call_eof_received(self)
        _on_shutdown_complete(self, None)
    return 0


cdef int _on_shutdown_complete(RecordState self, object shutdown_exc) except -1:
    """SSLProtocol._on_shutdown_complete, as the running version has it."""
    if shutdown_exc or not _SHUTDOWN_TIMEOUT_UNTIL_LOST:
        if self._shutdown_timeout_handle is not None:
            cancel_timer(self._shutdown_timeout_handle)
            self._shutdown_timeout_handle = None
    if shutdown_exc:
        self._fatal_error(shutdown_exc)
        return 0
    if _SHUTDOWN_TIMEOUT_UNTIL_LOST and self._shutdown_timeout_handle is None:
        # The peer began the shutdown: its timeout starts now.
        self._shutdown_timeout_handle = loop_call_later(
            self._loop, self._ssl_shutdown_timeout,
            _timeout_callback(self, "_check_shutdown_timeout"))
    loop_call_soon(self._loop, self._transport.close, ())
    return 0


cdef int _call_eof_received(RecordState self) except -1:
    """SSLProtocol._call_eof_received."""
    try:
        if self._app_state is _STATE_CON_MADE:
            self._app_state = _STATE_EOF
            keep_open = self._app_protocol.eof_received()
            if keep_open:
                sslproto.logger.warning('returning true from eof_received() '
                                        'has no effect when using ssl')
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as ex:
        self._fatal_error(ex, 'Error calling eof_received()')
    return 0


cdef int _connection_lost(RecordState self, object exc) except -1:
    """SSLProtocol.connection_lost."""
    self._write_backlog.clear()
    _bio_read(self._outgoing)
    self._conn_lost += 1

    # The application transport is marked closed, so that it does not warn
    # when it is collected.
    if self._app_transport is not None:
        self._app_transport._closed = True

    if self._state is not _DO_HANDSHAKE:
        if self._app_state is _STATE_CON_MADE or self._app_state is _STATE_EOF:
            self._app_state = _STATE_CON_LOST
            loop_call_soon(self._loop, self._app_protocol.connection_lost, (exc,))
    _set_state(self, _UNWRAPPED)
    self._transport = None
    self._app_transport = None
    self._app_protocol = None
    _wakeup_waiter(self, exc)

    if self._shutdown_timeout_handle:
        cancel_timer(self._shutdown_timeout_handle)
        self._shutdown_timeout_handle = None
    if self._handshake_timeout_handle:
        cancel_timer(self._handshake_timeout_handle)
        self._handshake_timeout_handle = None
    return 0
