# An except clause's steps without a traceback entry (see handled.h).
from cpython.object cimport PyObject

cdef extern from "includes/handled.h":
    # func(arg); an exception of `types` it raises lands in caught[0] (a
    # new reference; NULL when none did) and None is returned. From 3.11;
    # before, the exception is raised.
    object fastsel_call_catching(object func, object arg, object types, PyObject **caught)
    # body(arg) with exc as the exception being handled.
    ctypedef int (*fastsel_body)(object) except -1
    int fastsel_run_handling(fastsel_body body, object arg, object exc) except -1
