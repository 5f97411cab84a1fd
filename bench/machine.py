"""What a result was measured on and with; recorded in every JSON result."""
import os
import platform
import re
import resource
import subprocess
import sys
from importlib import metadata

from . import floor


def raise_fd_limit():
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def version_of(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def cython_compiled_with():
    """The Cython that generated the compiled core: Cython 3 modules register
    a shared module named after their version (_cython_3_3_1) on import."""
    try:
        import fastsel._selectors_c  # noqa: F401
    except ImportError:
        return None
    for name in sys.modules:
        match = re.fullmatch(r"_cython_(\d+)_(\d+)_(\w+)", name)
        if match:
            return ".".join(match.groups())
    return None


def wrk_version():
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout + out.stderr).strip()
    # "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer": the version part.
    return text.splitlines()[0].split(" Copyright")[0] if text else None


def checkout_copy(package):
    """Whether `package` is this checkout's copy rather than an installed one."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.abspath(package.__file__).startswith(root + os.sep)


def describe():
    import fastsel

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load,
        "python": sys.version,
        "python_implementation": platform.python_implementation(),
        "fastsel_version": getattr(fastsel, "__version__", None),
        "fastsel_implementation": fastsel.IMPLEMENTATION,
        "fastsel_from": "source checkout" if checkout_copy(fastsel) else "installed package",
        "cython_installed": version_of("Cython"),
        "cython_compiled_with": cython_compiled_with(),
        "peers": {
            "uvloop": version_of("uvloop"),
            # The end-to-end servers' other loops and frameworks.
            **{name: version_of(name)
               for name in ("rloop", "aiofastnet", "aiohttp", "uvicorn", "httptools")},
            "matplotlib": version_of("matplotlib"),
            "wrk": wrk_version(),
            "cc": floor.compiler_version(),
        },
    }
