from cpython.object cimport PyObject

cdef class WriteCoalescer:
    # The loop's thread while the loop runs its callbacks (writes are then
    # held back), 0 otherwise.
    cdef unsigned long thread
    # Transports with writes held back (strong references; count of them
    # in an array of capacity).
    cdef PyObject **held
    cdef Py_ssize_t count, capacity

    cdef int hold(self) except -1
    cdef int add(self, object transport) except -1
    cdef int flush(self) except -1
