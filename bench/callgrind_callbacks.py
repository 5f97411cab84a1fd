"""Instructions per callback of a call_soon chain, under callgrind.

    python -m bench.callgrind_callbacks [--loops asyncio,fastsel.aio,uvloop]
                                        [--steps 1000,11000]

Each callback schedules the next with `loop.call_soon`, so a step is one
`call_soon`, one loop iteration (its poll for I/O, with a zero timeout, finds
nothing) and one callback run: what every task wakeup and every transport
callback pays, without any I/O. For each loop a process of its own runs
under `valgrind --tool=callgrind` (this interpreter); the figure is
(I(many) - I(few)) / (many - few), start-up and shutdown cancelling out.

    python -m bench.callgrind_callbacks run LOOP STEPS

is the chain itself.
"""
import argparse
import sys

from . import wrk_servers
from .callgrind import instructions
from .callgrind_server import available

LOOPS = ("asyncio", "fastsel.aio", "uvloop")


def run(loop_name, steps):
    """`steps` callbacks, each scheduling the next; returns how many ran."""
    loop = wrk_servers.new_event_loop(loop_name)
    done = loop.create_future()
    ran = 0

    def step():
        nonlocal ran
        ran += 1
        if ran < steps:
            loop.call_soon(step)
        else:
            done.set_result(None)

    loop.call_soon(step)
    loop.run_until_complete(done)
    loop.close()
    return ran


def main(argv):
    if argv[:1] == ["run"]:
        run(argv[1], int(argv[2]))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind_callbacks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--steps", default="1000,11000",
                        help="FEW,MANY steps (default 1000,11000)")
    args = parser.parse_args(argv)
    few, many = (int(n) for n in args.steps.split(","))
    print(f"Python {sys.version.split()[0]}; instructions per step "
          f"= (I({many}) - I({few})) / {many - few}")
    for loop_name in args.loops.split(","):
        if not available(loop_name):
            print(f"{loop_name:12} skipped: not installed")
            continue
        counts = [instructions(["bench.callgrind_callbacks", "run", loop_name, str(n)])
                  for n in (few, many)]
        print(f"{loop_name:12} {(counts[1] - counts[0]) / (many - few):10,.0f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
