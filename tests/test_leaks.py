"""No growth with the number of iterations: memory (tracemalloc), open fds
and, on a debug interpreter (tools/refleaks.sh), the total reference count.

Each scenario runs 1,000 and then 4,000 times after a warm-up; what it leaks
per iteration shows up as the difference between the two growths, which must
be about zero. Every error path is in a scenario."""
import gc
import os
import sys
import tempfile
import tracemalloc

import pytest

from reliability_helpers import READ, WRITE, SocketPairs, open_fds, selector_class

HAVE_TOTAL_REFCOUNT = hasattr(sys, "gettotalrefcount")
WARMUP, SMALL, LARGE = 200, 1_000, 4_000
# A leak of a single object per iteration is 3,000 objects, 48 KB even for
# the smallest (16 bytes); the noise measured here (3.9 to 3.11) stayed
# under 100 bytes.
MEMORY_TOLERANCE = 16 * 1024
REFCOUNT_TOLERANCE = 100


def _cython_coroutine_types():
    """Cython's shared coroutine types, as the compiled build's coroutines
    have them; () without it.

    Cython 3.3.1 (outside its limited-API builds) frees a coroutine without
    releasing the reference that creating it took on its type, a heap type
    that lives as long as the process. Each compiled coroutine run then adds
    one to the type's count and its awaiting wrapper one to its own: counts
    that grow, not memory or objects. The refcount figures leave those two
    counts out; what else grows is a leak."""
    try:
        from fastsel import _aio_c
    except ImportError:
        return ()
    coroutine = _aio_c.sock_connect(None, None, None)
    try:
        return type(coroutine), type(coroutine.__await__())
    finally:
        coroutine.close()


CYTHON_COROUTINE_TYPES = _cython_coroutine_types()


def _total_refs():
    """sys.gettotalrefcount() without the references Cython's coroutine
    types gain (see _cython_coroutine_types)."""
    return sys.gettotalrefcount() - sum(sys.getrefcount(t) for t in CYTHON_COROUTINE_TYPES)


def _growth(body, iterations):
    gc.collect()
    memory, fds = tracemalloc.get_traced_memory()[0], open_fds()
    refs = _total_refs() if HAVE_TOTAL_REFCOUNT else 0
    for _ in range(iterations):
        body()
    gc.collect()
    refs = (_total_refs() - refs) if HAVE_TOTAL_REFCOUNT else 0
    return tracemalloc.get_traced_memory()[0] - memory, open_fds() - fds, refs


def measure(body, warmup=WARMUP, small=SMALL, large=LARGE, memory_tolerance=MEMORY_TOLERANCE):
    """Growth of (memory, fds, refcount) at `small` and `large` iterations.

    A leak grows with every iteration, so it shows in every LARGE run; a
    one-off step (an interpreter cache or table resizing: 3.11's
    time.get_clock_info() grows one block by 400 KiB once) shows in one run
    only, so a LARGE run that grew is measured once more and the smaller
    growth kept."""
    tracemalloc.start()
    try:
        for _ in range(warmup):
            body()
        small_growth, large_growth = _growth(body, small), _growth(body, large)
        if (large_growth[0] - small_growth[0] >= memory_tolerance
                or large_growth[2] - small_growth[2] >= REFCOUNT_TOLERANCE):
            again = _growth(body, large)
            large_growth = tuple(min(pair) for pair in zip(large_growth, again))
        return small_growth, large_growth
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- scenarios
# Each takes (selector class, loop class, socket pairs) and returns the body
# of one iteration.

def register_select_dispatch_unregister(cls, _loop, pairs):
    sel = cls()
    a, b = pairs.ready(), pairs()[0]

    def body():
        sel.register(a, READ, lambda f, ev: None)
        sel.register(b, READ | WRITE, "data")
        sel.select(0)
        sel.modify(b, WRITE, lambda f, ev: None)
        sel.dispatch(0)
        sel.get_key(a)
        sel.get_map().get(b)
        sel.unregister(a)
        sel.unregister(b)
    return body, sel.close


