"""A keep-alive HTTP/1.1 "hello" server on fastsel.Loop.

Every request gets a fixed 200 response; connections stay open between
requests and are closed after --idle seconds without one.

    python examples/http_hello.py --port 8080
"""
import functools

from connection import Connection, main, serve

BODY = b"Hello, world!\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
CLOSE_RESPONSE = RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
MAX_HEADER = 64 * 1024


class HttpConnection(Connection):
    def __init__(self, *args):
        super().__init__(*args)
        self.received = bytearray()

    def data_received(self, data):
        self.received += data
        responses = bytearray()
        # Requests without bodies only (GET/HEAD): each ends at a blank line.
        while not self.close_when_sent:
            end = self.received.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(self.received[:end]).lower()
            del self.received[:end + 4]
            if b"\r\nconnection: close" in head or head.split(b"\r\n")[0].endswith(b"http/1.0"):
                responses += CLOSE_RESPONSE
                self.close_when_sent = True
            else:
                responses += RESPONSE
        if len(self.received) > MAX_HEADER:
            self.close()
        elif responses:
            self.write(responses)


serve = functools.partial(serve, connection_class=HttpConnection)

if __name__ == "__main__":
    main(__doc__, HttpConnection, default_port=8080)
