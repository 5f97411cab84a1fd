"""TLS on each event loop: a server under wrk over https, and a client in
process against one peer.

Server: an asyncio protocol HTTP server (`loop.create_server(..., ssl=ctx)`,
a self-signed RSA-2048 certificate, one write per response) runs alone in a
child process pinned to one core; `wrk -t1` over https on the other keeps
its connections alive. The figure is steady-state keep-alive requests: the
server waits until all of wrk's connections have finished their handshakes
(wrk opens them all at once; they may take seconds, and a loop that
accepts slowly takes longer), lets them run a warm-up second, then counts
its own CPU time (all threads, user and kernel) and the requests it
answers in a window of the given length. A window in which a connection
opened or closed gives no figure, so that no handshake or shutdown is ever
counted; nor does a run whose handshakes do not all complete in time (both
are listed under skipped, with wrk's socket errors). The same server
written as a bare selectors loop over SSLObject and MemoryBIO (FLOOR) runs
too: the socket, OpenSSL and _ssl work per request with as little Python
around it as a server can have.

Client: in this process (pinned to core 0), each loop keeps one TLS
connection to an echo peer (a child process on core 1, the same for every
loop) and makes round trips of a small message on it, then opens, uses and
closes new TLS connections; CPU time of this process per operation.

Every figure is a ratio to asyncio's own loop within the same round,
median and range over the rounds.

    python -m bench --only tls [--quick]
    python -m bench.tls --serve VARIANT CERT KEY CONNECTIONS WARMUP WINDOW
                                                     (server child)
    python -m bench.tls --peer CERT KEY                        (client's peer)
"""
import asyncio
import os
import select
import shutil
import socket
import signal
import ssl
import subprocess
import sys
import tempfile
import time

from .loops import RESPONSE
from .runner import paired, progress, summary
from .wrk import ROOT, parse_wrk, pinned, placement

SERVER_CORE, LOAD_CORE = 0, 1
MESSAGE = b"x" * 64
START_SECONDS = 30      # for a server child to print `ready`
# wrk opens all its connections at once, and each costs the server an RSA
# signature; a loop that accepts slowly takes tens of seconds for 500.
HANDSHAKE_SECONDS = 90
WARMUP_SECONDS = 1      # keep-alive traffic before the measured window
# fastsel.aio's figure, at most: (the loop it is divided by, the ratio).
SERVER_TARGET = ("asyncio", 0.55)
CLIENT_TARGET = ("uvloop", 1.0)


# The loops loop_factories() may give, by name.
LOOP_NAMES = ("asyncio", "fastsel.aio", "uvloop", "fastsel.aio + aiofastnet",
              "uvloop + aiofastnet")


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
        # On a TLS server: once the connection's handshake is done.
        self.transport = transport
        self.state.connected()

    def connection_lost(self, exc):
        self.state.lost()

    def data_received(self, data):
        data = self.pending + data if self.pending else data
        count = data.count(b"\r\n\r\n")
        if count:
            self.transport.write(RESPONSE * count)
            self.state.requests += count
            data = data[data.rfind(b"\r\n\r\n") + 4:]
        self.pending = data


class ServerState:
    """The server's own account of one run under wrk.

    Once all `expected` connections are open (their handshakes done), it
    waits `warmup` seconds of keep-alive traffic, then measures a window of
    `window` seconds: this process's CPU time (all threads, kernel and user)
    and the requests answered in it. It prints one line at each step:

        connected SECONDS            all connections open, SECONDS after the first
        measured CPU_NS REQUESTS HANDSHAKES CLOSED
                                     the window: CPU, requests answered, and
                                     connections opened or closed in it (0 and 0
                                     in a steady keep-alive run)
    """

    def __init__(self, loop, expected, warmup, window, out=sys.stdout):
        self.loop, self.out = loop, out
        self.expected, self.warmup, self.window = expected, warmup, window
        self.handshakes = self.closed = self.requests = 0
        self.first = self.start = None

    @property
    def open(self):
        return self.handshakes - self.closed

    def connected(self):
        self.handshakes += 1
        if self.first is None:
            self.first = time.monotonic()
        if self.open == self.expected and self.start is None:
            self.start = ()
            self.say(f"connected {time.monotonic() - self.first:.3f}")
            self.loop.call_later(self.warmup, self.begin)

    def lost(self):
        self.closed += 1

    def snapshot(self):
        return (time.process_time_ns(), self.requests, self.handshakes, self.closed)

    def begin(self):
        self.start = self.snapshot()
        self.loop.call_later(self.window, self.end)

    def end(self):
        spent = [after - before for after, before in zip(self.snapshot(), self.start)]
        self.say("measured " + " ".join(map(str, spent)))

    def say(self, line):
        print(line, file=self.out, flush=True)