def create_and_close(cls, _loop, pairs):
    a = pairs.ready()

    def body():
        sel = cls()
        sel.register(a, READ)
        sel.select(0)
        sel.close()
        sel.close()
        with cls() as other:
            other.register(a, READ)  # dropped by close() while registered
    return body, None


def _expect(error, call, *args):
    try:
        call(*args)
    except error:
        return
    raise AssertionError(f"{call.__name__}{args!r} did not raise {error.__name__}")


def error_paths(cls, _loop, pairs):
    sel = cls()
    a, _ = pairs()
    closed, _ = pairs()
    closed_fd = closed.fileno()
    closed.close()
    regular = tempfile.TemporaryFile()
    epoll = cls.__name__ == "EpollSelector"
    sel.register(a, READ)

    class NoFileno:
        pass

    def body():
        _expect(KeyError, sel.register, a, READ)
        _expect(KeyError, sel.unregister, 12345)
        _expect(KeyError, sel.modify, 12345, READ)
        _expect(KeyError, sel.get_key, 12345)
        _expect(ValueError, sel.register, a.fileno() + 10_000, 0)
        _expect(ValueError, sel.register, a.fileno() + 10_000, 4)
        _expect(ValueError, sel.register, NoFileno(), READ)
        _expect(ValueError, sel.register, -1, READ)
        _expect(ValueError, sel.register, closed, READ)   # fileno() is -1
        _expect(ValueError, sel.select, float("nan"))
        _expect(TypeError, sel.select, "1")
        if cls.__name__ != "SelectSelector":
            _expect(OverflowError, sel.select, 1e300)
        if epoll:
            _expect(OSError, sel.register, closed_fd, READ)          # EBADF
            _expect(PermissionError, sel.register, regular, READ)    # a regular file
        assert len(sel.get_map()) == 1

    def cleanup():
        sel.close()
        regular.close()
    return body, cleanup


def failed_modify(cls, _loop, pairs):
    # A kernel modify that fails drops the key: a closed fd for epoll.
    sel = cls()

    def body():
        a, b = pairs()
        sel.register(a, READ)
        a.close()
        b.close()
        try:
            sel.modify(a, WRITE)
        except (OSError, ValueError):
            pass
        try:
            sel.unregister(a)   # found by identity if modify kept it
        except (KeyError, ValueError):
            pass
        pairs.made.clear()
    return body, sel.close


def raising_callbacks(cls, _loop, pairs):
    sel = cls()
    a, b = pairs.ready(), pairs.ready()

    def boom(fileobj, events):
        raise RuntimeError("callback failed")

    sel.register(a, READ, boom)
    sel.register(b, READ, boom)

    def body():
        try:
            sel.dispatch(0)
        except RuntimeError:
            pass
    return body, sel.close


def loop_timers_and_handles(cls, loop_cls, pairs):
    loop = loop_cls(cls())
    a = pairs.ready()
    noop = lambda *args: None  # noqa: E731

    def body():
        later = loop.call_later(1000, noop, "x")
        loop.call_later(0, noop)
        loop.call_at(loop.time() + 500, noop).cancel()
        loop.call_soon(noop, 1, 2).cancel()
        loop.call_soon_threadsafe(noop)
        loop.add_reader(a, noop)
        loop.add_writer(a, noop)
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.remove_writer(a)
        loop.remove_reader(a)
        later.cancel()
    return body, loop.close


def loop_raising_callbacks(cls, loop_cls, pairs):
    loop = loop_cls(cls())
    loop.set_exception_handler(lambda lp, context: None)

    def boom():
        raise ValueError("callback failed")

    def body():
        loop.call_soon(boom)
        loop.call_later(0, boom)
        loop.call_soon(loop.stop)
        loop.run_forever()
    return body, loop.close


def loop_create_and_close(cls, loop_cls, pairs):
    def body():
        loop = loop_cls(cls())
        loop.call_later(10, print)
        loop.call_soon(print)
        loop.close()
    return body, None


