"""Build script: the compiled core, unless FASTSEL_NO_EXTENSIONS=1 asks for a
pure-Python build (the py3-none-any wheel for platforms without a compiler)."""
import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = os.environ.get("FASTSEL_NO_EXTENSIONS") == "1"
# A debug build: C assertions on and Cython line tracing (for coverage and
# profilers). Extra flags go through CPPFLAGS-style macros, never by replacing
# CFLAGS, so release builds keep the optimisation level Python was built with.
DEBUG = os.environ.get("FASTSEL_DEBUG") == "1"
# AddressSanitizer and UndefinedBehaviorSanitizer (gcc or clang), for
# tools/sanitize.sh: added to the compiler's flags, never replacing them.
SANITIZE = os.environ.get("FASTSEL_SANITIZE") == "1"
SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                   "-fno-sanitize-recover=undefined"]


# GCC stops inlining into a module once inlining has grown it by a budget (40 %
# by default), and the modules generated here are large: their small inline
# helpers on the hot path (loop and handle slot reads, type checks) were left
# as calls. A larger budget inlines them.
GCC_FLAGS = ["--param=inline-unit-growth=400"]


def _is_gcc(command):
    try:
        version = subprocess.run([command[0], "--version"], capture_output=True, text=True,
                                 timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in version


class BuildExt(build_ext):
    def build_extensions(self):
        compiler_so = getattr(self.compiler, "compiler_so", None)
        if compiler_so and _is_gcc(compiler_so):
            for extension in self.extensions:
                extension.extra_compile_args = GCC_FLAGS + extension.extra_compile_args
        super().build_extensions()


def extensions():
    if NO_EXTENSIONS or sys.implementation.name != "cpython":
        return []
    from Cython.Build import cythonize

    if DEBUG:
        # FASTSEL_DEBUG turns on the internal counters of includes/debug.h.
        macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1"), ("FASTSEL_DEBUG", "1")]
    else:
        macros = [("NDEBUG", "1")]
    sanitizer_flags = SANITIZER_FLAGS if SANITIZE else []
    modules = [
        Extension(
            f"fastsel.{name}",
            [f"fastsel/{name}.pyx"],
            include_dirs=["fastsel"],
            define_macros=macros,
            undef_macros=["NDEBUG"] if DEBUG else [],
            extra_compile_args=sanitizer_flags,
            extra_link_args=sanitizer_flags,
        )
        # The loop and the asyncio hot path cimport the selector core.
        for name in ("_selectors_c", "_loop_c", "_aio_c", "_transport_c", "_accept_c",
                     "_sslproto_c")
    ]
    directives = {
        "language_level": 3,
        "embedsignature": True,
        # Not yet: the core relies on the GIL to guard its key table and the
        # wait buffer it lends out, so free-threaded builds (3.14t) re-enable
        # the GIL when they import it.
        "freethreading_compatible": False,
    }
    if DEBUG:
        directives.update(linetrace=True, boundscheck=True, wraparound=True)
    # cythonize regenerates C only when the .pyx is newer than it, whatever the
    # directives: each mode keeps its own generated C, so that switching modes
    # never compiles a release build from traced C, or the reverse.
    return cythonize(
        modules,
        compiler_directives=directives,
        annotate=DEBUG,
        build_dir="build/cython-debug" if DEBUG else None,
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
