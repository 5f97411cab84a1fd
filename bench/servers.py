"""Whole servers, client and server in one process over loopback TCP.

Every variant gets its own C keep-alive connections. One batch: the client
sends one request on each connection, the server runs until it has answered
all C, then the client reads the C responses and checks their size. The
client's work is the same code for every variant; so is the socket work,
which the "recv+send floor" does alone, with no loop. A variant's overhead
is its time per request minus the floor's in the same round.
"""
import importlib
import socket
import types

from . import loops
from .machine import raise_fd_limit
from .runner import (Variant, calibrate, clock_ns, interleave, paired, progress, slowdown,
                     speedup, summary)


def environment():
    """What the registry needs: fastsel implementations, the package, uvloop."""
    import fastsel
    from fastsel import _impl

    impls, missing = {}, []
    for kind, label in (("c", "fastsel-c"), ("python", "fastsel-py")):
        try:
            impls[label] = _impl.load(kind)
        except ImportError as exc:
            progress(f"{label} unavailable: {exc}")
            missing.append(f"{label}: could not load ({exc}); its server variants are missing")
    try:
        importlib.import_module("fastsel.aio")  # where it exists, so fastsel.aio is set
    except ModuleNotFoundError as exc:
        if exc.name != "fastsel.aio":  # a broken aio module must not pass for a missing one
            raise
    try:
        import uvloop
    except ImportError:
        uvloop = None
    return types.SimpleNamespace(impls=impls, fastsel=fastsel, uvloop=uvloop, missing=missing)


def settle_malloc():
    """Start every run in the state a long-running server is usually in.

    glibc's malloc serves blocks above its mmap threshold with mmap, and
    raises that threshold to the size of the largest mmapped block freed so
    far. Until then each of asyncio's recv(262144) buffers costs mmap, mremap
    and munmap; once any large block has been freed, none of them do. Which
    state a run sees would otherwise depend on what the process did before;
    freeing one 1 MiB block fixes it (harmless on other allocators)."""
    block = bytearray(1 << 20)
    del block


def connected_pairs(count):
    """`count` (client, server) loopback TCP connections, Nagle off."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(min(count, socket.SOMAXCONN))
    pairs = []
    try:
        for _ in range(count):
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pairs.append((client, server))
    finally:
        listener.close()
    return pairs


class Harness:
    """One server variant with its clients: run(batches) -> ns per request.

    The client's turn (read every response, check it, send the next
    requests) runs from inside the server's loop each time it has answered
    a batch, so a loop is entered once per measurement, not once per batch."""

    def __init__(self, server, connections):
        self.server = server
        pairs = connected_pairs(connections)
        self.clients = [client for client, _ in pairs]
        for _, sock in pairs:
            server.add(sock)
        self._buf = bytearray(len(loops.RESPONSE) * 2)
        self._left = 0

    def send_requests(self):
        request = loops.REQUEST
        for client in self.clients:
            client.send(request)

    def client_turn(self):
        buf, received = self._buf, 0
        for client in self.clients:
            received += client.recv_into(buf)
        if received != len(loops.RESPONSE) * len(self.clients):
            raise RuntimeError(f"{received} response bytes for {len(self.clients)} requests")
        self._left -= 1
        if self._left:
            self.send_requests()

    def run(self, batches):
        connections = len(self.clients)
        began = clock_ns()
        self._left = batches
        self.send_requests()
        self.server.serve(batches * connections, connections, self.client_turn)
        elapsed = clock_ns() - began
        if self._left:
            raise RuntimeError(f"server stopped with {self._left} batches unanswered")
        return elapsed / (batches * connections)

    def close(self):
        self.server.close()
        for client in self.clients:
            client.close()


def variants_for(specs, connections, target_seconds):
    variants = []
    try:
        for spec in specs:
            harness = Harness(spec.make(), connections)
            batches = calibrate(harness.run, target_seconds, start=1)
            variants.append(
                Variant(spec.name, lambda h=harness, b=batches: h.run(b), harness.close)
            )
    except BaseException:
        for variant in variants:
            variant.close()
        raise
    return variants


def overhead_ratios(samples, name, reference):
    """(name − floor) ÷ (reference − floor), round by round."""
    floor = samples[loops.FLOOR]
    ratios = [(var - flo) / (ref - flo)
              for var, ref, flo in zip(samples[name], samples[reference], floor)]
    return summary(ratios) | {"per_round": ratios}


def analyse(samples, versus=None):
    """The per-round figures of one case; `versus` maps a variant to the
    one its overhead is also compared with (its "overhead_vs_peer")."""
    floor, base = loops.FLOOR, loops.BASELINE
    result = {
        "ns_per_request": {n: summary(v) | {"per_round": v} for n, v in samples.items()},
        "vs_stdlib": {n: speedup(samples, n, base) for n in samples if n not in (base, floor)},
        "vs_floor": {n: slowdown(samples, n, floor) for n in samples if n != floor},
        "overhead_ns": {
            n: paired(samples, n, floor, lambda var, ref: var - ref)
            for n in samples if n != floor
        },
        "overhead_vs_floor": {
            n: paired(samples, n, floor, lambda var, ref: (var - ref) / ref)
            for n in samples if n != floor
        },
    }
    # How much of the stdlib loop's own overhead is left, round by round.
    result["overhead_vs_stdlib"] = {
        name: overhead_ratios(samples, name, base)
        for name in samples if name not in (base, floor)
    }
    # The asyncio servers against the same server on asyncio's own loop.
    result["peer"] = {name: peer for name, peer in (versus or {}).items()
                      if name in samples and peer in samples}
    result["overhead_vs_peer"] = {
        name: overhead_ratios(samples, name, peer) for name, peer in result["peer"].items()
    }
    return result


def run(rounds, repeat, target, env=None, connection_counts=(50, 500)):
    """In-process server cases; returns (results, skipped messages)."""
    raise_fd_limit()
    settle_malloc()
    env = env or environment()
    entries = loops.registry(env)
    specs = [spec for spec, _ in entries if spec is not None]
    skipped = getattr(env, "missing", []) + [reason for spec, reason in entries if spec is None]
    for reason in skipped:
        progress(f"servers: skipped {reason}")
    results = []
    for connections in connection_counts:
        case = f"servers: {connections} connections"
        progress(f"{case}: setting up {len(specs)} variants")
        variants = variants_for(specs, connections, target)
        try:
            samples = interleave(case, variants, rounds, repeat)
        finally:
            for variant in variants:
                variant.close()
        results.append({
            "name": f"{connections} connections",
            "params": {"connections": connections},
            "unit": "ns per request",
            "baseline": loops.BASELINE,
            "floor": loops.FLOOR,
            "variants": [v.name for v in variants],
        } | analyse(samples, {spec.name: spec.versus for spec in specs if spec.versus}))
    return results, skipped
