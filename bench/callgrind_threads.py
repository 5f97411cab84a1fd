"""Instructions per operation, under valgrind's callgrind, for the paths of
bench/threads.py and for call_soon, on asyncio's loop, uvloop and fastsel.aio.

    python -m bench.callgrind_threads [--cases C,...] [--loops L,...]
                                      [--small N] [--large M]

Each (case, loop) runs twice under `valgrind --tool=callgrind`, making
`small` then `large` operations after the same warm-up; the figure is
(instructions of the large run - those of the small run) / (large - small),
so that start-up, imports and the loop's creation cancel out. Every thread
of the process is counted (callgrind runs them one at a time).

Cases:
  threadsafe  a producer thread makes the calls loop.call_soon_threadsafe(noop)
              into the running loop, which runs them (both sides counted).
  call_soon   a callback schedules 100 loop.call_soon(noop), the loop runs
              them in its next iteration (the iteration's cost shared by 100).
  to_thread   a coroutine awaits asyncio.to_thread(int), one after another.
  floor       no loop: a producer thread appends (copy_context(), noop) to a
              deque n times, then the main thread runs context.run(noop) for
              each from C (itertools.starmap): a callback and its context
              handed from one thread to another, in a tuple for a handle,
              with no wake-up and no switch of the GIL between the two (run
              with --loops none).
  bare_floor  the same without contexts: the producer appends noop, the main
              thread calls them from C (3.11+: operator.call): the
              producer's Python loop, one C call and a Python callback.

Loops: asyncio (SelectorEventLoop), uvloop (when installed), fastsel.aio, and
fastsel.aio-asyncio-chain: fastsel.aio with asyncio's run_in_executor (and so
asyncio's wrap_future and _chain_future), for the executor path's comparison.
"""
import argparse
import sys

from . import callgrind, threads
from .threads import noop

CASES = ("threadsafe", "call_soon", "to_thread")
FLOORS = ("floor", "bare_floor")
LOOPS = ("asyncio", "uvloop", "fastsel.aio", "fastsel.aio-asyncio-chain")
WARM_UP = 200


def make_loop(name):
    import asyncio
    import selectors

    if name == "asyncio":
        return asyncio.SelectorEventLoop(selectors.DefaultSelector())
    if name == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    from asyncio import base_events

    from fastsel import aio
    if name == "fastsel.aio":
        return aio.EventLoop()
    if name == "fastsel.aio-asyncio-chain":
        class AsyncioChain(aio.EventLoop):
            run_in_executor = base_events.BaseEventLoop.run_in_executor
        return AsyncioChain()
    raise SystemExit(f"unknown loop {name!r}")


async def call_soon(n):
    import asyncio

    loop = asyncio.get_running_loop()
    call = loop.call_soon
    for _ in range(n // 100):
        for _ in range(100):
            call(noop)
        await asyncio.sleep(0)


def floor(n, bare):
    import collections
    import contextvars
    import itertools
    import operator
    import threading

    queue = collections.deque()

    def produce():
        append, copy = queue.append, contextvars.copy_context
        if bare:
            for _ in range(n):
                append(noop)
        else:
            for _ in range(n):
                append((copy(), noop))

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    # Both make an iterator of None results, drained by any() in C.
    if bare:
        any(map(operator.call, queue))
    else:
        any(itertools.starmap(contextvars.Context.run, queue))


def worker(case, loop_name, n):
    """Run the case's warm-up, then n operations (inside valgrind)."""
    if case in FLOORS:
        floor(WARM_UP, case == "bare_floor")
        floor(n, case == "bare_floor")
        return
    workload = {"threadsafe": lambda n: threads.threadsafe_calls(n),
                "call_soon": call_soon,
                "to_thread": lambda n: threads.to_thread_round_trips(n)}[case]
    loop = make_loop(loop_name)
    try:
        loop.run_until_complete(workload(WARM_UP))
        loop.run_until_complete(workload(n))
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


def instructions(case, loop_name, n):
    """Instructions of a whole worker process making n operations."""
    return callgrind.instructions(["bench.callgrind_threads", "--worker", case, loop_name, str(n)])


def per_operation(case, loop_name, small, large):
    return (instructions(case, loop_name, large)
            - instructions(case, loop_name, small)) / (large - small)


def available(loop_name):
    if loop_name == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=3, metavar=("CASE", "LOOP", "N"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"of {', '.join(CASES + FLOORS)}")
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=12000)
    args = parser.parse_args(argv)
    if args.worker:
        case, loop_name, n = args.worker
        worker(case, loop_name, int(n))
        return
    import fastsel
    print(f"python {sys.version.split()[0]}, fastsel {fastsel.IMPLEMENTATION}; "
          f"instructions per operation ({args.small} -> {args.large} operations)")
    for case in args.cases.split(","):
        for loop_name in args.loops.split(","):
            if not available(loop_name) or (case in FLOORS) != (loop_name == "none"):
                continue
            if loop_name.endswith("asyncio-chain") and case != "to_thread":
                continue
            figure = per_operation(case, loop_name, args.small, args.large)
            print(f"  {case:11s} {loop_name:26s} {figure:10,.0f}", flush=True)


if __name__ == "__main__":
    main()
