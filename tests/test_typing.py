"""The type stubs: `mypy --strict` accepts an example using every public name
on each platform's branch of the stubs, rejects misuse, and the stubs declare
every name fastsel exports here."""
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastsel

HERE = Path(__file__).parent
PACKAGE_DIR = Path(fastsel.__file__).parent
STUB = PACKAGE_DIR / "__init__.pyi"

try:
    import mypy  # noqa: F401
except ImportError:
    mypy = None
needs_mypy = pytest.mark.skipif(mypy is None, reason="mypy is not installed")


def run_mypy(target, platform, tmp_path):
    env = dict(os.environ)
    # An installed fastsel is found by mypy itself (py.typed); a source tree
    # is pointed at (mypy refuses site-packages in MYPYPATH).
    if "-packages" not in PACKAGE_DIR.parent.name:
        env["MYPYPATH"] = str(PACKAGE_DIR.parent)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--platform", platform,
         "--cache-dir", str(tmp_path / "cache"), "--config-file", "", str(target)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def test_stubs_ship_with_the_package():
    assert STUB.is_file()
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_stubs_declare_every_exported_name():
    declared = {"__all__", "__version__"}
    for node in ast.walk(ast.parse(STUB.read_text())):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            declared.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            declared.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            declared.update(a.asname for a in node.names if a.asname)
    assert set(fastsel.__all__) - declared == set()


@needs_mypy
@pytest.mark.parametrize("platform", ["linux", "darwin", "win32", "sunos5"])
def test_example_passes_mypy_strict(platform, tmp_path):
    result = run_mypy(HERE / "typing_example.py", platform, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_mypy
def test_mypy_rejects_misuse(tmp_path):
    bad = tmp_path / "misuse.py"
    bad.write_text(
        "import fastsel\n"
        "n: str = fastsel.EpollSelector().fileno()\n"
        "fastsel.KqueueSelector()\n"
        "fastsel.DefaultSelector().register(object(), fastsel.EVENT_READ)\n"
    )
    result = run_mypy(bad, "linux", tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("error:") == 3, result.stdout
