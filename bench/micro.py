"""Micro cases: one selector operation at a time, every variant side by side.

The selectors compared are the stdlib's EpollSelector (the baseline),
fastsel compiled and fastsel pure (both loaded at once through
fastsel._impl.load), raw `select.epoll` doing the same kernel calls with no
key bookkeeping, and the C floor (bench/floor.c) doing only the kernel calls.
Registered fds are both ends of socketpairs; an fd is made ready by writing
a byte into its peer, and nobody reads it, so it stays ready.
"""
import select
import selectors
import socket
from itertools import repeat

from . import floor
from .machine import raise_fd_limit
from .runner import (Variant, calibrate, clock_ns, interleave, progress, slowdown, speedup,
                     summary)

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
BASELINE = "stdlib"
RAW = "raw epoll"
FLOOR = "C floor"
OPS_FDS = 1000  # registered fds for the single-operation cases


def selector_classes(impls=None, missing=None):
    """[(label, EpollSelector class)]: the stdlib first, then each fastsel
    implementation that loads (why one did not goes into `missing`).
    `impls` overrides the fastsel part."""
    if impls is None:
        impls = fastsel_implementations(missing if missing is not None else [])
    return [(BASELINE, selectors.EpollSelector)] + list(impls)


def fastsel_implementations(missing):
    from fastsel import _impl

    found = []
    for kind in ("c", "python"):
        label = "fastsel-c" if kind == "c" else "fastsel-py"
        try:
            found.append((label, _impl.load(kind).EpollSelector))
        except (ImportError, AttributeError) as exc:
            progress(f"{label} unavailable, skipped: {exc}")
            missing.append(f"{label}: could not load ({exc}); its variants are missing")
    return found


