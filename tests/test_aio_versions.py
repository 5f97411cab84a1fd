"""The table of asyncio's differences between the versions fastsel.aio
mirrors, and what an interpreter outside them gets: asyncio's own code, said
once in the log, and a failing test here so that a new CPython is noticed."""
import os
import subprocess
import sys
import textwrap

import pytest

import fastsel
from fastsel import _asyncio_versions as versions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(fastsel.IMPLEMENTATION != "c",
                    reason="the compiled implementation is not live")
def test_running_asyncio_is_mirrored():
    """Fails on a CPython whose asyncio nobody has read yet: its users would
    silently get asyncio's own Python methods. Read that version's
    Lib/asyncio and add what changed to fastsel._asyncio_versions."""
    version = "%d.%d" % sys.version_info[:2]
    assert versions.mirrored(), f"asyncio of Python {version} is not mirrored"
    from fastsel import _aio_c, aio
    assert _aio_c.SUPPORTED
    assert aio.EventLoop._run_once is _aio_c.run_once


def test_every_mirrored_version_is_described():
    first, last = versions.MIRRORED
    for name, (since, until, what) in versions.CHANGES.items():
        assert first <= since <= last, name
        assert until is None or since <= until <= last, name
        assert what, name


@pytest.mark.parametrize("version, expected", [
    ((3, 8), False), ((3, 9), True), ((3, 13), True), ((3, 15), True), ((3, 16), False),
])
def test_mirrored(version, expected):
    assert versions.mirrored(version) is expected


@pytest.mark.parametrize("name, present, absent", [
    ("add_callback_asserts_handle", [(3, 9)], [(3, 10), (3, 15)]),
    ("buffer_is_deque", [(3, 12), (3, 15)], [(3, 9), (3, 11)]),
    ("write_error_names_types", [(3, 14), (3, 15)], [(3, 13)]),
    ("transport_counts_buffer", [(3, 15)], [(3, 14)]),
    ("create_task_takes_context", [(3, 11), (3, 13)], [(3, 10), (3, 14)]),
    ("create_task_names_by_method", [(3, 13)], [(3, 12), (3, 14)]),
    ("create_task_passes_kwargs", [(3, 14), (3, 15)], [(3, 13)]),
    ("fd_lookups_use_get", [(3, 13), (3, 15)], [(3, 12)]),
    ("reading_state_asks_is_closing", [(3, 11), (3, 15)], [(3, 9), (3, 10)]),
])
def test_has(name, present, absent):
    assert all(versions.has(name, v) for v in present)
    assert not any(versions.has(name, v) for v in absent)


def test_unknown_change_is_an_error():
    with pytest.raises(KeyError):
        versions.has("no such change")


@pytest.mark.skipif(fastsel.IMPLEMENTATION != "c",
                    reason="the compiled implementation is not live")
def test_version_not_mirrored_runs_asyncios_code_and_says_so():
    """In a fresh interpreter told that no version is mirrored: one debug
    line on the 'fastsel' logger, and a loop with asyncio's own methods
    that still works."""
    script = textwrap.dedent("""
        import asyncio, logging
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logging.getLogger("fastsel").addHandler(handler)
        logging.getLogger("fastsel").setLevel(logging.DEBUG)
        from fastsel import _asyncio_versions
        _asyncio_versions.MIRRORED = ((3, 0), (3, 1))
        import fastsel.aio
        import fastsel.aio  # a second import logs nothing more
        from asyncio import base_events, selector_events
        loop = fastsel.aio.new_event_loop()
        assert type(loop)._run_once is base_events.BaseEventLoop._run_once
        assert type(loop)._make_socket_transport is (
            selector_events.BaseSelectorEventLoop._make_socket_transport)
        assert loop.run_until_complete(asyncio.sleep(0, "ok")) == "ok"
        loop.close()
        notes = [r for r in records if "not one fastsel mirrors" in r.getMessage()]
        assert [r.levelno for r in notes] == [logging.DEBUG], records
        print("ok")
    """)
    env = dict(os.environ, FASTSEL_IMPL="c")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
