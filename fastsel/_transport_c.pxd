cdef class WriteCoalescer:
    # The loop's thread while the loop runs its callbacks (writes are then
    # held back), 0 otherwise.
    cdef unsigned long thread
    # Transports with writes held back.
    cdef list transports

    cdef int hold(self) except -1
    cdef int flush(self) except -1
