"""Instructions per event of Selector.dispatch(0), counted by callgrind.

    python tools/callgrind_dispatch.py [ROUNDS]

1000 fds are registered (both ends of 500 socketpairs), 100 of them readable;
each round is one dispatch(0) calling operator.is_ (a C function, the
cheapest callable there is) for every ready fd. Only the compiled _dispatch
is counted, the callbacks included; the count is steady where times are not.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile

READY, REGISTERED_PAIRS = 100, 500


def run_rounds(rounds):
    import operator

    import fastsel
    if fastsel.IMPLEMENTATION != "c":
        sys.exit("the compiled implementation did not load")
    sel = fastsel.EpollSelector()
    pairs = [socket.socketpair() for _ in range(REGISTERED_PAIRS)]
    for a, b in pairs:
        sel.register(a, fastsel.EVENT_READ, operator.is_)
        sel.register(b, fastsel.EVENT_READ, operator.is_)
    for _, b in pairs[:READY]:
        b.send(b"x")
    for _ in range(rounds):
        sel.dispatch(0)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--rounds":
        return run_rounds(int(sys.argv[2]))
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.path.join(tmp, 'out')}",
             "--toggle-collect=*Selector__dispatch", sys.executable, __file__, "--rounds",
             str(rounds)],
            capture_output=True, text=True, check=True,
            # The checkout's fastsel, as `python tools/...` from its root sees it.
            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
    collected = int(re.search(r"Collected : (\d+)", done.stderr).group(1))
    print(f"dispatch(0), {READY} ready of {2 * REGISTERED_PAIRS}: "
          f"{collected / (rounds * READY):.0f} instructions per event, the callback included")


if __name__ == "__main__":
    main()
