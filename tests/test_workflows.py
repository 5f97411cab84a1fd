"""The release machinery, checked offline: each GitHub workflow validates
against the workflow schema and does what a release needs, and cibuildwheel's
configuration selects exactly the intended wheels."""
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
# What the wheels and the test matrix must cover.
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.14t", "3.15"]
LINUX_ARCHS = ["x86_64", "aarch64"]
MACOS_ARCHS = ["x86_64", "arm64"]

try:
    import check_jsonschema  # noqa: F401
    from ruamel.yaml import YAML  # a dependency of check-jsonschema
except ImportError:
    YAML = None
try:
    import cibuildwheel  # noqa: F401
except ImportError:
    cibuildwheel = None

needs_check_jsonschema = pytest.mark.skipif(YAML is None, reason="check-jsonschema is not installed")
# The sdist and installed-wheel runs carry tests/ but not .github/.
in_checkout = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a source checkout")
# A copy of tests/ run against an installed wheel has no project files at all.
in_sources = pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="not run from the sources")


def validate(path):
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=120)


def load(name):
    return YAML(typ="safe").load((WORKFLOW_DIR / name).read_text())


# Every workflow file there is, and the two the release needs even if missing.
WORKFLOWS = sorted({p.name for p in WORKFLOW_DIR.glob("*.y*ml")} | {"test.yml", "wheels.yml"})


@in_checkout
@needs_check_jsonschema
@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_matches_schema(name):
    result = validate(WORKFLOW_DIR / name)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_check_jsonschema
def test_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs_on: ubuntu-24.04\n    steps: []\n")
    assert validate(broken).returncode != 0


@in_checkout
@needs_check_jsonschema
def test_test_workflow_matrix():
    job = load("test.yml")["jobs"]["test"]
    matrix = job["strategy"]["matrix"]
    assert matrix["python"] == PYTHONS
    assert any(os_.startswith("ubuntu") for os_ in matrix["os"])
    assert any(os_.startswith("macos") for os_ in matrix["os"])
    assert matrix["build"] == ["release", "debug"]
    assert {entry["build"] for entry in matrix["include"]} == {"pure"}
    assert "FASTSEL_DEBUG" in job["env"] and "FASTSEL_NO_EXTENSIONS" in job["env"]
    commands = [step.get("run", "") for step in job["steps"]]
    assert "python -m pip install -e '.[test]'" in commands
    assert "python -m pytest" in commands


@in_checkout
@needs_check_jsonschema
def test_wheel_workflow_builds_from_the_sdist_and_publishes_on_tags():
    workflow = load("wheels.yml")
    jobs = workflow["jobs"]
    assert "v*" in workflow["on"]["push"]["tags"]

    wheels = jobs["wheels"]
    assert wheels["needs"] == "sdist"
    assert any("cibuildwheel" in s.get("run", "") and "sdist/*.tar.gz" in s.get("run", "")
               for s in wheels["steps"])
    runners = {(e["os"], e["arch"]) for e in wheels["strategy"]["matrix"]["include"]}
    assert {arch for _, arch in runners} == set(LINUX_ARCHS + MACOS_ARCHS)
    # aarch64 on a native arm runner, not under emulation.
    assert all("arm" in os_ for os_, arch in runners if arch == "aarch64")

    pure = jobs["pure-wheel"]
    assert pure["env"]["FASTSEL_NO_EXTENSIONS"] == "1"
    assert any("--pure" in s.get("run", "") for s in pure["steps"])

    publish = jobs["publish"]
    assert "refs/tags/v" in publish["if"]
    assert publish["permissions"] == {"id-token": "write"}
    assert set(publish["needs"]) >= {"sdist", "pure-wheel", "wheels"}
    assert any(s.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for s in publish["steps"])


def expected_identifiers(platform):
    tags = [f"cp{p.replace('.', '')}" for p in PYTHONS]
    if platform == "linux":
        combos = itertools.product(tags, ["manylinux", "musllinux"], LINUX_ARCHS)
        return {f"{tag}-{libc}_{arch}" for tag, libc, arch in combos}
    if platform == "macos":
        return {f"{tag}-macosx_{arch}" for tag, arch in itertools.product(tags, MACOS_ARCHS)}
    return set()   # Windows takes the pure wheel


@in_sources
@pytest.mark.skipif(cibuildwheel is None, reason="cibuildwheel is not installed")
@pytest.mark.parametrize("platform", ["linux", "macos", "windows"])
def test_cibuildwheel_selects_the_intended_wheels(platform):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    result = subprocess.run(
        [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers",
         "--platform", platform],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == expected_identifiers(platform)


def load_pyproject():
    try:
        import tomllib
    except ImportError:  # before 3.11: the parser pip carries
        from pip._vendor import tomli as tomllib
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@in_sources
def test_cibuildwheel_tests_every_wheel():
    project = load_pyproject()
    config = project["tool"]["cibuildwheel"]
    assert set(config["test-extras"]) <= set(project["project"]["optional-dependencies"])
    assert any("pytest" in c and "{project}/tests" in c for c in config["test-command"])
    assert any("IMPLEMENTATION == 'c'" in c for c in config["test-command"])
    assert "pp*" in config["skip"]
