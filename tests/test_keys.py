"""Keys are real selectors.SelectorKey objects, indistinguishable from the
stdlib's own: type, fields, equality, hashing, pickling, _replace."""
import pickle
import selectors
import socket

import pytest

from conftest import selector_names


@pytest.mark.parametrize("name", ["EpollSelector", "PollSelector", "SelectSelector"])
def test_keys_are_stdlib_selector_keys(impl, name):
    if name not in selector_names(impl):
        pytest.skip(f"no {name} here")
    a, b = socket.socketpair()
    data = ("some", "data")
    with getattr(impl, name)() as sel, getattr(selectors, name)() as reference:
        try:
            key = sel.register(a, selectors.EVENT_READ, data)
            expected = reference.register(a, selectors.EVENT_READ, data)
            modified = sel.modify(a, selectors.EVENT_READ | selectors.EVENT_WRITE, data)
            for k in (key, modified, sel.get_key(a)):
                assert type(k) is selectors.SelectorKey
                assert isinstance(k, tuple) and len(k) == 4
            assert key == expected and hash(key) == hash(expected) == hash(tuple(expected))
            assert (key.fileobj, key.fd, key.events, key.data) == (a, a.fileno(), 1, data)
            assert key._replace(data=None) == expected._replace(data=None)
            assert repr(key) == repr(expected)
            assert modified.events == 3 and modified.data is data
            assert {key: 1}[expected] == 1
            plain = sel.register(b.fileno(), selectors.EVENT_WRITE)
            assert pickle.loads(pickle.dumps(plain)) == plain
        finally:
            a.close()
            b.close()
