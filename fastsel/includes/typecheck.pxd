# "This type passed a check", remembered until the type changes (see
# includes/typecheck.h, where the remembered case is forced inline).

cdef extern from "includes/typecheck.h":
    ctypedef struct TypeCheck "fastsel_type_check":
        void *checked_type  # compared, never dereferenced
        unsigned int tag

    bint type_check_remembers "fastsel_type_check_remembers"(TypeCheck *check, object cls)
    void type_check_remember "fastsel_type_check_remember"(TypeCheck *check, object cls)
    # cls has, under each name, one of the allowed objects (a tuple of
    # (name, allowed objects) pairs); remembered in check.
    bint class_keeps "fastsel_class_keeps"(TypeCheck *check, object cls,
                                           tuple methods) except -1
