/* A dict's version tag, where dicts carry one that changes with every
   modification (ma_version_tag, 3.9 to 3.13): a check of a dict's entries
   that found what it wanted stays true while the tag it saw is the dict's.
   0 where none is known, and always from 3.14, which has no such tag. */
#ifndef FASTSEL_DICT_VERSION_H
#define FASTSEL_DICT_VERSION_H

#include <Python.h>
#include <stdint.h>

typedef uint64_t fastsel_dict_version;

static inline fastsel_dict_version fastsel_dict_version_of(PyObject *dict) {
#if PY_VERSION_HEX < 0x030E0000
#  if defined(__GNUC__)
#    pragma GCC diagnostic push
#    pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#  endif
    return ((PyDictObject *)dict)->ma_version_tag;
#  if defined(__GNUC__)
#    pragma GCC diagnostic pop
#  endif
#else
    (void)dict;
    return 0;
#endif
}

#endif
