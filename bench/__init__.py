"""fastsel's benchmark: `python -m bench [--quick] [--only micro|servers] [--out DIR]`.

runner   interleaved rounds and paired ratios
micro    one selector operation at a time, against the stdlib, raw epoll and the C floor
floor    builds and drives floor.c, the kernel calls alone
loops    the server variants (a registry); servers: the in-process harness and --wrk
report   JSON, Markdown, plots; machine records what it ran on
"""
import importlib.machinery
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _has_compiled_core(package_dir):
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return any(name.startswith("_selectors_c") and name.endswith(suffixes)
               for name in os.listdir(package_dir))


def _prefer_built_fastsel():
    """Run from a source checkout, `import fastsel` finds the checkout's
    fastsel/ first. After `pip install .` that copy has no compiled core, so
    the installed one is the one to measure: drop the checkout from sys.path
    (bench itself is already imported). A checkout built in place is kept."""
    if _has_compiled_core(os.path.join(_ROOT, "fastsel")):
        return
    elsewhere = [p for p in sys.path if os.path.abspath(p or os.curdir) != _ROOT]
    spec = importlib.machinery.PathFinder.find_spec("fastsel", elsewhere)
    if spec is not None and spec.submodule_search_locations:
        if _has_compiled_core(list(spec.submodule_search_locations)[0]):
            sys.path[:] = elsewhere


if "fastsel" not in sys.modules:
    _prefer_built_fastsel()