def serve_child(name, cert, key, connections, warmup, window):
    """Child process: serve HTTP over TLS on loop `name` until killed."""
    if name == FLOOR:
        return floor_child(cert, key, connections, warmup, window)
    factory = loop_factories()[0][name]
    loop = factory()
    asyncio.set_event_loop(loop)
    state = ServerState(loop, connections, warmup, window)
    server = loop.run_until_complete(loop.create_server(
        lambda: HttpProtocol(state), "127.0.0.1", 0, ssl=server_context(cert, key),
        backlog=4096))
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    try:
        loop.run_forever()
    finally:
        # Asked to stop before the window ended: how far the handshakes got.
        print(f"open {state.open}", flush=True)


# The floor: what the server's work per request costs without an event
# loop library. A selectors loop (the stdlib's epoll) reads each connection
# into one buffer, feeds it to the connection's SSLObject through its
# MemoryBIO, answers as HttpProtocol does and sends the encrypted records:
# the socket, OpenSSL and _ssl calls every TLS server makes per request,
# with as little Python around them as a server can have.
FLOOR = "floor: selectors + SSLObject"


class FloorLoop:
    """call_later for ServerState, on a loop that runs timers itself."""

    def __init__(self):
        self.timers = []

    def call_later(self, delay, callback):
        self.timers.append((time.monotonic() + delay, callback))

    def timeout(self):
        if not self.timers:
            return None
        return max(0.0, min(t for t, _ in self.timers) - time.monotonic())

    def run_due(self):
        now = time.monotonic()
        due = [entry for entry in self.timers if entry[0] <= now]
        for entry in due:
            self.timers.remove(entry)
            entry[1]()


class FloorConnection:
    def __init__(self, sock, context):
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.ready = False
        self.pending = b""


def floor_child(cert, key, connections, warmup, window):
    """Child process: the floor server (see FLOOR) until SIGTERM."""
    import selectors

    context = server_context(cert, key)
    loop = FloorLoop()
    state = ServerState(loop, connections, warmup, window)
    selector = selectors.DefaultSelector()
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, None)
    buffer = bytearray(262144)
    view = memoryview(buffer)

    def close(conn):
        selector.unregister(conn.sock)
        conn.sock.close()
        if conn.ready:
            state.lost()

    def readable(conn):
        try:
            count = conn.sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            count = 0
        if not count:
            return close(conn)
        conn.incoming.write(view[:count])
        if not conn.ready:
            try:
                conn.sslobj.do_handshake()
            except ssl.SSLWantReadError:
                return conn.sock.send(conn.outgoing.read())
            except ssl.SSLError:
                return close(conn)
            conn.ready = True
            state.connected()
            conn.sock.send(conn.outgoing.read())
        data = conn.pending
        try:
            while True:
                count = conn.sslobj.read(len(buffer), buffer)
                if not count:
                    return close(conn)
                data += buffer[:count]
                if not conn.incoming.pending and not conn.sslobj.pending():
                    break
        except ssl.SSLWantReadError:
            pass
        complete = data.count(b"\r\n\r\n")
        if complete:
            conn.sslobj.write(RESPONSE * complete)
            state.requests += complete
            data = data[data.rfind(b"\r\n\r\n") + 4:]
            conn.sock.send(conn.outgoing.read())
        conn.pending = data

    def stop(signum, frame):
        raise SystemExit

    signal.signal(signal.SIGTERM, stop)
    print(f"ready {listener.getsockname()[1]}", flush=True)
    try:
        while True:
            for key, _ in selector.select(loop.timeout()):
                if key.data is None:
                    try:
                        sock, _ = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    selector.register(sock, selectors.EVENT_READ,
                                      FloorConnection(sock, context))
                else:
                    readable(key.data)
            loop.run_due()
    finally:
        print(f"open {state.open}", flush=True)


