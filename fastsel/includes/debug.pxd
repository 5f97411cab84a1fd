# The debug build's counters (includes/debug.h): no-ops in release builds.
cdef extern from "includes/debug.h" nogil:
    enum fastsel_counter:
        FASTSEL_KEYS_STORED
        FASTSEL_KEYS_RELEASED
        FASTSEL_BUFFERS_ALLOCATED
        FASTSEL_BUFFERS_FREED
        FASTSEL_HANDLES_CREATED
    bint FASTSEL_DEBUG_BUILD
    void FASTSEL_COUNT(fastsel_counter which, Py_ssize_t n)
    long long FASTSEL_COUNTER(fastsel_counter which)
