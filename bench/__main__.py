"""python -m bench [--quick] [--only micro|servers] [--out DIR] [--wrk]"""
import argparse
import os
import sys
import time

from . import machine, micro, report, servers
from .runner import progress

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# Many short batches beat few long ones on a noisy machine: a round is more
# likely to see every variant under the same conditions.
SETTINGS = {
    #        rounds, repeat, micro batch s, server batch s, wrk rounds, wrk s
    "quick": (21, 3, 0.003, 0.02, 3, 2),
    "full": (31, 5, 0.005, 0.05, 5, 5),
    "smoke": (1, 1, 0.0005, 0.0005, 1, 1),
}
# --smoke: every variant once at tiny sizes, to check the bench itself works.
SMOKE_SIZES = {"sizes": [(10, 2)], "ops_fds": 10}
SMOKE_CONNECTIONS = (4,)


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer sizes and rounds (under 2 minutes)")
    parser.add_argument("--smoke", action="store_true",
                        help="every variant once at tiny sizes (checks the bench, measures nothing)")
    parser.add_argument("--only", choices=("micro", "servers"), help="run one part only")
    parser.add_argument("--out", default=DEFAULT_OUT, help="results folder (default bench/results)")
    parser.add_argument("--wrk", action="store_true",
                        help="also run each server in a child process under wrk")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    rounds, repeat, micro_target, server_target, wrk_rounds, wrk_seconds = SETTINGS[mode]
    sizes = SMOKE_SIZES if args.smoke else {}
    connections = {"connection_counts": SMOKE_CONNECTIONS} if args.smoke else {}
    began = time.monotonic()
    results = {
        "meta": {
            "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
            "mode": mode,
            "rounds": rounds,
            "batches_per_measurement": repeat,
            "machine": machine.describe(),
        },
        "micro": [], "targets": [], "servers": [], "wrk": [], "skipped": [],
    }
    if args.only in (None, "micro"):
        results["micro"], skipped = micro.run(args.quick, rounds, repeat, micro_target, **sizes)
        results["targets"] = report.evaluate_targets(results["micro"])
        results["skipped"] += skipped
    if args.only in (None, "servers"):
        results["servers"], skipped = servers.run(rounds, repeat, server_target, **connections)
        results["skipped"] += skipped
        if args.wrk:
            results["wrk"], skipped = servers.run_wrk(wrk_rounds, wrk_seconds, **connections)
            results["skipped"] += skipped
    results["meta"]["elapsed_seconds"] = round(time.monotonic() - began, 1)
    text = report.write(results, args.out)
    progress(f"done in {results['meta']['elapsed_seconds']} s; results in {args.out}")
    print(text)


if __name__ == "__main__":
    main()