def aio_transports(cls, _loop, pairs):
    """fastsel.aio.EventLoop's transports: echo reads and writes (the
    compiled recv/send), writes the kernel cannot take at once, a read
    error, and a transport per iteration made and closed."""
    import asyncio
    import socket

    from fastsel import aio

    loop = aio.EventLoop(cls())
    loop.set_exception_handler(lambda lp, context: None)

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    ours, peer = pairs()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport, _ = loop.run_until_complete(loop.connect_accepted_socket(Echo, ours))
    transport.set_write_buffer_limits(high=1 << 20)
    big = b"x" * (1 << 14)

    async def exchange():
        peer.send(b"ping")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        transport.write(big)
        assert transport.get_write_buffer_size()  # the socket took only part
        received = 0
        while received < len(big) + 4:
            received += len(await loop.sock_recv(peer, 1 << 14))
        a, b = socket.socketpair()
        other, _ = await loop.connect_accepted_socket(Echo, a)
        b.close()
        other.write(b"to nobody")  # EPIPE: the transport closes with it
        await asyncio.sleep(0)
        other.close()
        await asyncio.sleep(0)

    peer.setblocking(False)

    def body():
        loop.run_until_complete(exchange())

    def cleanup():
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
    return body, cleanup


def aio_handles(cls, _loop, pairs):
    """fastsel.aio.EventLoop's handles and timers, made and run through their
    slots: run, cancelled, raising, with a given context, timers popped from
    the heap and dropped from it cancelled."""
    import contextvars

    from fastsel import aio

    loop = aio.EventLoop(cls())
    loop.set_exception_handler(lambda lp, context: None)
    noop = lambda *args: None  # noqa: E731
    context = contextvars.copy_context()

    def boom():
        raise ValueError("callback failed")

    def body():
        loop.call_soon(noop, 1, 2)
        loop.call_soon(noop, context=context).cancel()
        loop.call_soon_threadsafe(noop, "x")
        loop.call_soon_threadsafe(boom)
        loop.call_soon_threadsafe(noop, context=context).cancel()
        loop.call_soon(boom)
        for delay in (0, 0, 1000, 1000):
            loop.call_later(delay, noop, delay)
        loop.call_at(loop.time(), boom)
        loop.call_later(0, noop).cancel()
        loop.call_later(1000, noop).cancel()
        loop.call_soon(loop.stop)
        loop.run_forever()
        for timer in list(loop._scheduled):
            timer.cancel()
    return body, loop.close


SELECTOR_SCENARIOS = [register_select_dispatch_unregister, create_and_close, error_paths,
                      failed_modify, raising_callbacks]
# The loop's code is the same over every selector: its scenarios use one.
LOOP_SCENARIOS = [loop_timers_and_handles, loop_raising_callbacks, loop_create_and_close,
                  aio_transports, aio_handles]
CASES = ([(s, n) for s in SELECTOR_SCENARIOS for n in ("EpollSelector", "PollSelector")]
         + [(s, "EpollSelector") for s in LOOP_SCENARIOS])


@pytest.fixture(params=CASES, ids=lambda case: f"{case[0].__name__}-{case[1]}")
def growth(request, impl):
    scenario, name = request.param
    pairs = SocketPairs()
    body, cleanup = scenario(selector_class(impl, name), impl.Loop, pairs)
    try:
        yield measure(body)
    finally:
        if cleanup:
            cleanup()
        pairs.close()


def assert_no_fd_or_memory_growth(growth, memory_tolerance=MEMORY_TOLERANCE):
    (small_mem, small_fds, _), (large_mem, large_fds, _) = growth
    assert (small_fds, large_fds) == (0, 0)
    assert large_mem - small_mem < memory_tolerance, (small_mem, large_mem)


def assert_no_refcount_growth(growth):
    (_, _, small_refs), (_, _, large_refs) = growth
    assert large_refs - small_refs < REFCOUNT_TOLERANCE, (small_refs, large_refs)


needs_total_refcount = pytest.mark.skipif(
    not HAVE_TOTAL_REFCOUNT,
    reason="needs a debug interpreter (sys.gettotalrefcount): run tools/refleaks.sh")


