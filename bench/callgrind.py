"""Counting a command's instructions under callgrind, for the bench's
callgrind harnesses: a count does not move with the machine's load."""
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
