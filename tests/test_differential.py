"""Differential test: random sequences of selector operations on a fastsel
selector and the stdlib selector of the same kind, side by side.

Both selectors see the same file objects, and the sockets behind them change
under them as the sequence goes: peers write and close, ends are closed while
registered, fds are replaced with os.dup2 or closed and reused by new sockets.
Every step must give the same result, or an exception of the same type.
"""
import os
import selectors
import socket

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize,
                                 precondition, rule, run_state_machine_as_test)

from oracle import FakeFile, Twin, as_key, classes, ready  # noqa: F401 - fixture

MAX_PAIRS = 4
NAN = float("nan")  # never equal to itself: modify() must make a new key
DATA = [None, "a", "b", 1, NAN]
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
# Mostly valid events, some that only the stdlib's quirks accept or refuse.
REGISTER_EVENTS = [1, 2, 3, True, 0, 4, -1]
MODIFY_EVENTS = [1, 2, 3, 1, 2, 3, True, 0, 8, -1]
TIMEOUTS = [0, -1, 0.0, -0.5, 1e-6, NAN, "1", 1e300]


class FileLike:
    """A file object that asks its socket for the fd every time."""

    def __init__(self, sock):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()


# Valid-looking fds here are never open: each side's own epoll fd would not
# be the same number on both.
BAD_OBJECTS = [
    -1, 2 ** 31, 2 ** 70, 1.5, "3", None, (1 << 20) + 3, True,
    FakeFile(ValueError()), FakeFile(RuntimeError()), FakeFile(AttributeError()),
    FakeFile("19999"), FakeFile(None), FakeFile(-1),
]

# A target is (pair index, end, form): the socket itself, the fd it had when
# it was made (which may since be closed, or reused), or a FileLike.
any_target = st.tuples(st.integers(0, MAX_PAIRS - 1), st.integers(0, 1),
                       st.sampled_from(["socket", "fd", "filelike"]))
# Targets that were registered once are drawn more often, so that sequences
# reach them again after their sockets changed.
registered = Bundle("registered")
targets = st.one_of(registered, any_target)


