"""Bad arguments and broken file objects: fastsel must raise what the stdlib
raises (the same exception type), and never crash.

Each case runs on a fastsel selector and the stdlib selector of the same kind
side by side (see oracle.Twin), for every class of both implementations.
"""
import os
import selectors
import signal
import socket
import tempfile
import warnings
from decimal import Decimal
from fractions import Fraction

import pytest

from oracle import FakeFile, Twin, classes, ready, twin  # noqa: F401 - fixtures

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@pytest.fixture
def sockets():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def bad_file_objects(fd):
    """Objects that are not a valid registration, or only look like one."""
    return [
        True, False, 1.0, str(fd), -1, -(2 ** 70), 2 ** 31, 2 ** 63, 2 ** 70,
        (1 << 20) + 5, 2 ** 31 - 1, None, object(),
        FakeFile(ValueError("closed")), FakeFile(TypeError("bad")),
        FakeFile(AttributeError("gone")), FakeFile(RuntimeError("boom")),
        FakeFile(str(fd)), FakeFile(fd + 0.7), FakeFile(None), FakeFile(-1),
        FakeFile(2 ** 70), FakeFile(True),
    ]


BAD_FD_IDS = [
    "True", "False", "float", "str", "-1", "-2**70", "2**31", "2**63", "2**70",
    "2**20+5", "2**31-1", "None", "object", "fileno-ValueError",
    "fileno-TypeError", "fileno-AttributeError", "fileno-RuntimeError",
    "fileno-str", "fileno-float", "fileno-None", "fileno-minus-1",
    "fileno-2**70", "fileno-True",
]


# Both sides give it (3.13+); test_bool_fd_warnings compares them.
@pytest.mark.filterwarnings("ignore:bool is used as a file descriptor:RuntimeWarning")
@pytest.mark.parametrize("index", range(len(BAD_FD_IDS)), ids=BAD_FD_IDS)
def test_bad_file_object(twin, sockets, index):
    a, _ = sockets
    twin.check(lambda s: s.register(a, READ, "other"), "register a valid socket")
    bad = bad_file_objects(a.fileno())[index]
    if bad is True or bad is False:
        try:
            os.fstat(bad)
        except OSError:
            # A closed stdin/stdout may now be either selector's own epoll fd,
            # which differs between the two sides.
            pytest.skip(f"fd {int(bad)} is not open in this run")
    steps = [
        ("get_key", lambda s: s.get_key(bad)),
        ("in map", lambda s: bad in s.get_map()),
        ("map.get", lambda s: s.get_map().get(bad, "missing")),
        ("map[]", lambda s: s.get_map()[bad]),
        ("unregister", lambda s: s.unregister(bad)),
        ("modify", lambda s: s.modify(bad, WRITE)),
        ("register", lambda s: s.register(bad, READ, "bad")),
        ("len", lambda s: len(s.get_map())),
        ("select", lambda s: ready(s.select(0))),
        ("get_key again", lambda s: s.get_key(bad)),
        ("modify again", lambda s: s.modify(bad, READ | WRITE, "changed")),
        ("unregister again", lambda s: s.unregister(bad)),
        ("map keys", lambda s: sorted(s.get_map(), key=repr)),
    ]
    for label, step in steps:
        twin.check(step, label)


def with_warnings(action, call):
    """call()'s result with the categories of the warnings it gave, under the
    warnings filter action ("always" records them, "error" raises them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        result = call()
    return result, [w.category for w in caught]


@pytest.mark.parametrize("action", ["always", "error"])
@pytest.mark.parametrize("fd", [True, False], ids=repr)
def test_bool_fd_warnings(twin, action, fd):
    """3.13's select module warns when a bool is used as an fd: the same
    warnings come out at the same steps, and as errors leave the same state."""
    for label, step in [
        ("register", lambda s: s.register(fd, WRITE, "bool")),
        ("len", lambda s: len(s.get_map())),
        ("modify", lambda s: s.modify(fd, READ | WRITE, "bool")),
        ("len after modify", lambda s: len(s.get_map())),
        ("unregister", lambda s: s.unregister(fd)),
        ("len after unregister", lambda s: len(s.get_map())),
    ]:
        twin.check(lambda s: with_warnings(action, lambda: step(s)), label)


def test_socket_closed_while_registered(twin):
    """A closed socket's fileno() is -1: it is still found by identity."""
    a, b = socket.socketpair()
    try:
        twin.check(lambda s: s.register(a, READ, "a"), "register")
        a.close()
        for label, step in [
            ("get_key", lambda s: s.get_key(a)),
            ("in map", lambda s: a in s.get_map()),
            ("map.get", lambda s: s.get_map().get(a)),
            ("select", lambda s: ready(s.select(0))),
            ("modify", lambda s: s.modify(a, READ, "same events")),
            ("unregister", lambda s: s.unregister(a)),
            ("len", lambda s: len(s.get_map())),
            ("unregister twice", lambda s: s.unregister(a)),
        ]:
            twin.check(step, label)
    finally:
        a.close()
        b.close()


