"""The stdlib as the oracle: a fastsel selector and the stdlib selector of the
same kind, driven side by side on the same file objects.

Every call must return the same thing, or raise an exception of the same
type, on both sides. Keys must be real selectors.SelectorKey instances and
are compared as tuples; select() results are compared as lists sorted by fd.
"""
import selectors

import pytest

CLASS_NAMES = ("EpollSelector", "PollSelector", "SelectSelector")


@pytest.fixture(params=CLASS_NAMES)
def classes(impl, request):
    """(fastsel class, stdlib class) for one selector kind of one implementation."""
    name = request.param
    if not hasattr(selectors, name) or not hasattr(impl, name):
        pytest.skip(f"{name} is not available on this platform")
    return getattr(impl, name), getattr(selectors, name)


class FakeFile:
    """An object whose fileno() returns, or raises, what it is told."""

    def __init__(self, result):
        self.result = result

    def fileno(self):
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def __repr__(self):
        return f"FakeFile({self.result!r})"


def as_key(value):
    """A SelectorKey as a plain tuple, after checking its exact type."""
    assert type(value) is selectors.SelectorKey, f"not a SelectorKey: {value!r}"
    return tuple(value)


def ready(events):
    """select()'s result, comparable: sorted by fd, keys as tuples."""
    assert type(events) is list, f"select() returned {type(events).__name__}"
    pairs = [(as_key(key), mask) for key, mask in events]
    return sorted(pairs, key=lambda pair: (pair[0][1], pair[1]))


def comparable(value):
    if isinstance(value, tuple) and len(value) == 4 and hasattr(value, "_fields"):
        return as_key(value)
    return value


def outcome(call):
    """('returned', value) or ('raised', exception type) for call()."""
    try:
        return ("returned", comparable(call()))
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return ("raised", type(exc))


class Twin:
    """A fastsel selector and its stdlib counterpart, called in step."""

    def __init__(self, fast_class, std_class):
        self.fast = fast_class()
        self.std = std_class()

    def check(self, operation, label=""):
        """Run operation(selector) on both; assert the same outcome; return it."""
        want = outcome(lambda: operation(self.std))
        got = outcome(lambda: operation(self.fast))
        assert got == want, f"{label}: fastsel {got} != stdlib {want}"
        return got

    def close(self):
        self.fast.close()
        self.std.close()


@pytest.fixture
def twin(classes):
    pair = Twin(*classes)
    yield pair
    pair.close()
