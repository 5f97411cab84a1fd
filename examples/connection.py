"""What the example servers share: a non-blocking connection on a
fastsel.Loop with an idle timeout and an output buffer, and the accept loop."""
import socket


class Connection:
    """Subclasses implement data_received(data) and call write()."""

    def __init__(self, loop, sock, idle_timeout, on_close):
        self.loop = loop
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.on_close = on_close
        self.outgoing = bytearray()
        self.close_when_sent = False
        self.idle_timer = loop.call_later(idle_timeout, self.close)
        loop.add_reader(sock, self.on_readable)

    def on_readable(self):
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        # The client did something: restart the idle timer.
        self.idle_timer.cancel()
        self.idle_timer = self.loop.call_later(self.idle_timeout, self.close)
        self.data_received(data)

    def data_received(self, data):
        raise NotImplementedError

    def write(self, data):
        self.outgoing += data
        self.flush()

    def flush(self):
        try:
            sent = self.sock.send(self.outgoing)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        del self.outgoing[:sent]
        if self.outgoing:
            self.loop.add_writer(self.sock, self.flush)
        else:
            self.loop.remove_writer(self.sock)
            if self.close_when_sent:
                self.close()

    def close(self):
        if self.sock.fileno() < 0:
            return
        self.idle_timer.cancel()
        self.loop.remove_reader(self.sock)
        self.loop.remove_writer(self.sock)
        self.sock.close()
        self.on_close(self)


def serve(loop, connection_class, host="127.0.0.1", port=0, idle_timeout=30.0):
    """Accept connections on (host, port) as connection_class instances;
    return the listening socket and the set of open connections."""
    listener = socket.create_server((host, port), backlog=1024)
    listener.setblocking(False)
    connections = set()

    def accept():
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connections.add(connection_class(loop, sock, idle_timeout, connections.discard))

    loop.add_reader(listener, accept)
    return listener, connections


def main(doc, connection_class, default_port):
    """Command line: serve on --port until Ctrl-C."""
    import argparse

    import fastsel

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--idle", type=float, default=30.0, help="idle timeout, seconds")
    args = parser.parse_args()
    with fastsel.Loop() as loop:
        listener, _ = serve(loop, connection_class, port=args.port, idle_timeout=args.idle)
        print(f"listening on {listener.getsockname()} "
              f"(fastsel {fastsel.IMPLEMENTATION} implementation)")
        try:
            loop.run_forever()
        except KeyboardInterrupt:
            pass