REGISTER_EVENTS = [0, 4, -1, 3.0, True, 2 ** 70, None, "1", 1.5, READ | WRITE]


@pytest.mark.parametrize("events", REGISTER_EVENTS, ids=repr)
def test_register_events(twin, sockets, events):
    a, _ = sockets
    twin.check(lambda s: s.register(a, events, "data"), "register")
    twin.check(lambda s: len(s.get_map()), "len")
    twin.check(lambda s: ready(s.select(0)), "select")


MODIFY_EVENTS = [0, 8, -1, True, 2 ** 70, 3.0, None, "1", READ, WRITE, READ | WRITE]


@pytest.mark.parametrize("events", MODIFY_EVENTS, ids=repr)
def test_modify_events_are_not_validated(twin, sockets, events):
    """epoll's and poll's modify() accept any int events (a stdlib quirk);
    select's goes through register() and validates them."""
    a, b = sockets
    b.send(b"x")
    twin.check(lambda s: s.register(a, READ, "data"), "register")
    twin.check(lambda s: s.modify(a, events, "data"), "modify")
    twin.check(lambda s: s.get_key(a), "get_key")
    twin.check(lambda s: ready(s.select(0)), "select")
    twin.check(lambda s: s.unregister(a), "unregister")


class StillWaiting(BaseException):
    """Raised by the alarm; a BaseException so that the oracle lets it out."""


def select_briefly(sel, timeout, limit):
    """select(timeout)'s comparable result, or "still waiting" when it had
    not returned after `limit` seconds (a SIGALRM handler interrupts it)."""
    def interrupt(signum, frame):
        raise StillWaiting

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return ready(sel.select(timeout))
    except StillWaiting:
        return "still waiting"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


TIMEOUTS = [
    float("nan"), float("inf"), float("-inf"), 1e300, 1e306, -1e300, "1", b"1", [],
    -1, -1.5, -0.0, 0.0, 1e-9, 0.0001, True, 2 ** 70, -(2 ** 70), 2 ** 31,
    1e7, 1e6, 2147483.647, 2147483.648, 2147484, Fraction(1, 3000),
    Fraction(-1), Fraction(10 ** 30), Decimal("0.0001"), Decimal(-1),
    Decimal("NaN"), Decimal("1e30"), 10 ** 400, int(1.7e308), Fraction(10 ** 306),
]


# 3.9's select.select() deprecates Decimal timeouts (SelectSelector only).
@pytest.mark.filterwarnings("ignore:an integer is required:DeprecationWarning")
@pytest.mark.parametrize("timeout", TIMEOUTS, ids=repr)
def test_timeout(twin, sockets, timeout):
    """Valid timeouts return at once (a writable socket is registered);
    invalid ones raise the stdlib's error type before any wait."""
    a, _ = sockets
    twin.check(lambda s: s.register(a, WRITE, "writable"), "register")
    twin.check(lambda s: select_briefly(s, timeout, 5), f"select({timeout!r})")


@pytest.mark.parametrize("timeout", [float("nan"), 1e300, "1", 1e7, 2147484, 0, -1,
                                     0.001, None], ids=repr)
def test_timeout_with_nothing_registered(twin, timeout):
    """An empty selector still converts (and rejects) the timeout, and waits
    when it is valid."""
    twin.check(lambda s: select_briefly(s, timeout, 0.2), f"select({timeout!r})")


