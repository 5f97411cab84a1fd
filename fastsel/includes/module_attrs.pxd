# Module attributes that asyncio looks up on every call (events.Handle,
# futures.Future, constants.*), read as asyncio reads them: a test or a
# library may replace one, and the next call must see it. A module's
# attribute is the entry of its dict; where dicts carry a version tag (up to
# 3.13, see dict_version.h) the entry found is remembered with the tag and
# not looked up again while the dict is unchanged.

from cpython.object cimport PyObject

from .overrides cimport fastsel_dict_version, fastsel_dict_version_of

cdef extern from "Python.h":
    PyObject *PyDict_GetItemWithError(object d, object key) except? NULL
    PyObject *PyModule_GetDict(object module)
    bint PyModule_CheckExact(object o)


ctypedef struct ModuleEntry:
    fastsel_dict_version version  # of the module's dict when value was found
    PyObject *value  # borrowed: the dict holds it while it keeps that version


cdef inline object module_attr(object module, str name, ModuleEntry *seen):
    """getattr(module, name), for one call site remembering in `seen`."""
    cdef PyObject *namespace
    cdef PyObject *found
    cdef fastsel_dict_version version
    if not PyModule_CheckExact(module):
        return getattr(module, name)
    namespace = PyModule_GetDict(module)
    version = fastsel_dict_version_of(<object>namespace)
    if version != 0 and version == seen.version:
        return <object>seen.value
    found = PyDict_GetItemWithError(<object>namespace, name)
    if found is NULL:
        # Not in the dict: a module __getattr__ or the AttributeError.
        return getattr(module, name)
    seen.version = version
    seen.value = found
    return <object>found
