"""Instructions per request of a server of bench.wrk_servers, under callgrind.

    python -m bench.callgrind_requests [--servers uvicorn aiohttp ...]
        [--loops asyncio uvloop fastsel.aio] [--requests 2000]
        [--connections 50] [--warmup 500] [--calls]

Each server runs alone in a process under `valgrind --tool=callgrind
--collect-atstart=no`; a client in another process (not under valgrind)
makes keep-alive HTTP/1.1 requests in rounds, one request on each of its
connections per round, and reads every response. After `--warmup`
requests it asks the server, through a pipe the server's loop reads, to
switch callgrind's collection on (a client request compiled at run time
from valgrind's callgrind.h), makes `--requests` requests, and asks it to
switch collection off. The figure is the instructions collected divided
by the requests made; what the server's loop does outside those requests
(uvicorn's tick every 0.1 s, for one) is included while collection is on.
Beside it, the share of those instructions that ran in the interpreter
(libpython and asyncio's C accelerator `_asyncio`): the framework's own
Python code, tasks and futures, which no loop makes cheaper; the rest is the
loop's own code and libc.

`--calls` runs the servers without valgrind and lists instead the Python
functions the server runs per request (sys.setprofile's "call" events while
the requests are made), most called first: what is still Python on a loop.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

from . import callgrind, wrk_servers
from .floor import compiler

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
LOOPS = ("asyncio", "uvloop", "fastsel.aio")
SERVERS = ("protocol", "streams", "aiohttp", "uvicorn")
START, END = b"s", b"e"

TOGGLE_SOURCE = """
#include <valgrind/callgrind.h>
void toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


def build_toggle(directory):
    """A shared library whose toggle_collect() switches callgrind's
    collection on or off (a no-op outside valgrind)."""
    cc = compiler()
    if cc is None:
        sys.exit("no C compiler (cc) found")
    source = os.path.join(directory, "toggle.c")
    library = os.path.join(directory, "toggle.so")
    with open(source, "w") as f:
        f.write(TOGGLE_SOURCE)
    result = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", library, source],
                            capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"could not build the callgrind toggle (valgrind's headers?):\n"
                 f"{result.stderr}")
    return library


# ----------------------------------------------------------------- the client

def read_response(sock, pending):
    """Read one response (headers, then Content-Length bytes); return what
    was read beyond it."""
    while b"\r\n\r\n" not in pending:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        pending += data
    head, _, rest = pending.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        rest += data
    return rest[length:]


def client(port, connections, warmup, requests, control, ack):
    """Requests in rounds; between warm-up and measured requests, and after
    them, a byte on `control` and a wait for the server's byte on `ack`."""
    import socket

    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = [b""] * connections

    def rounds(count):
        for _ in range(count // connections):
            for sock in socks:
                sock.sendall(REQUEST)
            for i, sock in enumerate(socks):
                pending[i] = read_response(sock, pending[i])

    def tell(byte):
        os.write(control, byte)
        if os.read(ack, 1) != byte:
            raise RuntimeError("the server did not acknowledge")

    rounds(warmup)
    tell(START)
    rounds(requests)
    tell(END)
    for sock in socks:
        sock.close()


# ----------------------------------------------------------------- the server

def qualified_name(frame):
    """The qualified name of the function a frame runs (before 3.11, whose
    code objects have no co_qualname: the class of its `self` or `cls`
    argument, where it has one, before the function's name)."""
    code = frame.f_code
    if hasattr(code, "co_qualname"):
        return code.co_qualname
    if code.co_argcount and code.co_varnames[0] in ("self", "cls"):
        owner = frame.f_locals.get(code.co_varnames[0])
        if owner is not None:
            owner = owner if isinstance(owner, type) else type(owner)
            for klass in owner.__mro__:
                function = klass.__dict__.get(code.co_name)
                if getattr(function, "__code__", None) is code:
                    return f"{klass.__qualname__}.{code.co_name}"
    return code.co_name


def serve(server, loop_name, toggle_library, connections, warmup, requests, calls):
    """Start `server` on `loop_name`, run the client against it; print the
    Python calls per request when `calls`."""
    import asyncio
    import ctypes

    toggle = ctypes.CDLL(toggle_library).toggle_collect if toggle_library else None
    loop = wrk_servers.new_event_loop(loop_name)
    asyncio.set_event_loop(loop)
    running, port = loop.run_until_complete(wrk_servers.SERVERS[server][1]())
    control_r, control_w = os.pipe()
    ack_r, ack_w = os.pipe()
    counts = collections.Counter()

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            counts[(code.co_filename, code.co_firstlineno, qualified_name(frame))] += 1

    def on_control():
        byte = os.read(control_r, 1)
        if byte == START:
            if calls:
                sys.setprofile(profile)
            elif toggle:
                toggle()
        else:
            if calls:
                sys.setprofile(None)
            elif toggle:
                toggle()
            loop.stop()
        os.write(ack_w, byte)

    loop.add_reader(control_r, on_control)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.callgrind_requests", "--client", str(port),
         str(connections), str(warmup), str(requests), str(control_w), str(ack_r)],
        pass_fds=(control_w, ack_r), cwd=os.path.dirname(os.path.dirname(__file__)))
    loop.run_forever()
    if child.wait(60):
        sys.exit("the client failed")
    if calls:
        measured = requests // connections * connections
        for (filename, line, name), count in counts.most_common(60):
            print(f"{count / measured:8.2f}  {name}  ({short(filename)}:{line})")
    sys.stdout.flush()
    os._exit(0)  # no teardown: nothing after the measurement matters