@pytest.mark.parametrize("timeout", [
    float("nan"), float("inf"), 1e300, 1e306, "1", 2 ** 70, 10 ** 400, 1e7,
    Fraction(10 ** 30), 0, -1, 0.0001,
], ids=repr)
def test_timeout_after_close(twin, timeout):
    """The stdlib's epoll rejects a closed selector after its own arithmetic
    on the timeout but before the kernel's limit: the order of errors shows."""
    twin.check(lambda s: s.close(), "close")
    twin.check(lambda s: select_briefly(s, timeout, 0.2), f"select({timeout!r})")


def test_every_method_after_close(twin, sockets):
    a, b = sockets
    twin.check(lambda s: s.register(a, READ, "a"), "register")
    mapping = {}
    twin.check(lambda s: mapping.setdefault(id(s), s.get_map()) is not None, "get_map")
    for label, step in [
        ("close", lambda s: s.close()),
        ("close twice", lambda s: s.close()),
        ("get_map", lambda s: s.get_map()),
        ("old map len", lambda s: len(mapping[id(s)])),
        ("old map iter", lambda s: list(mapping[id(s)])),
        ("old map get", lambda s: mapping[id(s)].get(a)),
        ("get_key", lambda s: s.get_key(a)),
        ("get_key unknown", lambda s: s.get_key(b)),
        ("register", lambda s: s.register(b, READ, "b")),
        ("select", lambda s: ready(s.select(0))),
        ("modify", lambda s: s.modify(b, WRITE, "b2")),
        ("select again", lambda s: ready(s.select(0))),
        ("unregister", lambda s: s.unregister(b)),
        ("unregister before close", lambda s: s.unregister(a)),
        ("bad register", lambda s: s.register(a, 0)),
        ("fileno", lambda s: type(s.fileno()) if hasattr(s, "fileno") else "none"),
        ("with", lambda s: s.__exit__(None, None, None)),
        ("get_map at last", lambda s: s.get_map()),
    ]:
        twin.check(step, label)


def test_fd_closed_while_registered(twin):
    """A registered fd closed behind the selector's back: epoll forgets it,
    poll reports POLLNVAL as read|write, select raises EBADF."""
    a, b = socket.socketpair()
    fd = os.dup(a.fileno())
    try:
        twin.check(lambda s: s.register(fd, READ | WRITE, "dup"), "register")
        os.close(fd)
        for label, step in [
            ("select", lambda s: ready(s.select(0))),
            ("get_key", lambda s: s.get_key(fd)),
            ("modify same events", lambda s: s.modify(fd, READ | WRITE, "dup2")),
            ("select again", lambda s: ready(s.select(0))),
            ("modify", lambda s: s.modify(fd, READ)),
            ("unregister", lambda s: s.unregister(fd)),
            ("len", lambda s: len(s.get_map())),
        ]:
            twin.check(step, label)
    finally:
        a.close()
        b.close()


def test_poll_reports_closed_fd_as_readable_and_writable(impl):
    """The stdlib's mapping of POLLNVAL, checked directly as well."""
    a, b = socket.socketpair()
    fd = os.dup(a.fileno())
    sel = impl.PollSelector()
    try:
        sel.register(fd, READ | WRITE)
        os.close(fd)
        assert [(key.fd, mask) for key, mask in sel.select(0)] == [(fd, READ | WRITE)]
    finally:
        sel.close()
        a.close()
        b.close()


def test_regular_file(twin):
    """epoll refuses regular files (PermissionError) and leaves the map as it
    was; poll and select accept them."""
    with tempfile.TemporaryFile() as f:
        outcome = twin.check(lambda s: s.register(f, READ, "file"), "register")
        if isinstance(twin.std, getattr(selectors, "EpollSelector", ())):
            assert outcome == ("raised", PermissionError)
        for label, step in [
            ("len", lambda s: len(s.get_map())),
            ("get_key", lambda s: s.get_key(f)),
            ("select", lambda s: ready(s.select(0))),
            ("register again", lambda s: s.register(f, WRITE)),
            ("unregister", lambda s: s.unregister(f)),
            ("len after", lambda s: len(s.get_map())),
        ]:
            twin.check(step, label)


