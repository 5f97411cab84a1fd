from .includes.overrides cimport fastsel_dict_version


cdef class RecordState:
    # The attributes of asyncio's SSLProtocol that the per-record methods
    # read, as C fields (see the module docstring). asyncio's own Python
    # methods read and set them through the fields' descriptors.
    cdef public object _state
    cdef public object _sslobj
    cdef public object _incoming
    cdef public object _outgoing
    cdef public object _transport
    cdef public object _app_protocol
    cdef public object _app_protocol_is_buffer
    cdef public object _app_reading_paused
    cdef public object _app_writing_paused
    cdef public object _ssl_reading_paused
    cdef public object _ssl_writing_paused
    cdef public object _write_backlog
    cdef public object _write_buffer_size
    cdef public object _incoming_high_water
    cdef public object _incoming_low_water
    cdef public object _outgoing_high_water
    cdef public object _outgoing_low_water
    cdef public object _ssl_buffer
    cdef public object _ssl_buffer_view
    cdef public object _conn_lost
    # Those read once per connection (set-up, handshake, shutdown, the
    # application transport): as C fields too, an instance dict lookup each
    # otherwise.
    cdef public object _loop
    cdef public object _waiter
    cdef public object _app_state
    cdef public object _app_transport
    cdef public object _app_transport_created
    cdef public object _server_side
    cdef public object _server_hostname
    cdef public object _sslcontext
    cdef public object _extra
    cdef public object _eof_received
    cdef public object _ssl_handshake_timeout
    cdef public object _ssl_shutdown_timeout
    cdef public object _handshake_start_time
    cdef public object _handshake_timeout_handle
    cdef public object _shutdown_timeout_handle
    # The _ssl object under _sslobj as _unwrapped() last found it, and the
    # SSLObject it was found under.
    cdef object _unwrapped_of
    cdef object _unwrapped_ssl
    # The version of the instance's __dict__ when it last held none of the
    # names the compiled code reads on the class (see _reads_the_class).
    cdef fastsel_dict_version _dict_checked