class FdSet:
    """n fds (both ends of n/2 socketpairs), k of them readable, plus a spare
    unregistered socket for register/modify/miss cases."""

    def __init__(self, n, k):
        if not 0 <= k <= n:
            raise ValueError("need 0 <= k <= n")
        self._socks = []
        for _ in range((n + 1) // 2):
            self._socks.extend(socket.socketpair())
        self.fds = [s.fileno() for s in self._socks[:n]]
        for i in range(k):
            self._socks[i ^ 1].send(b"x")
        self._spare = socket.socketpair()
        self.spare = self._spare[0].fileno()

    def close(self):
        for sock in self._socks + list(self._spare):
            sock.close()


def ignore(fileobj, events):
    """The callback registered as key.data: does nothing."""


# Timed loops: one per operation, so each variant pays the same loop cost.

def loop_select(select_, count):
    for _ in repeat(None, count):
        select_(0)


def loop_poll(poll, maxevents, count):
    for _ in repeat(None, count):
        poll(0, maxevents)


def loop_select_and_call(select_, count):
    for _ in repeat(None, count):
        for key, events in select_(0):
            key.data(key.fileobj, events)


def loop_register_unregister(register, unregister, fd, events, count):
    for _ in repeat(None, count):
        register(fd, events)
        unregister(fd)


def loop_modify(modify, fd, first, second, count):
    for _ in repeat(None, count):
        modify(fd, first)
        modify(fd, second)


def loop_call(method, arg, count):
    for _ in repeat(None, count):
        method(arg)


def loop_map_get(get_map, fd, count):
    for _ in repeat(None, count):
        get_map().get(fd)


def noop():
    """The callback scheduled on the event loops: does nothing."""


def loop_call_soon(loop, count):
    for _ in repeat(None, count):
        loop.call_soon(noop)
    loop.call_soon(loop.stop)
    loop.run_forever()


def loop_call_later(loop, count):
    for _ in repeat(None, count):
        loop.call_later(0, noop)
    loop.call_later(0, loop.stop)
    loop.run_forever()


def timed(loop, *args):
    """run(count) -> ns per operation of loop(*args, count)."""
    def run(count):
        began = clock_ns()
        loop(*args, count)
        return (clock_ns() - began) / count
    return run


def make_variant(name, run, target_seconds, close=None):
    count = calibrate(run, target_seconds)
    return Variant(name, lambda: run(count), close)


def filled_selector(cls, fds):
    sel = cls()
    for fd in fds:
        sel.register(fd, READ, ignore)
    return sel


def filled_epoll(fds):
    ep = select.epoll()
    for fd in fds:
        ep.register(fd, select.EPOLLIN)
    return ep


def has_dispatch(classes):
    return any(hasattr(cls, "dispatch") for _, cls in classes)


# Variant builders: (fdset, classes, target) -> [Variant]

def each_selector(fds, classes, target, make_run):
    """One variant per selector class, all fds registered; make_run(sel)
    gives the timed run."""
    variants = []
    for label, cls in classes:
        sel = filled_selector(cls, fds.fds)
        variants.append(make_variant(label, make_run(sel), target, sel.close))
    return variants


def raw_epoll(fds, target, make_run):
    """The same work on a bare select.epoll with the same fds."""
    ep = filled_epoll(fds.fds)
    return make_variant(RAW, make_run(ep), target, ep.close)


def select_variants(fds, classes, target):
    maxevents = max(len(fds.fds), 1)
    return each_selector(fds, classes, target, lambda sel: timed(loop_select, sel.select)) + [
        raw_epoll(fds, target, lambda ep: timed(loop_poll, ep.poll, maxevents))
    ]


def dispatch_variants(fds, classes, target):
    """The select-and-call loop on every selector, plus dispatch() where a
    class has it. The stdlib's loop is the baseline."""
    variants = []
    for label, cls in classes:
        sel = filled_selector(cls, fds.fds)
        name = label if label == BASELINE else f"{label} select+call"
        runs = [(name, timed(loop_select_and_call, sel.select))]
        if hasattr(sel, "dispatch"):
            runs.append((f"{label} dispatch", timed(loop_call, sel.dispatch, 0)))
        for name, run in runs[:-1]:
            variants.append(make_variant(name, run, target))
        name, run = runs[-1]
        variants.append(make_variant(name, run, target, sel.close))  # closes the shared selector
    return variants


def register_variants(fds, classes, target):
    def run(obj, events):
        return timed(loop_register_unregister, obj.register, obj.unregister, fds.spare, events)
    return each_selector(fds, classes, target, lambda sel: run(sel, READ)) + [
        raw_epoll(fds, target, lambda ep: run(ep, select.EPOLLIN))
    ]


def modify_variants(fds, classes, target):
    def run(obj, first, second):
        obj.register(fds.spare, second)
        return timed(loop_modify, obj.modify, fds.spare, first, second)
    both = select.EPOLLIN | select.EPOLLOUT
    return each_selector(fds, classes, target, lambda sel: run(sel, READ | WRITE, READ)) + [
        raw_epoll(fds, target, lambda ep: run(ep, both, select.EPOLLIN))
    ]


def get_key_variants(fds, classes, target):
    registered = fds.fds[len(fds.fds) // 2]
    return each_selector(fds, classes, target,
                         lambda sel: timed(loop_call, sel.get_key, registered))


def map_miss_variants(fds, classes, target):
    return each_selector(fds, classes, target,
                         lambda sel: timed(loop_map_get, sel.get_map, fds.spare))


def event_loops(classes):
    """[(label, loop factory)]: asyncio's default loop as the baseline (it is
    the stdlib's), then fastsel.Loop of each implementation that loads."""
    import asyncio

    from fastsel import _impl

    loops = [(BASELINE, asyncio.new_event_loop)]
    for label, _ in classes:
        if label.startswith("fastsel-"):
            kind = "c" if label == "fastsel-c" else "python"
            loops.append((label, _impl.load(kind).Loop))
    return loops


def callback_variants(schedule):
    """Variants scheduling callbacks with `schedule` and running them, on
    each event loop."""
    def build(fds, classes, target):
        variants = []
        for label, factory in event_loops(classes):
            loop = factory()
            variants.append(make_variant(label, timed(schedule, loop), target, loop.close))
        return variants
    return build


class Case:
    """What one micro case measures: a group, its sizes, how to build its
    variants, and the C floor mode that matches it (None: no kernel call)."""

    def __init__(self, group, title, unit, n, k, build, floor_mode=None):
        self.group, self.title, self.unit = group, title, unit
        self.n, self.k = n, k
        self.build, self.floor_mode = build, floor_mode

    @property
    def name(self):
        if self.group in ("select", "dispatch"):
            return f"{self.title} N={self.n} K={self.k}"
        if self.group.startswith("loop"):
            return self.title
        return f"{self.title} (N={self.n})"


def grid(quick):
    """(N, K) pairs for select and dispatch."""
    if quick:
        return [(n, k) for n in (100, 1000) for k in (1, 100)]
    return [(n, k) for n in (10, 100, 1000, 10000) for k in (1, 10, 100, 1000) if k <= n]


def cases(quick, classes, sizes=None, ops_fds=OPS_FDS):
    """The micro cases, in run order. `sizes` overrides the (N, K) grid."""
    sizes = sizes if sizes is not None else grid(quick)
    found = [
        Case("select", "select(0)", "ns per select(0)", n, k, select_variants, "wait")
        for n, k in sizes
    ]
    if has_dispatch(classes):
        found += [
            Case("dispatch", "dispatch(0)", "ns per wait and callbacks", n, k, dispatch_variants)
            for n, k in sizes
        ]
    found += [
        Case("register", "register+unregister", "ns per pair", ops_fds, 0,
             register_variants, "regunreg"),
        Case("modify", "modify READ <-> READ|WRITE", "ns per two modifies", ops_fds, 0,
             modify_variants, "modify"),
        Case("get_key", "get_key", "ns per call", ops_fds, 0, get_key_variants),
        Case("map_miss", "get_map().get() miss", "ns per call", ops_fds, 0, map_miss_variants),
    ]
    if any(label.startswith("fastsel-") for label, _ in classes):
        # The stdlib baseline of these is asyncio's default event loop.
        found += [
            Case("loop_soon", "Loop.call_soon + run (stdlib: asyncio)", "ns per callback",
                 0, 0, callback_variants(loop_call_soon)),
            Case("loop_later", "Loop.call_later(0) + fire (stdlib: asyncio)", "ns per callback",
                 0, 0, callback_variants(loop_call_later)),
        ]
    return found


def analyse(samples, baseline=BASELINE):
    """ns summaries and the paired ratios against the baseline, the raw epoll
    variant and the C floor (those present)."""
    result = {"ns": {name: summary(values) | {"per_round": values}
                     for name, values in samples.items()}}
    references = {"vs_stdlib": baseline, "vs_raw": RAW}
    for key, reference in references.items():
        if reference in samples:
            result[key] = {
                name: speedup(samples, name, reference)
                for name in samples if name != reference
            }
    if FLOOR in samples:
        result["vs_floor"] = {
            name: slowdown(samples, name, FLOOR) for name in samples if name != FLOOR
        }
    return result


def run_case(case, classes, rounds, repeat, target, floor_exe, skipped):
    """Set up, measure interleaved, tear down; returns the case's result."""
    progress(f"micro: {case.name}: setting up")
    fds = FdSet(case.n, case.k)
    variants = []
    try:
        variants = case.build(fds, classes, target)
        if case.floor_mode and floor_exe:
            try:
                variants.append(floor.variant(floor_exe, case.floor_mode, case.n, case.k, target))
            except floor.FloorUnavailable as exc:
                skipped.append(f"{case.name}: {exc}")
        samples = interleave(f"micro: {case.name}", variants, rounds, repeat)
    finally:
        for variant in variants:
            variant.close()
        fds.close()
    return {
        "group": case.group,
        "name": case.name,
        "unit": case.unit,
        "params": {"n": case.n, "k": case.k},
        "baseline": BASELINE,
        "variants": [v.name for v in variants],
    } | analyse(samples)


def run(quick, rounds, repeat, target, classes=None, sizes=None, ops_fds=OPS_FDS, use_floor=True):
    """All micro cases; returns (results, skipped messages)."""
    raise_fd_limit()
    skipped = []
    if classes is None:
        classes = selector_classes(missing=skipped)
    floor_exe = None
    if use_floor:
        try:
            floor_exe = floor.build()
        except floor.FloorUnavailable as exc:
            progress(str(exc))
            skipped.append(str(exc))
    if not has_dispatch(classes):
        skipped.append("dispatch: no selector has a dispatch() method; dispatch cases skipped")
    results = [
        run_case(case, classes, rounds, repeat, target, floor_exe, skipped)
        for case in cases(quick, classes, sizes, ops_fds)
    ]
    return results, skipped
