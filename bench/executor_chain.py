"""fastsel.aio's compiled executor chain (run_in_executor, wrap_future and
_chain_future in fastsel/_aio_executor.pxi) against asyncio's own on the
same loop class: wall time per asyncio.to_thread round trip.

    python -m bench.executor_chain [--rounds R] [--round-trips M]

Each round times both loops in turn (the order alternating from round to
round); the figure is the ratio within each round, median and range.
"""
import argparse
import sys

from . import threads
from .callgrind_threads import make_loop
from .runner import progress, speedup

LOOPS = ("fastsel.aio", "fastsel.aio-asyncio-chain")


def run(rounds, round_trips):
    samples = {name: [] for name in LOOPS}
    for index in range(rounds + 1):  # the first round warms up
        order = LOOPS if index % 2 else LOOPS[::-1]
        for name in order:
            ns = threads.measure(lambda: make_loop(name), lambda: threads.to_thread_round_trips(
                round_trips)) * 1e9 / round_trips
            if index:
                samples[name].append(ns)
        progress(f"executor chain: round {index}/{rounds}")
    return samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--round-trips", type=int, default=threads.ROUND_TRIPS)
    args = parser.parse_args(argv)
    samples = run(args.rounds, args.round_trips)
    ratio = speedup(samples, "fastsel.aio", "fastsel.aio-asyncio-chain")
    print(f"python {sys.version.split()[0]}, {args.rounds} rounds of "
          f"{args.round_trips} to_thread(int) round trips")
    for name in LOOPS:
        values = sorted(samples[name])
        print(f"  {name:26s} median {values[len(values) // 2] / 1e3:6.2f} us "
              f"[{values[0] / 1e3:.2f}-{values[-1] / 1e3:.2f}]")
    print(f"  compiled chain / asyncio's chain, rate: median {ratio['median']:.3f} "
          f"[{ratio['min']:.3f}-{ratio['max']:.3f}]")


if __name__ == "__main__":
    main()
