"""TLS on each event loop: a server under wrk over https, and a client in
process against one peer.

Server: an asyncio protocol HTTP server (`loop.create_server(..., ssl=ctx)`,
a self-signed RSA-2048 certificate, one write per response) runs alone in a
child process pinned to core 0; `wrk` over https on core 1 keeps its
connections alive. The server's CPU per request counts from the moment its
last connection finished its handshake (the handshakes are the same
OpenSSL work on every loop), to its end, from the kernel's accounting.

Client: in this process (pinned to core 0), each loop keeps one TLS
connection to an echo peer (a child process on core 1, the same for every
loop) and makes round trips of a small message on it, then opens, uses and
closes new TLS connections; CPU time of this process per operation.

Every figure is a ratio to asyncio's own loop within the same round,
median and range over the rounds.

    python -m bench --only tls [--quick]
    python -m bench.tls --serve VARIANT CERT KEY CONNECTIONS   (server child)
    python -m bench.tls --peer CERT KEY                        (client's peer)
"""
import asyncio
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

from .loops import REQUEST, RESPONSE
from .runner import progress, summary

SERVER_CORE, LOAD_CORE = 0, 1
MESSAGE = b"x" * 64


def loop_factories():
    """name -> zero-argument loop factory, for the loops installed here;
    and the names left out, with why."""
    import fastsel.aio

    factories = {"asyncio": asyncio.SelectorEventLoop, "fastsel.aio": fastsel.aio.new_event_loop}
    missing = []
    try:
        import uvloop
    except ImportError:
        uvloop = None
        missing.append("uvloop: not installed")
    else:
        factories["uvloop"] = uvloop.new_event_loop
    try:
        import aiofastnet
    except ImportError:
        missing.append("aiofastnet: not installed (pip install aiofastnet)")
    else:
        # loop_factory() also sets the loop as the current one, which
        # Runner expects; here only the patched loop matters.
        factories["fastsel.aio + aiofastnet"] = aiofastnet.loop_factory(
            fastsel.aio.new_event_loop)
        if uvloop is not None:
            factories["uvloop + aiofastnet"] = aiofastnet.loop_factory(uvloop.new_event_loop)
    return factories, missing


def make_certificate(directory):
    """A self-signed RSA-2048 certificate for localhost/127.0.0.1:
    (certificate file, key file)."""
    import trustme

    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    issued = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.RSA)
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    issued.cert_chain_pems[0].write_to_path(cert)
    for pem in issued.cert_chain_pems[1:]:
        pem.write_to_path(cert, append=True)
    issued.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    return cert, key


def server_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def client_context(directory):
    context = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
    return context


def cpu_seconds():
    usage = os.times()
    return usage.user + usage.system


# ---------------------------------------------------------------- server

class HttpProtocol(asyncio.Protocol):
    """Answers each complete request with RESPONSE, as bench.loops' servers."""

    def __init__(self, state):
        self.state = state
        self.pending = b""

    def connection_made(self, transport):
        self.transport = transport
        self.state.connected()

    def data_received(self, data):
        data = self.pending + data if self.pending else data
        count = data.count(b"\r\n\r\n")
        if count:
            self.transport.write(RESPONSE * count)
            self.state.requests += count
            data = data[data.rfind(b"\r\n\r\n") + 4:]
        self.pending = data


class ServerState:
    def __init__(self, connections):
        self.expected = connections
        self.count = 0
        self.requests = 0

    def connected(self):
        self.count += 1
        if self.count == self.expected:
            print(f"connected {cpu_seconds():.6f} {self.requests}", flush=True)


def serve_child(name, cert, key, connections):
    """Child process: serve HTTP over TLS on loop `name` until killed."""
    os.sched_setaffinity(0, {SERVER_CORE})
    factory = loop_factories()[0][name]
    loop = factory()
    asyncio.set_event_loop(loop)
    state = ServerState(connections)
    server = loop.run_until_complete(loop.create_server(
        lambda: HttpProtocol(state), "127.0.0.1", 0, ssl=server_context(cert, key),
        backlog=4096))
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    loop.run_forever()


WRK_REQUESTS = re.compile(r"(\d+) requests in ")