class TlsRunFailed(Exception):
    """One server run gave no figure; str() says why."""


def parse_measured(line):
    """A server's `measured` line as a dict, or None for another line."""
    words = line.split()
    if len(words) != 5 or words[0] != "measured":
        return None
    cpu_ns, requests, handshakes, closed = map(int, words[1:])
    return {"cpu_ns": cpu_ns, "requests": requests, "handshakes": handshakes,
            "closed": closed}


def read_line(stream, deadline):
    """The next line of a child's stdout before `deadline` (monotonic), or ""."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
        return ""
    return stream.readline()


def wrk_one(name, cert, key, connections, warmup, window, cores=(None, None),
            handshake_seconds=HANDSHAKE_SECONDS):
    """One server run under wrk: the measured window's figures (see
    ServerState), wrk's summary and how long the handshakes took.

    wrk runs until the server has measured its window, then is stopped with
    SIGINT (it prints its summary then): its own duration is only an upper
    bound. TlsRunFailed when the handshakes do not all complete within
    `handshake_seconds`, or when connections opened or closed during the
    window (the figure would count handshakes)."""
    server_cores, wrk_cores = cores
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.tls", "--serve", name, cert, key, str(connections),
         str(warmup), str(window)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=pinned(server_cores))
    load = None
    try:
        line = read_line(child.stdout, time.monotonic() + START_SECONDS).split()
        if len(line) != 2 or line[0] != "ready":
            raise TlsRunFailed(f"the TLS server on {name} did not start")
        limit = handshake_seconds + warmup + window
        load = subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(limit) + 5}s", "--timeout", "10s",
             f"https://127.0.0.1:{line[1]}/"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=pinned(wrk_cores))
        began = time.monotonic()
        connected = read_line(child.stdout, began + handshake_seconds).split()
        measured = None
        if connected and connected[0] == "connected":
            measured = parse_measured(read_line(child.stdout, began + limit + 5))
    finally:
        wrk_output = ""
        if load is not None:
            if load.poll() is None:
                load.send_signal(signal.SIGINT)
            try:
                wrk_output = load.communicate(timeout=30)[0]
            except subprocess.TimeoutExpired:
                load.kill()
                wrk_output = load.communicate()[0]
        child.terminate()
        try:
            rest = child.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            child.kill()
            rest = child.communicate()[0]
    try:
        summary_of_wrk = parse_wrk(wrk_output)
    except ValueError:
        summary_of_wrk = None
    if measured is None:
        opened = [w for w in rest.split("\n") if w.startswith("open ")]
        got = opened[-1].split()[1] if opened else "?"
        errors = (f"; wrk's socket errors (connect, read, write, timeout): "
                  f"{summary_of_wrk['socket_errors']}" if summary_of_wrk else "")
        if not connected or connected[0] != "connected":
            raise TlsRunFailed(f"{got} of {connections} connections finished their TLS "
                               f"handshake within {handshake_seconds} s{errors}")
        raise TlsRunFailed(f"no measured window{errors}")
    if measured["handshakes"] or measured["closed"]:
        raise TlsRunFailed(f"{measured['handshakes']} connections opened and "
                           f"{measured['closed']} closed during the measured window")
    return measured | {
        "ns_per_request": measured["cpu_ns"] / max(measured["requests"], 1),
        "handshake_seconds": float(connected[1]),
        "wrk": summary_of_wrk,
    }


def run_server(cert, key, factories, rounds, seconds, connection_counts, skipped,
               warmup=WARMUP_SECONDS):
    server_cores, wrk_cores, note = placement()
    progress(f"tls server: {note}")
    results = []
    names = list(factories) + [FLOOR]
    for connections in connection_counts:
        samples = {name: [] for name in names}
        failed = {}
        for index in range(rounds):
            for name in names:
                if name in failed:
                    continue
                try:
                    figures = wrk_one(name, cert, key, connections, warmup, seconds,
                                      (server_cores, wrk_cores))
                except TlsRunFailed as exc:
                    failed[name] = str(exc)
                    continue
                samples[name].append(figures["ns_per_request"])
            progress(f"tls server, {connections} connections: round {index + 1}/{rounds}")
        for name, reason in failed.items():
            del samples[name]
            skipped.append(f"tls server on {name}, {connections} connections: {reason}")
        if "asyncio" in samples:
            results.append(case(f"server under wrk, {connections} connections",
                                "server CPU ns per request", samples, SERVER_TARGET))
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


def start_peer(cert, key):
    """peer_child in a child process, once it listens: (process, port).
    The caller stops it with stop_peer."""
    peer = subprocess.Popen([sys.executable, "-m", "bench.tls", "--peer", cert, key],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = peer.stdout.readline().split()
    if len(line) != 2 or line[0] != "ready":
        stop_peer(peer)
        raise RuntimeError("TLS peer did not start")
    return peer, int(line[1])


def stop_peer(peer):
    peer.kill()
    peer.wait()
    peer.stdout.close()


def run_client(directory, cert, key, factories, rounds, trips, connects):
    peer, port = start_peer(cert, key)
    affinity = os.sched_getaffinity(0)
    variants = {}
    try:
        os.sched_setaffinity(0, {SERVER_CORE})
        context = client_context(directory)
        variants = {name: ClientVariant(factory, port, context)
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
        stop_peer(peer)
    return [case("client: round trip on a kept-alive connection", "client CPU ns per round trip",
                 trip, CLIENT_TARGET),
            case("client: new connection (handshake, one round trip, close)",
                 "client CPU ns per connection", connect, CLIENT_TARGET)]


# ---------------------------------------------------------------- report

def case(name, unit, samples, target=None):
    """One case's figures, {loop: [per round]} in `samples`, as ratios to
    asyncio's within each round; `target`: (loop, at most) for fastsel.aio's
    figure divided by that loop's."""
    ratios = {n: paired(samples, n, "asyncio", lambda v, a: v / a)
              for n in samples if n != "asyncio"}
    result = {"name": name, "unit": unit,
              unit: {n: summary(v) | {"per_round": v} for n, v in samples.items()},
              "vs_asyncio": ratios}
    if target is not None and "fastsel.aio" in samples and target[0] in samples:
        versus, at_most = target
        ratio = paired(samples, "fastsel.aio", versus, lambda f, v: f / v)
        result["target"] = ratio | {"versus": versus, "at_most": at_most,
                                    "met": ratio["median"] <= at_most}
    return result


