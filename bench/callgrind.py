"""Counting a command's instructions under callgrind, and reading callgrind's
output files, for the bench's callgrind harnesses (and tools/tls_callgrind.py):
a count does not move with the machine's load."""
import collections
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def instructions(module_args, options=()):
    """Instructions run by `python -m <module_args...>` (this interpreter,
    from the checkout's root), as callgrind's summary line reports them.

    The hash seed is fixed (0 unless PYTHONHASHSEED says otherwise): string
    hashes place entries in dicts and in CPython's method cache, so with a
    random seed the same run differs by a few hundred instructions."""
    cmd = (["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *options,
            os.path.realpath(sys.executable), "-m", *module_args])
    env = dict(os.environ, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if not found:
        raise RuntimeError(f"no instruction count in:\n{done.stderr[-3000:]}")
    return int(found.group(1))


# The shared objects of the interpreter: libpython (or the executable, where
# it is linked in) and _asyncio, the C accelerator of asyncio's futures and
# tasks. What runs in them for a request of the streams, aiohttp or uvicorn
# server is mostly the framework's own Python code, the same on every loop.
INTERPRETER = re.compile(r"(^|/)(libpython[^/]*|python[\d.]*|_asyncio\.[^/]*)$")


def instructions_by_object(out_file):
    """The instructions callgrind counted in each shared object (its `ob=`
    entries), as {path: instructions}: each function's own cost, not what
    it called."""
    names = {}
    counts = collections.Counter()
    current = "?"
    skip_next = False
    with open(out_file) as f:
        for line in f:
            if skip_next:  # the inclusive cost of a call, counted in the callee
                skip_next = False
                continue
            if line.startswith(("ob=", "cob=")):
                match = re.match(r"c?ob=(?:\((\d+)\))?\s*(.*)", line.rstrip("\n"))
                ident, name = match.groups()
                if name:
                    if ident:
                        names[ident] = name
                else:
                    name = names.get(ident, "?")
                if line.startswith("ob="):
                    current = name
            elif line.startswith("calls="):
                skip_next = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                fields = line.split()
                if len(fields) >= 2:
                    counts[current] += int(fields[1])
    return dict(counts)


def interpreter_share(out_file):
    """The fraction of the instructions that ran in the interpreter
    (INTERPRETER), the rest being the loop's own modules, libc and the
    like."""
    by_object = instructions_by_object(out_file)
    total = sum(by_object.values())
    inside = sum(n for path, n in by_object.items() if INTERPRETER.search(path))
    return inside / total if total else 0.0


def totals(out_file):
    """The instructions a callgrind output file counts in all (its `totals:`
    line: the `summary:` line says 0 when collection started off)."""
    with open(out_file) as f:
        found = [line for line in f if line.startswith("totals:")]
    if not found:
        raise RuntimeError(f"no totals in {out_file}")
    return int(found[-1].split()[1])