def short(filename):
    for marker in ("/lib/python", "/site-packages/"):
        if marker in filename:
            return filename.split(marker, 1)[1].split("/", 1)[-1]
    return os.path.basename(filename)


def measure(server, loop_name, args, directory, toggle):
    out_file = os.path.join(os.path.abspath(directory), f"callgrind.{server}.{loop_name}")
    command = [sys.executable, "-m", "bench.callgrind_requests", "--serve", server,
               loop_name, toggle, str(args.connections), str(args.warmup),
               str(args.requests)]
    if args.calls:
        command.append("--calls")
    else:
        command = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
                   f"--callgrind-out-file={out_file}"] + command
    result = subprocess.run(command, capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    if result.returncode:
        sys.exit(f"{server} on {loop_name} failed:\n{result.stdout}\n{result.stderr}")
    if args.calls:
        print(f"== {server} on {loop_name}: Python calls per request")
        print(result.stdout)
        return None
    measured = args.requests // args.connections * args.connections
    return (callgrind.totals(out_file) / measured,
            callgrind.interpreter_share(out_file))


def main(argv):
    if argv[:1] == ["--client"]:
        client(*map(int, argv[1:]))
        return
    if argv[:1] == ["--serve"]:
        server, loop_name, toggle, connections, warmup, requests = argv[1:7]
        serve(server, loop_name, toggle, int(connections), int(warmup), int(requests),
              "--calls" in argv)
        return
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind_requests",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", nargs="+", default=SERVERS,
                        choices=sorted(wrk_servers.SERVERS))
    parser.add_argument("--loops", nargs="+", default=LOOPS, choices=sorted(wrk_servers.LOOPS))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--calls", action="store_true",
                        help="list the Python functions run per request instead")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep callgrind's files (callgrind.SERVER.LOOP) in DIR, "
                             "for callgrind_annotate")
    args = parser.parse_args(argv)
    if not args.calls and shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    directory = args.keep or tempfile.mkdtemp(prefix="fastsel-callgrind-")
    os.makedirs(directory, exist_ok=True)
    try:
        # --calls runs without valgrind, so needs neither its headers nor the toggle.
        toggle = "" if args.calls else build_toggle(directory)
        for server in args.servers:
            for loop_name in args.loops:
                result = measure(server, loop_name, args, directory, toggle)
                if result is not None:
                    per_request, share = result
                    print(f"{server:10} {loop_name:12} {per_request:10,.0f} instructions "
                          f"per request, {share:.1%} in the interpreter", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
