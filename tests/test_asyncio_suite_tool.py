"""tools/asyncio_suite.py, which runs CPython's whole test.test_asyncio on
asyncio's loop and on fastsel's, checked on two quick modules (the whole
package takes minutes: see the tool)."""
import os
import re
import subprocess
import sys

import pytest

TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "tools", "asyncio_suite.py")

try:
    import test.test_asyncio  # noqa: F401
except ImportError:
    pytest.skip("this interpreter does not ship test.test_asyncio",
                allow_module_level=True)
if not os.path.exists(TOOL):
    pytest.skip("tools/ is not beside tests/ (an installed copy of the tests)",
                allow_module_level=True)


def test_modules_run_on_both_loops(impl):
    import fastsel

    parent = os.path.dirname(os.path.dirname(os.path.abspath(fastsel.__file__)))
    env = dict(os.environ, FASTSEL_IMPL=impl.IMPLEMENTATION,
               PYTHONPATH=os.pathsep.join([parent, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, TOOL, "--modules", "test_buffered_proto", "test_context",
         "--timeout", "120"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"fastsel's {impl.IMPLEMENTATION} implementation" in done.stdout
    totals = dict(re.findall(r"on (\w+)'s loop: (\d+ tests run, \d+ skipped, \d+ failed)",
                             done.stdout))
    assert totals["asyncio"] == totals["fastsel"], done.stdout
    assert int(totals["fastsel"].split()[0]) > 0
    made = dict(re.findall(r"on (\w+)'s loop: .*\((\d+) fastsel loops made\)", done.stdout))
    assert made["asyncio"] == "0" and int(made["fastsel"]) > 0, done.stdout
    assert "0 tests fail only on fastsel; 0 modules were not run on fastsel" in done.stdout
