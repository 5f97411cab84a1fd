"""The example servers, end to end over loopback, on both implementations."""
import importlib
import pathlib
import socket
import sys
import threading

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    # The examples import their shared module as a sibling, as when run as
    # scripts from their folder.
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def running(impl):
    """Start an example's serve() on a Loop in a thread; yield its address."""
    started = []

    def start(example, **options):
        loop = impl.Loop()
        listener, connections = load_example(example).serve(loop, **options)
        thread = threading.Thread(target=loop.run_forever)
        thread.start()
        started.append((loop, thread, listener))
        return listener.getsockname(), connections

    yield start
    for loop, thread, listener in started:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        assert not thread.is_alive()
        listener.close()
        loop.close()


def recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_echo_server(running):
    address, _ = running("echo_server")
    clients = [socket.create_connection(address, timeout=5) for _ in range(20)]
    try:
        for round_ in range(3):
            for i, client in enumerate(clients):
                client.sendall(b"%d:%d;" % (i, round_))
            for i, client in enumerate(clients):
                expected = b"%d:%d;" % (i, round_)
                assert recv_exactly(client, len(expected)) == expected
        # Large payloads go back whole, through the writer path.
        big = bytes(range(256)) * 8192
        sender = threading.Thread(target=clients[0].sendall, args=(big,))
        sender.start()
        assert recv_exactly(clients[0], len(big)) == big
        sender.join()
    finally:
        for client in clients:
            client.close()


def test_echo_server_closes_idle_connections(running):
    address, connections = running("echo_server", idle_timeout=0.2)
    with socket.create_connection(address, timeout=5) as client:
        client.sendall(b"hi")
        assert recv_exactly(client, 2) == b"hi"
        assert client.recv(10) == b""  # closed by the server when idle


def http_get(sock, extra=b""):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n" + extra + b"\r\n")


def read_response(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "connection closed mid-response"
        head += chunk
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, recv_exactly(sock, length)


def test_http_hello_keep_alive(running):
    address, _ = running("http_hello")
    with socket.create_connection(address, timeout=5) as client:
        for _ in range(50):
            http_get(client)
            head, body = read_response(client)
            assert head.startswith(b"HTTP/1.1 200 OK")
            assert body == b"Hello, world!\n"
        # Pipelined requests, answered in order.
        client.sendall(b"GET / HTTP/1.1\r\n\r\n" * 10)
        for _ in range(10):
            assert read_response(client)[1] == b"Hello, world!\n"
        http_get(client, b"Connection: close\r\n")
        head, _ = read_response(client)
        assert b"connection: close" in head.lower()
        assert client.recv(10) == b""


def test_http_hello_many_connections(running):
    address, _ = running("http_hello")
    clients = [socket.create_connection(address, timeout=5) for _ in range(100)]
    try:
        for client in clients:
            http_get(client)
        for client in clients:
            assert read_response(client)[1] == b"Hello, world!\n"
    finally:
        for client in clients:
            client.close()


def test_http_hello_idle_timeout(running):
    address, connections = running("http_hello", idle_timeout=0.2)
    with socket.create_connection(address, timeout=5) as client:
        http_get(client)
        read_response(client)
        assert client.recv(10) == b""
