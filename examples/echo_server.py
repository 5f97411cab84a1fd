"""An echo server on fastsel.Loop: every byte a client sends comes back.

Connections idle for longer than --idle seconds are closed.

    python examples/echo_server.py --port 8007
"""
import functools

from connection import Connection, main, serve


class EchoConnection(Connection):
    def data_received(self, data):
        self.write(data)


serve = functools.partial(serve, connection_class=EchoConnection)

if __name__ == "__main__":
    main(__doc__, EchoConnection, default_port=8007)