def test_no_fd_or_memory_growth(growth):
    assert_no_fd_or_memory_growth(growth)


@needs_total_refcount
def test_no_refcount_growth(growth):
    assert_no_refcount_growth(growth)


# ---------------------------------------------------------------- connections
# A connection per iteration costs far more than the scenarios above, so
# these run fewer: a leak of one object or reference per connection still
# grows by 500 between the two runs. On 3.9 and 3.10 the memory measured
# moved by up to 12 KB between runs here (TLS; under 300 bytes from 3.11), so
# the memory check catches what holds 100 bytes or more per connection; the
# refcount check (debug interpreter) catches any reference.
CONNECTION_COUNTS = dict(warmup=20, small=100, large=600)
CONNECTION_MEMORY_TOLERANCE = 48 * 1024


def aio_connections(loop_class, tls):
    """A fastsel.aio loop's connection path, both sides in one loop: a
    server accepting, a client's create_connection to 127.0.0.1 (with TLS:
    the handshake, the compiled TLS protocol), one round trip, the client's
    close, the server's end of file."""
    import asyncio

    loop = loop_class()
    server_context = client_context = None
    if tls:
        import ssl

        trustme = pytest.importorskip("trustme")
        ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    server = loop.run_until_complete(
        loop.create_server(Echo, "127.0.0.1", 0, ssl=server_context))
    port = server.sockets[0].getsockname()[1]

    async def connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        writer.close()
        await writer.wait_closed()

    def body():
        loop.run_until_complete(connection())

    def cleanup():
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
    return body, cleanup


@pytest.fixture(params=[("EventLoop", False), ("EventLoop", True),
                        ("_PureEventLoop", False), ("_PureEventLoop", True)],
                ids=lambda case: f"{case[0]}-{'tls' if case[1] else 'plain'}")
def connection_growth(request):
    from fastsel import aio

    loop_name, tls = request.param
    body, cleanup = aio_connections(getattr(aio, loop_name), tls)
    try:
        yield measure(body, memory_tolerance=CONNECTION_MEMORY_TOLERANCE, **CONNECTION_COUNTS)
    finally:
        cleanup()


def test_connections_leave_no_fd_or_memory_growth(connection_growth):
    assert_no_fd_or_memory_growth(connection_growth, CONNECTION_MEMORY_TOLERANCE)


@needs_total_refcount
def test_connections_leave_no_refcount_growth(connection_growth):
    assert_no_refcount_growth(connection_growth)


@pytest.mark.skipif(not CYTHON_COROUTINE_TYPES, reason="needs the compiled build")
def test_cython_coroutine_type_references_are_all_that_the_connection_path_keeps():
    """The exception _total_refs makes, checked: a compiled coroutine run to
    its end leaves one more reference on Cython's coroutine type and one on
    its wrapper's, and nothing else (no object stays alive). When a Cython
    release fixes this, the first assertion fails: drop the exception."""
    import asyncio
    import socket

    from fastsel import aio

    loop = aio.EventLoop()
    listener = socket.create_server(("127.0.0.1", 0))

    async def connect_many(count):
        for _ in range(count):
            with socket.socket() as sock:
                sock.setblocking(False)
                await loop.sock_connect(sock, listener.getsockname())
                listener.accept()[0].close()

    def growth(count):
        gc.collect()
        before = [sys.getrefcount(t) for t in CYTHON_COROUTINE_TYPES]
        objects = len(gc.get_objects())
        loop.run_until_complete(connect_many(count))
        gc.collect()
        return ([sys.getrefcount(t) - b for t, b in zip(CYTHON_COROUTINE_TYPES, before)],
                len(gc.get_objects()) - objects)

    try:
        loop.run_until_complete(connect_many(10))
        (small, small_objects), (large, large_objects) = growth(100), growth(300)
        assert [b - a for a, b in zip(small, large)] == [200, 200]
        assert large_objects - small_objects < 50
    finally:
        listener.close()
        loop.close()
