"""Builds bench/floor.c with the system compiler and drives it as a variant.

The program is compiled at bench time into a temporary directory (`cc -O2`);
where there is no compiler, or it fails, the floor is skipped and the reason
is reported instead of a number.
"""
import os
import shutil
import subprocess
import tempfile

from .runner import Variant

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor.c")


class FloorUnavailable(Exception):
    """The C floor cannot be built or run here; str() says why."""


def compiler():
    """The C compiler to use: $CC, else `cc`; None when there is none."""
    name = os.environ.get("CC", "cc")
    return shutil.which(name)


def compiler_version():
    cc = compiler()
    if cc is None:
        return None
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.splitlines()[0] if out.stdout else None


def build(directory=None):
    """Compile floor.c; return the executable's path or raise FloorUnavailable."""
    cc = compiler()
    if cc is None:
        raise FloorUnavailable("no C compiler (cc) found; C floor skipped")
    directory = directory or tempfile.mkdtemp(prefix="fastsel-floor-")
    exe = os.path.join(directory, "floor")
    result = subprocess.run(
        [cc, "-O2", "-o", exe, SOURCE], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise FloorUnavailable(f"C floor did not compile, skipped: {result.stderr.strip()}")
    return exe


class FloorProcess:
    """A running floor program set up for one case (mode, N, K)."""

    def __init__(self, exe, mode, n, k):
        self._proc = subprocess.Popen(
            [exe, mode, str(n), str(k)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self._proc.stdout.readline().strip()
        if line != "ready":
            err = self._proc.stderr.read().strip()
            self.close()
            raise FloorUnavailable(f"C floor failed to start: {err or line!r}")

    def run(self, iterations):
        """Nanoseconds per operation over `iterations` operations."""
        self._proc.stdin.write(f"{iterations}\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise FloorUnavailable(f"C floor died: {self._proc.stderr.read().strip()}")
        return float(line)

    def close(self):
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
        self._proc.stdout.close()
        self._proc.stderr.close()


def variant(exe, mode, n, k, target_seconds):
    """The floor as a runner Variant, its batch sized to target_seconds."""
    proc = FloorProcess(exe, mode, n, k)
    per_op = proc.run(100)
    iterations = max(100, int(target_seconds * 1e9 / max(per_op, 1.0)))
    return Variant("C floor", lambda: proc.run(iterations), proc.close)
