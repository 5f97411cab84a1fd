# Included by the modules that append to and pop from asyncio's deques (the
# loop's ready queue, the TLS write backlog): deque's own methods are called
# directly where the object is a plain collections.deque (whose instances
# cannot replace them), without looking them up; anything else gets the
# method call.

cdef extern from "Python.h":
    object _deque_vectorcall "PyObject_Vectorcall"(
        object callable, PyObject **args, size_t nargsf, void *kwnames)

from cpython.object cimport Py_SIZE

cdef object _Deque = __import__("collections").deque
cdef object _DEQUE_APPEND = _Deque.append
cdef object _DEQUE_POPLEFT = _Deque.popleft


cdef inline int _append(object queue, object item) except -1:
    """queue.append(item)."""
    cdef PyObject *args[2]
    if type(queue) is not _Deque:
        queue.append(item)
        return 0
    args[0] = <PyObject *>queue
    args[1] = <PyObject *>item
    _deque_vectorcall(_DEQUE_APPEND, args, 2, NULL)
    return 0


cdef inline object _popleft(object queue):
    """queue.popleft()."""
    cdef PyObject *args[1]
    if type(queue) is not _Deque:
        return queue.popleft()
    args[0] = <PyObject *>queue
    return _deque_vectorcall(_DEQUE_POPLEFT, args, 1, NULL)


cdef inline bint _has_items(object queue) except -1:
    """bool(queue); for a plain deque or list (the ready queue, the timer
    heap), which keep their length in ob_size, without the generic truth
    test."""
    if type(queue) is _Deque or type(queue) is list:
        return Py_SIZE(queue) != 0
    return bool(queue)