class SelectorPair(RuleBasedStateMachine):
    """Subclassed per selector kind with FAST and STD set."""

    FAST = STD = None

    def __init__(self):
        super().__init__()
        self.twin = Twin(self.FAST, self.STD)
        self.ends = []   # per pair: [(socket, fd at creation, FileLike)] * 2
        self.steps = 0
        self.closed = False

    # -- helpers

    def target(self, spec):
        index, end, form = spec
        if index >= len(self.ends):
            return None
        sock, fd, filelike = self.ends[index][end]
        return {"socket": sock, "fd": fd, "filelike": filelike}[form]

    def check(self, label, operation):
        self.steps += 1
        self.twin.check(operation, label)

    # -- the sockets under the selectors

    @initialize(target=registered)
    def open_two_pairs_and_register_one(self):
        self.open_pair()
        self.open_pair()
        return self.register((0, 0, "socket"), READ | WRITE, "first")

    @precondition(lambda self: len(self.ends) < MAX_PAIRS)
    @rule()
    def open_pair(self):
        pair = socket.socketpair()
        for sock in pair:
            sock.setblocking(False)
        self.ends.append([(s, s.fileno(), FileLike(s)) for s in pair])

    @rule(spec=targets)
    def peer_sends(self, spec):
        index, end, _ = spec
        if index < len(self.ends):
            sock = self.ends[index][1 - end][0]
            try:
                sock.send(b"x" * 1000)
            except OSError:  # closed, peer gone, or buffer full
                pass

    @rule(spec=targets)
    def drain(self, spec):
        index, end, _ = spec
        if index < len(self.ends):
            sock = self.ends[index][end][0]
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass

    @rule(spec=targets, peer=st.booleans())
    def close_end(self, spec, peer):
        """Close a socket, registered or not (its fd may be reused later), or
        its peer (it hangs up)."""
        index, end, _ = spec
        if index < len(self.ends):
            self.ends[index][1 - end if peer else end][0].close()

    @rule(source=any_target, dest=targets)
    def dup2(self, source, dest):
        """Make an open socket's fd refer to another socket's file."""
        if max(source[0], dest[0]) >= len(self.ends):
            return
        src = self.ends[source[0]][source[1]][0]
        dst = self.ends[dest[0]][dest[1]][0]
        if src.fileno() >= 0 and dst.fileno() >= 0 and src.fileno() != dst.fileno():
            os.dup2(src.fileno(), dst.fileno())

    # -- the selectors

    @rule(target=registered, spec=any_target, events=st.sampled_from(REGISTER_EVENTS),
          data=st.sampled_from(DATA))
    def register(self, spec, events, data):
        obj = self.target(spec)
        if obj is not None:
            self.check("register", lambda s: s.register(obj, events, data))
        return spec

    @rule(target=registered, spec=any_target, events=st.sampled_from([READ, WRITE, READ | WRITE]),
          data=st.sampled_from(DATA))
    def register_valid(self, spec, events, data):
        return self.register(spec, events, data)

    @rule(spec=targets, events=st.sampled_from(MODIFY_EVENTS), data=st.sampled_from(DATA))
    def modify(self, spec, events, data):
        obj = self.target(spec)
        if obj is None:
            return

        def modify_and_compare(sel):
            try:
                old = sel.get_key(obj)
            except Exception:  # noqa: BLE001 - modify() reports it itself
                old = None
            new = sel.modify(obj, events, data)
            return as_key(new), new is old

        self.check("modify", modify_and_compare)

    @rule(spec=targets)
    def modify_nothing(self, spec):
        """modify() with the events and data it has: the same key comes back."""
        obj = self.target(spec)
        try:
            key = self.twin.std.get_key(obj)
        except Exception:  # noqa: BLE001 - not registered: nothing to repeat
            return
        self.modify(spec, key.events, key.data)

    @rule(spec=targets)
    def unregister(self, spec):
        obj = self.target(spec)
        if obj is not None:
            self.check("unregister", lambda s: s.unregister(obj))

    @rule()
    def select_now(self):
        self.check("select(0)", lambda s: ready(s.select(0)))

    @rule(timeout=st.sampled_from(TIMEOUTS))
    def select_odd_timeout(self, timeout):
        self.check(f"select({timeout!r})", lambda s: ready(s.select(timeout)))

    @rule(spec=targets)
    def get_key(self, spec):
        obj = self.target(spec)
        if obj is not None:
            self.check("get_key", lambda s: s.get_key(obj))

    @rule(spec=targets, query=st.sampled_from(["in", "get", "[]"]))
    def query_map(self, spec, query):
        obj = self.target(spec)
        if obj is None:
            return

        def run(sel):
            mapping = sel.get_map()
            if mapping is None:
                return None
            if query == "in":
                return obj in mapping
            if query == "get":
                return mapping.get(obj, "absent")
            return mapping[obj]

        self.check(f"get_map() {query}", run)

    @rule()
    def whole_map(self):
        def run(sel):
            mapping = sel.get_map()
            if mapping is None:
                return None
            keys = sorted((as_key(key) for key in mapping.values()), key=lambda k: k[1])
            return len(mapping), set(mapping), keys

        self.check("get_map() len/iter/values", run)

    @rule(operation=st.sampled_from(["register", "modify", "unregister", "get_key", "in"]),
          bad=st.sampled_from(BAD_OBJECTS))
    def bad_argument(self, operation, bad):
        calls = {
            "register": lambda s: s.register(bad, READ),
            "modify": lambda s: s.modify(bad, WRITE),
            "unregister": lambda s: s.unregister(bad),
            "get_key": lambda s: s.get_key(bad),
            "in": lambda s: s.get_map() is not None and bad in s.get_map(),
        }
        self.check(f"{operation}({bad!r})", calls[operation])

    @precondition(lambda self: self.steps > 30 and not self.closed)
    @rule()
    def close_selector(self):
        """Close once, late: what still works after close differs by kind."""
        self.closed = True
        self.check("close()", lambda s: s.close())

    def teardown(self):
        self.twin.close()
        for pair in self.ends:
            for sock, _, _ in pair:
                sock.close()


# True is among the bad objects: 3.13+ warns for it on both sides.
@pytest.mark.filterwarnings("ignore:bool is used as a file descriptor:RuntimeWarning")
def test_same_as_stdlib(classes):
    fast_class, std_class = classes
    machine = type(f"{fast_class.__name__}Pair", (SelectorPair,),
                   {"FAST": fast_class, "STD": std_class})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=100,
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    ))


@pytest.mark.parametrize("data", [None, "same", NAN], ids=repr)
def test_modify_key_identity(classes, data):
    """modify() with nothing changed returns the very same key; data that is
    not equal to itself (NaN) counts as changed."""
    twin = Twin(*classes)
    a, b = socket.socketpair()
    try:
        twin.check(lambda s: s.register(a, READ, data), "register")
        for events in (READ, WRITE, WRITE):
            twin.check(lambda s: s.get_key(a) is s.modify(a, events, data), f"modify {events}")
    finally:
        twin.close()
        a.close()
        b.close()
