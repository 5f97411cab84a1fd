"""A selector or Loop created before fork(): what the child does never
disturbs the parent's registrations; the child gets the stdlib's behaviour
(poll, select: a private copy) or a clear error (epoll, whose kernel object
is shared with the parent; a Loop, whose self-pipe is), never a hang."""
import json
import os
import subprocess
import sys

import pytest

from reliability_helpers import SELECTOR_NAMES, selector_class

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FORKED = "RuntimeError: this EpollSelector was created before fork()"


def run_scenario(impl, name, scenario):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "fork_scenarios.py"), impl.IMPLEMENTATION, name, scenario],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", SELECTOR_NAMES)
def test_selector_used_in_the_child(impl, name):
    selector_class(impl, name)
    report = run_scenario(impl, name, "selector")
    child = report["child"]
    assert report["parent_select"] == [["parent's", 1]]
    assert report["parent_map"] == ["parent's", "spare"]
    assert report["parent_key_unchanged"] is True
    # unregister() and close() always work in the child, on its own side.
    assert child["unregister"] == "ok" and child["close"] == "ok"
    if name == "EpollSelector":
        # The refused modify() dropped spare from the child's map.
        assert child["map_after_unregister"] == 0
        for step in ("select", "register", "modify"):
            assert child[step].startswith(FORKED), (step, child[step])
    else:
        assert child["select"] == "ok []"
        assert child["register"] == "ok" and child["modify"] == "ok"
        assert child["map_after_unregister"] == 2   # spare, and what the child registered


@pytest.mark.parametrize("name", ["EpollSelector", "PollSelector"])
def test_loop_used_in_the_child(impl, name):
    """Running the parent's loop in the child would read the parent's
    wake-ups from the shared self-pipe: run_forever() refuses, whatever the
    selector; cleaning up in the child works."""
    report = run_scenario(impl, name, "loop")
    child = report["child"]
    assert child["run_forever"].startswith("RuntimeError: this Loop was created in another process")
    assert child["remove_reader"] == "ok True" and child["close"] == "ok"
    assert report["parent_callbacks"] == ["read"]
