/* The slots of asyncio's Handle classes, read and written at their offsets.

   A name in a class's __slots__ becomes a member descriptor on the class
   (types.MemberDescriptorType) whose PyMemberDef gives the slot's offset in
   every instance. When attribute lookup on a class finds that descriptor, and
   the class has object's __getattribute__ and __setattr__, `h.name` and
   `h.name = v` do exactly what these helpers do: read the pointer at the
   offset (an empty slot raises AttributeError there: callers fall back to
   getattr then), or store a new reference and release the old one. */
#ifndef FASTSEL_HANDLE_SLOTS_H
#define FASTSEL_HANDLE_SLOTS_H

#include <Python.h>
#ifndef Py_T_OBJECT_EX  /* before 3.12: the names of structmember.h */
#  include "structmember.h"
#  define Py_T_OBJECT_EX T_OBJECT_EX
#endif

/* The offset of the writable object slot that `descr` (a borrowed reference,
   may be NULL) describes, or -1 when it is anything else. Free-threaded
   builds read and write slots atomically: -1 there, so that callers use
   attribute access. */
static inline Py_ssize_t fastsel_slot_offset(PyObject *descr) {
#ifdef Py_GIL_DISABLED
    (void)descr;
    return -1;
#else
    PyMemberDef *member;
    if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type)
        return -1;
    member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != Py_T_OBJECT_EX || member->flags != 0
            || member->offset < (Py_ssize_t)sizeof(PyObject))
        return -1;
    return member->offset;
#endif
}

/* The slot's value (borrowed), or NULL when it is empty. */
static inline PyObject *fastsel_slot_get(PyObject *obj, Py_ssize_t offset) {
    return *(PyObject **)((char *)obj + offset);
}

/* Store a new reference to value, releasing the slot's old value last, as
   the member descriptor's __set__ does. */
static inline void fastsel_slot_set(PyObject *obj, Py_ssize_t offset,
                                    PyObject *value) {
    PyObject **slot = (PyObject **)((char *)obj + offset);
    PyObject *old = *slot;
    Py_INCREF(value);
    *slot = value;
    Py_XDECREF(old);
}

/* Empty the slot (as `del obj.name` does), releasing its value last. */
static inline void fastsel_slot_clear(PyObject *obj, Py_ssize_t offset) {
    PyObject **slot = (PyObject **)((char *)obj + offset);
    PyObject *old = *slot;
    *slot = NULL;
    Py_XDECREF(old);
}

/* Whether obj, of a type with a weak reference list at a fixed offset, has
   no weak reference to it (1), has some (0), or the type keeps its list
   elsewhere (-1). */
static inline int fastsel_no_weakrefs(PyObject *obj) {
    Py_ssize_t offset = Py_TYPE(obj)->tp_weaklistoffset;
    if (offset <= 0)
        return -1;
    return *(PyObject **)((char *)obj + offset) == NULL;
}

/* Spare handles are kept only where the GIL guards them. */
#ifdef Py_GIL_DISABLED
#  define FASTSEL_SPARE_HANDLES 0
#else
#  define FASTSEL_SPARE_HANDLES 1
#endif

#endif