def wrk_one(name, cert, key, connections, seconds):
    """One server run under wrk: its CPU ns per request after the handshakes."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.tls", "--serve", name, cert, key, str(connections)],
        stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            raise RuntimeError(f"TLS server {name!r} did not start")
        out = subprocess.run(
            ["taskset", "-c", str(LOAD_CORE), "wrk", "-t1", f"-c{connections}",
             f"-d{seconds}s", "--timeout", "10s", f"https://127.0.0.1:{line[1]}/"],
            capture_output=True, text=True, check=True).stdout
    finally:
        os.kill(child.pid, signal.SIGKILL)
        _, _, usage = os.wait4(child.pid, 0)
        child.returncode = -signal.SIGKILL
        connected = child.stdout.read().split()
        child.stdout.close()
    if len(connected) != 3 or connected[0] != "connected":
        return None  # some handshakes failed: no figure for this run
    requests = int(WRK_REQUESTS.search(out).group(1)) - int(connected[2])
    cpu = usage.ru_utime + usage.ru_stime - float(connected[1])
    return cpu * 1e9 / max(requests, 1)


def run_server(cert, key, factories, rounds, seconds, connection_counts, skipped):
    results = []
    for connections in connection_counts:
        samples = {name: [] for name in factories}
        for index in range(rounds):
            for name in factories:
                samples[name].append(wrk_one(name, cert, key, connections, seconds))
            progress(f"tls server, {connections} connections: round {index + 1}/{rounds}")
        for name in [n for n, values in samples.items() if None in values]:
            del samples[name]
            skipped.append(f"tls server {name}, {connections} connections: not all of "
                           f"wrk's TLS handshakes completed in some round")
        results.append(case(f"server under wrk, {connections} connections",
                            "server CPU ns per request", samples))
    return results


# ---------------------------------------------------------------- client

class EchoPeer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def peer_child(cert, key):
    """Child process: a TLS echo server on asyncio's loop, the client's peer."""
    os.sched_setaffinity(0, {LOAD_CORE})
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        EchoPeer, "127.0.0.1", 0, ssl=server_context(cert, key), backlog=4096))
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    loop.run_forever()


class EchoClient(asyncio.Protocol):
    def __init__(self):
        self.waiter = None
        self.received = 0
        self.closed = None

    def connection_made(self, transport):
        self.transport = transport
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data):
        self.received += len(data)
        if self.received >= len(MESSAGE) and self.waiter is not None:
            self.received -= len(MESSAGE)
            self.waiter.set_result(None)

    def connection_lost(self, exc):
        if not self.closed.done():
            self.closed.set_result(exc)

    async def round_trip(self):
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(MESSAGE)
        await self.waiter


class ClientVariant:
    """One loop with a kept-alive TLS connection to the peer."""

    def __init__(self, factory, port, context):
        self.loop = factory()
        self.port, self.context = port, context
        self.protocol = self.loop.run_until_complete(self.connect())

    async def connect(self):
        _, protocol = await asyncio.get_running_loop().create_connection(
            EchoClient, "127.0.0.1", self.port, ssl=self.context, server_hostname="localhost")
        return protocol

    async def round_trips(self, count):
        for _ in range(count):
            await self.protocol.round_trip()

    async def new_connections(self, count):
        for _ in range(count):
            protocol = await self.connect()
            await protocol.round_trip()
            protocol.transport.close()
            await protocol.closed

    def measure(self, coro_function, count):
        began = time.process_time_ns()
        self.loop.run_until_complete(coro_function(count))
        return (time.process_time_ns() - began) / count

    def close(self):
        self.protocol.transport.close()
        self.loop.run_until_complete(self.protocol.closed)
        self.loop.close()


def run_client(directory, cert, key, factories, rounds, trips, connects):
    peer = subprocess.Popen([sys.executable, "-m", "bench.tls", "--peer", cert, key],
                            stdout=subprocess.PIPE, text=True)
    affinity = os.sched_getaffinity(0)
    variants = {}
    try:
        line = peer.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            raise RuntimeError("TLS peer did not start")
        os.sched_setaffinity(0, {SERVER_CORE})
        context = client_context(directory)
        variants = {name: ClientVariant(factory, int(line[1]), context)
                    for name, factory in factories.items()}
        trip = {name: [] for name in variants}
        connect = {name: [] for name in variants}
        for index in range(rounds + 1):  # the first round warms up
            for name, variant in variants.items():
                trip_ns = variant.measure(variant.round_trips, trips)
                connect_ns = variant.measure(variant.new_connections, connects)
                if index:
                    trip[name].append(trip_ns)
                    connect[name].append(connect_ns)
            progress(f"tls client: round {index}/{rounds}")
    finally:
        for variant in variants.values():
            variant.close()
        os.sched_setaffinity(0, affinity)
        peer.kill()
        peer.wait()
        peer.stdout.close()
    return [case("client: round trip on a kept-alive connection", "client CPU ns per round trip",
                 trip),
            case("client: new connection (handshake, one round trip, close)",
                 "client CPU ns per connection", connect)]


# ---------------------------------------------------------------- report

def case(name, unit, samples):
    ratios = {n: summary([v / a for v, a in zip(values, samples["asyncio"])])
              for n, values in samples.items() if n != "asyncio"}
    return {"name": name, "unit": unit,
            unit: {n: summary(v) | {"per_round": v} for n, v in samples.items()},
            "vs_asyncio": ratios}


def table(results):
    if not results:
        return ""
    names = list(dict.fromkeys(n for entry in results for n in entry["vs_asyncio"]))
    lines = ["| case | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for entry in results:
        ratios = entry["vs_asyncio"]
        cells = [f"{ratios[n]['median']:.2f} [{ratios[n]['min']:.2f}–{ratios[n]['max']:.2f}]"
                 if n in ratios else "–" for n in names]
        lines.append(f"| {entry['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(results, directory):
    """The TLS table as a Markdown section, also appended to results.md."""
    if not results:
        return ""
    text = ("\n\n## TLS\n\nCPU per operation relative to asyncio's loop in the same "
            "round, median [min–max]:\n\n" + table(results) + "\n")
    with open(os.path.join(directory, "results.md"), "a") as f:
        f.write(text)
    return text


def run(rounds, wrk_seconds, connection_counts=(50, 500), trips=2000, connects=40):
    """Both TLS cases; returns (results, skipped messages)."""
    try:
        import trustme  # noqa: F401
    except ImportError:
        return [], ["tls: trustme is not installed (pip install '.[bench]')"]
    factories, skipped = loop_factories()
    results = []
    with tempfile.TemporaryDirectory() as directory:
        cert, key = make_certificate(directory)
        results += run_client(directory, cert, key, factories, rounds, trips, connects)
        if shutil.which("wrk") is None:
            skipped.append("tls server: wrk is not installed (apt-get install wrk)")
        else:
            results += run_server(cert, key, factories, rounds, wrk_seconds,
                                  connection_counts, skipped)
    return results, skipped


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--serve":
        serve_child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--peer":
        peer_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
