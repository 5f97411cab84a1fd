"""Threads feeding a running asyncio loop, on asyncio's loop, uvloop and
fastsel.aio, side by side.

- call_soon_threadsafe: a producer thread makes `calls` calls into a running
  loop; the loop runs them all. Reported: calls per second of wall time
  (from the first call to the last callback) and process CPU per call (both
  threads).
- to_thread: a coroutine awaits `round_trips` `asyncio.to_thread(int)`, each
  a trip to the default executor and back: wall time per round trip.

    python -m bench.threads [--rounds R] [--calls N] [--round-trips M]

Each round runs every loop once, in turn; figures are medians of ratios
taken within a round.
"""
import argparse
import asyncio
import selectors
import statistics
import sys
import threading
import time

from .runner import Variant, interleave, progress, speedup

BASELINE = "asyncio"
CALLS = 200_000
ROUND_TRIPS = 5_000


def loop_factories():
    """[(label, loop factory)]: asyncio's default loop first, then uvloop
    (when installed) and fastsel.aio."""
    from fastsel import aio

    factories = [(BASELINE, lambda: asyncio.SelectorEventLoop(selectors.DefaultSelector()))]
    try:
        import uvloop
    except ImportError:
        progress("uvloop is not installed: left out")
    else:
        factories.append(("uvloop", uvloop.new_event_loop))
    factories.append(("fastsel.aio", aio.new_event_loop))
    return factories


def noop():
    """The callback the producer thread schedules."""


async def threadsafe_calls(calls):
    """(wall seconds, CPU seconds) for `calls` call_soon_threadsafe calls
    from one producer thread, until the loop has run the last one."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def produce():
        call = loop.call_soon_threadsafe
        for _ in range(calls - 1):
            call(noop)
        call(done.set_result, None)

    producer = threading.Thread(target=produce)
    wall, cpu = time.perf_counter(), time.process_time()
    producer.start()
    await done
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    producer.join()
    return wall, cpu


async def to_thread_round_trips(round_trips):
    """Wall seconds for `round_trips` sequential asyncio.to_thread(int)."""
    await asyncio.to_thread(int)  # the executor's thread exists before timing
    wall = time.perf_counter()
    for _ in range(round_trips):
        await asyncio.to_thread(int)
    return time.perf_counter() - wall


def measure(factory, workload):
    loop = factory()
    try:
        return loop.run_until_complete(workload())
    finally:
        loop.close()


def run(rounds, calls=CALLS, round_trips=ROUND_TRIPS):
    """Both cases, interleaved round by round; returns a list of results."""
    factories = loop_factories()
    cpu_samples = {name: [] for name, _ in factories}

    def threadsafe_variant(name, factory):
        def one():
            wall, cpu = measure(factory, lambda: threadsafe_calls(calls))
            cpu_samples[name].append(cpu * 1e9 / calls)
            return wall * 1e9 / calls
        return Variant(name, one)

    def to_thread_variant(name, factory):
        return Variant(name, lambda: measure(
            factory, lambda: to_thread_round_trips(round_trips)) * 1e9 / round_trips)

    results = []
    samples = interleave("threads: call_soon_threadsafe",
                         [threadsafe_variant(*f) for f in factories], rounds)
    # The warm-up round's CPU samples come first: drop them.
    cpu_samples = {name: values[-rounds:] for name, values in cpu_samples.items()}
    results.append(summarise("call_soon_threadsafe", f"{calls} calls from one thread",
                             samples, cpu_samples))
    samples = interleave("threads: to_thread", [to_thread_variant(*f) for f in factories],
                         rounds)
    results.append(summarise("to_thread", f"{round_trips} awaited to_thread(int)", samples))
    return results


def summarise(group, title, wall, cpu=None):
    result = {
        "group": group,
        "name": title,
        "baseline": BASELINE,
        "variants": list(wall),
        "wall_ns": {name: {"median": statistics.median(v), "per_round": v}
                    for name, v in wall.items()},
        "rate_vs_asyncio": {name: speedup(wall, name, BASELINE) for name in wall},
    }
    if "uvloop" in wall:
        result["rate_vs_uvloop"] = {name: speedup(wall, name, "uvloop") for name in wall}
    if cpu is not None:
        result["cpu_ns"] = {name: {"median": statistics.median(v), "per_round": v}
                            for name, v in cpu.items()}
        result["cpu_vs_uvloop"] = ({name: speedup(cpu, name, "uvloop") for name in cpu}
                                   if "uvloop" in cpu else {})
    return result


def text(results):
    lines = []
    for case in results:
        lines.append(f"{case['group']}: {case['name']}")
        for name in case["variants"]:
            ns = case["wall_ns"][name]["median"]
            line = (f"  {name:12s} {1e9 / ns / 1e3:9.1f} k/s   x asyncio "
                    f"{case['rate_vs_asyncio'][name]['median']:5.2f}")
            if "rate_vs_uvloop" in case:
                line += f"   x uvloop {case['rate_vs_uvloop'][name]['median']:5.2f}"
            if "cpu_ns" in case:
                line += f"   CPU/call {case['cpu_ns'][name]['median'] / 1e3:5.2f} us"
            lines.append(line)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--round-trips", type=int, default=ROUND_TRIPS)
    args = parser.parse_args(argv)
    results = run(args.rounds, args.calls, args.round_trips)
    import fastsel
    print(f"python {sys.version.split()[0]}, fastsel {fastsel.IMPLEMENTATION}, "
          f"{args.rounds} rounds")
    print(text(results))


if __name__ == "__main__":
    main()
