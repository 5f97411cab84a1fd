"""Interleaved measurement and the statistics the reports are built from.

A case is a set of variants doing the same work. Every round measures each
variant once, in order (A B C A B C ...), so that a noisy neighbour slows
all of them alike; the first round is a discarded warm-up. Ratios are taken
pair by pair inside a round, then summarised by their median and range.

Time is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID), user and system:
on a shared machine the wall clock also counts the scheduler ticks given to
other processes, which arrive in 4 ms lumps, while nothing measured here
blocks, so CPU time is the work itself.
"""
import statistics
import sys
import time

clock_ns = time.process_time_ns
CLOCK = "process CPU time (CLOCK_PROCESS_CPUTIME_ID)"


class Variant:
    """One way of doing a case's work.

    `measure()` runs one batch and returns nanoseconds per operation;
    `close()` releases what the variant holds."""

    def __init__(self, name, measure, close=None):
        self.name = name
        self.measure = measure
        self._close = close

    def close(self):
        if self._close is not None:
            self._close()


def progress(message):
    """One progress line on stderr (stdout carries the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def interleave(case, variants, rounds, repeat=1, warmup=1):
    """Measure `variants` round by round; return {name: [ns per op, ...]}.

    Within a round each variant takes the fastest of `repeat` short batches:
    on a shared machine a neighbour's burst only ever slows a batch down, so
    the minimum is the batch it disturbed least."""
    samples = {v.name: [] for v in variants}
    total = warmup + rounds
    for index in range(total):
        for variant in variants:
            ns = min(variant.measure() for _ in range(repeat))
            if index >= warmup:
                samples[variant.name].append(ns)
        label = "warm-up" if index < warmup else f"round {index - warmup + 1}/{rounds}"
        progress(f"{case}: {label}")
    return samples


def summary(values):
    """Median and range of a list of numbers."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def paired(samples, numerator, denominator, combine):
    """Summary of combine(num, den) taken within each round."""
    values = [
        combine(a, b) for a, b in zip(samples[numerator], samples[denominator])
    ]
    return summary(values) | {"per_round": values}


def speedup(samples, variant, reference):
    """How many times faster `variant` is than `reference`, round by round."""
    return paired(samples, reference, variant, lambda ref, var: ref / var)


def slowdown(samples, variant, reference):
    """How many times slower `variant` is than `reference`, round by round."""
    return paired(samples, variant, reference, lambda var, ref: var / ref)


def calibrate(run, target_seconds, start=16, cap=1 << 24):
    """An iteration count for which `run(count)` takes about target_seconds."""
    count = start
    while True:
        began = clock_ns()
        run(count)
        spent = (clock_ns() - began) / 1e9
        if spent >= target_seconds / 4 or count >= cap:
            break
        count *= 4
    return max(1, min(cap, int(count * target_seconds / max(spent, 1e-9))))
