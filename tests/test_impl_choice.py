"""Which implementation `import fastsel` picks, and what it exports.

The chooser reads the environment at import time, so each case runs in a
fresh interpreter importing the same fastsel as this test run.
"""
import os
import selectors
import subprocess
import sys
import textwrap

import pytest

import fastsel
from conftest import compiled_opted_out, selector_names
from fastsel import _impl

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastsel.__file__)))

# Makes the compiled core unimportable, as on a platform without a build.
HIDE_COMPILED = "import sys; sys.modules['fastsel._selectors_c'] = None\n"


def run(script, **env_vars):
    """Run script in a fresh interpreter with only the given FASTSEL_* vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTSEL_")}
    env.update(env_vars)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PROJECT_ROOT, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )


def chosen(prelude="", **env_vars):
    result = run(prelude + "import fastsel; print(fastsel.IMPLEMENTATION)", **env_vars)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def import_error(prelude="", **env_vars):
    result = run(prelude + "import fastsel", **env_vars)
    assert result.returncode != 0, "import succeeded: " + result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    return last_line


@pytest.fixture
def needs_compiled(request):
    if compiled_opted_out(request.config):
        pytest.skip("compiled implementation opted out")


def test_default_is_compiled(needs_compiled):
    assert chosen() == "c"


def test_no_extensions_gives_python():
    assert chosen(FASTSEL_NO_EXTENSIONS="1") == "python"


def test_impl_python_gives_python():
    assert chosen(FASTSEL_IMPL="python") == "python"


def test_impl_c_gives_compiled(needs_compiled):
    assert chosen(FASTSEL_IMPL="c") == "c"


def test_impl_c_without_the_core_raises():
    assert import_error(HIDE_COMPILED, FASTSEL_IMPL="c").startswith(
        ("ImportError", "ModuleNotFoundError"))


def test_fallback_without_the_core_is_python_and_logged():
    script = HIDE_COMPILED + """
import logging
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record)
logger = logging.getLogger("fastsel")
logger.setLevel(logging.DEBUG)
logger.addHandler(Keep())
import fastsel
print(fastsel.IMPLEMENTATION)
for record in records:
    print(logging.getLevelName(record.levelno), record.getMessage())
"""
    result = run(script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "python"
    assert any(line.startswith("DEBUG") and "compiled core unavailable" in line
               for line in lines[1:]), lines


@pytest.mark.parametrize("value", ["C", "cython", "pure", "1"])
def test_bad_impl_value_raises(value):
    assert import_error(FASTSEL_IMPL=value).startswith("ImportError")


def test_this_run_tests_what_it_asked_for(request):
    """Fails a run that asked for the compiled core (FASTSEL_IMPL=c) and did
    not get it, and any run where the core cannot load without an opt-out."""
    if os.environ.get("FASTSEL_IMPL") == "c":
        assert fastsel.IMPLEMENTATION == "c"
    if not compiled_opted_out(request.config):
        from fastsel import _selectors_c  # noqa: F401 - must import
        assert _impl.load("c").IMPLEMENTATION == "c"


def test_compiled_default_is_compiled_epoll(needs_compiled):
    if not sys.platform.startswith("linux"):
        pytest.skip("epoll is Linux only")
    from fastsel import _selectors_c

    assert _impl.load("c").DefaultSelector is _selectors_c.EpollSelector


def test_public_names():
    assert fastsel.EVENT_READ == selectors.EVENT_READ
    assert fastsel.EVENT_WRITE == selectors.EVENT_WRITE
    assert fastsel.SelectorKey is selectors.SelectorKey
    assert fastsel.BaseSelector is selectors.BaseSelector
    assert fastsel.IMPLEMENTATION in ("c", "python")
    live = _impl.load(fastsel.IMPLEMENTATION)
    for name in ("SelectSelector", "DefaultSelector", "PollSelector", "EpollSelector"):
        if name in ("PollSelector", "EpollSelector") and not hasattr(selectors, name):
            continue
        assert getattr(fastsel, name) is getattr(live, name), name
        assert name in fastsel.__all__, name
    for name in ("EVENT_READ", "EVENT_WRITE", "SelectorKey", "BaseSelector", "IMPLEMENTATION"):
        assert name in fastsel.__all__, name


def test_every_class_is_a_base_selector(impl):
    for name in selector_names(impl) + ["DefaultSelector"]:
        sel = getattr(impl, name)()
        try:
            assert isinstance(sel, selectors.BaseSelector), name
        finally:
            sel.close()