def cell(ratio):
    return f"{ratio['median']:.2f} [{ratio['min']:.2f}–{ratio['max']:.2f}]"


def table(results):
    if not results:
        return ""
    names = list(dict.fromkeys(n for entry in results for n in entry["vs_asyncio"]))
    lines = ["| case | " + " | ".join(names) + " | fastsel.aio's target |",
             "|---" * (len(names) + 2) + "|"]
    for entry in results:
        ratios = entry["vs_asyncio"]
        cells = [cell(ratios[n]) if n in ratios else "–" for n in names]
        target = entry.get("target")
        if target is None:
            cells.append("–")
        else:
            cells.append(f"÷ {target['versus']}: {cell(target)} (≤ {target['at_most']:.2f}: "
                         f"{'met' if target['met'] else 'not met'})")
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


def run(rounds, wrk_seconds, connection_counts=(50, 500), trips=2000, connects=40,
        warmup=WARMUP_SECONDS, loops=None):
    """Both TLS cases; returns (results, skipped messages). The server's
    measured window is `wrk_seconds` long, after `warmup` seconds."""
    try:
        import trustme  # noqa: F401
    except ImportError:
        return [], ["tls: trustme is not installed (pip install '.[bench]')"]
    factories, skipped = loop_factories()
    if loops is not None:
        # asyncio's loop stays: every figure is a ratio to it.
        factories = {name: factory for name, factory in factories.items()
                     if name == "asyncio" or name in loops}
    results = []
    with tempfile.TemporaryDirectory() as directory:
        cert, key = make_certificate(directory)
        results += run_client(directory, cert, key, factories, rounds, trips, connects)
        if shutil.which("wrk") is None:
            skipped.append("tls server: wrk is not installed (apt-get install wrk)")
        else:
            results += run_server(cert, key, factories, rounds, wrk_seconds,
                                  connection_counts, skipped, warmup)
    return results, skipped


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--serve":
        serve_child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
                    float(sys.argv[6]), float(sys.argv[7]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--peer":
        peer_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