def test_raising_data_comparison(twin, sockets):
    """modify() compares data with != and lets its error through."""
    class Grumpy:
        def __ne__(self, other):
            raise ZeroDivisionError("no comparing")

        __hash__ = object.__hash__

    a, _ = sockets
    data = Grumpy()
    twin.check(lambda s: s.register(a, READ, data), "register")
    twin.check(lambda s: s.modify(a, READ, data), "modify, same events")
    twin.check(lambda s: s.get_key(a), "get_key")


class Meddler:
    """Runs `action(selector)` from inside the selector's own comparisons."""

    def __init__(self, action):
        self.action = action
        self.selector = None

    def meddle(self):
        if self.selector is not None:
            selector, self.selector = self.selector, None
            self.action(selector)


class MeddlingData(Meddler):
    def __ne__(self, other):
        self.meddle()
        return True

    __hash__ = object.__hash__


class MeddlingEvents(int):
    """Events (an int, so the fast paths take it) whose != meddles."""

    def __new__(cls, value, meddler, differs):
        self = super().__new__(cls, value)
        self.meddler, self.differs = meddler, differs
        return self

    def __ne__(self, other):
        self.meddler.meddle()
        return self.differs

    __hash__ = int.__hash__


def unregister_all(selector):
    for fd in list(selector.get_map() or ()):
        selector.unregister(fd)


MEDDLING = {
    "unregister all": unregister_all,
    "close": lambda selector: selector.close(),
    "register another": lambda selector: selector.register(MEDDLING_PEER[0], READ),
}
MEDDLING_PEER = []


@pytest.mark.parametrize("through", ["data", "same events", "other events"])
@pytest.mark.parametrize("action", sorted(MEDDLING))
def test_modify_survives_meddling(twin, sockets, action, through):
    """modify() compares events and data with !=, which runs Python code that
    may empty the selector under it: no crash, and the stdlib's outcome."""
    a, b = sockets
    MEDDLING_PEER[:] = [b]
    meddler = Meddler(MEDDLING[action])
    if through == "data":
        meddler = MeddlingData(MEDDLING[action])
        events, data = READ, meddler
    else:
        events = MeddlingEvents(READ if through == "same events" else WRITE, meddler,
                                differs=through == "other events")
        data = "data"
    twin.check(lambda s: s.register(a, READ, "data"), "register")

    def meddled_modify(sel):
        meddler.selector = sel
        return sel.modify(a, events, data)

    compiled_poll = (isinstance(twin.std, getattr(selectors, "PollSelector", ()))
                     and not isinstance(twin.fast, selectors.PollSelector))
    if compiled_poll and (action, through) == ("close", "other events"):
        # A documented difference: the stdlib's PollSelector.close() leaves
        # its fds in the select.poll object, so this modify() still reaches
        # them and the key comes back; fastsel's close() lets them go, and
        # the kernel-side modify finds nothing: KeyError.
        meddler.selector = twin.fast
        with pytest.raises(KeyError):
            twin.fast.modify(a, events, data)
        return
    twin.check(meddled_modify, "modify")
    twin.check(lambda s: len(s.get_map()) if s.get_map() is not None else None, "len")
    twin.check(lambda s: ready(s.select(0)), "select")
    twin.check(lambda s: s.get_map() and sorted(s.get_map()), "fds")


def test_twin_catches_a_difference():
    """The oracle itself: a real difference in outcome fails the check."""
    class Odd(selectors.SelectSelector):
        def get_map(self):
            return None

        def select(self, timeout=None):
            return [(tuple(key), mask) for key, mask in super().select(timeout)]

    pair = Twin(Odd, selectors.SelectSelector)
    try:
        with pytest.raises(AssertionError):
            pair.check(lambda s: s.get_map() is None, "a different result")
        with pytest.raises(AssertionError):
            pair.check(lambda s: s.unregister(0) if s.get_map() is not None else 1, "an exception")
        pair.check(lambda s: s.register(1, selectors.EVENT_WRITE), "register")
        with pytest.raises(AssertionError):
            pair.check(lambda s: ready(s.select(0)), "keys that are not SelectorKeys")
    finally:
        pair.close()
