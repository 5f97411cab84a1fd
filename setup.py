"""Build script: the compiled core, unless FASTSEL_NO_EXTENSIONS=1 asks for a
pure-Python build (the py3-none-any wheel for platforms without a compiler)."""
import os
import sys

from setuptools import Extension, setup

NO_EXTENSIONS = os.environ.get("FASTSEL_NO_EXTENSIONS") == "1"
# A debug build: C assertions on and Cython line tracing (for coverage and
# profilers). Extra flags go through CPPFLAGS-style macros, never by replacing
# CFLAGS, so release builds keep the optimisation level Python was built with.
DEBUG = os.environ.get("FASTSEL_DEBUG") == "1"


def extensions():
    if NO_EXTENSIONS or sys.implementation.name != "cpython":
        return []
    from Cython.Build import cythonize

    macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if DEBUG else [("NDEBUG", "1")]
    exts = [
        Extension(
            name,
            [name.replace(".", "/") + ".pyx"],
            include_dirs=["fastsel"],
            define_macros=macros,
            undef_macros=["NDEBUG"] if DEBUG else [],
        )
        # The asyncio hot path cimports the selector core.
        for name in ("fastsel._selectors_c", "fastsel._aio_c")
    ]
    directives = {"language_level": 3, "embedsignature": True}
    if DEBUG:
        directives.update(linetrace=True, boundscheck=True, wraparound=True)
    return cythonize(exts, compiler_directives=directives, annotate=DEBUG)


setup(ext_modules=extensions())
