"""Instructions per event of Selector.dispatch(0), counted by callgrind.

    python -m bench.callgrind_dispatch [ROUNDS]

1000 fds are registered (both ends of 500 socketpairs), 100 of them readable;
each round is one dispatch(0) calling operator.is_ (a C function, the
cheapest callable there is) for every ready fd. Only the compiled _dispatch
is counted, the callbacks included.
"""
import socket
import sys

from . import callgrind

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
    counted = callgrind.instructions(["bench.callgrind_dispatch", "--rounds", str(rounds)],
                                     options=["--toggle-collect=*Selector__dispatch"])
    print(f"dispatch(0), {READY} ready of {2 * REGISTERED_PAIRS}: "
          f"{counted / (rounds * READY):.0f} instructions per event, the callback included")


if __name__ == "__main__":
    main()
