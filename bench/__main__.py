"""Compare fastsel with the stdlib selectors, raw epoll, a C floor and other event
loops; write results as JSON, Markdown and PNG plots, and print the table."""
import argparse
import datetime
import os
import sys
import time

from . import churn, machine, micro, report, runner, servers, threads, tls, wrk, wrk_servers
from .runner import progress

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# Many short batches beat few long ones on a noisy machine: a round is more
# likely to see every variant under the same conditions. Each measurement is
# the fastest of `repeat` batches of about `batch` seconds. End to end, every
# server runs `wrk_seconds` (wrk takes whole seconds) in each of `wrk_rounds`.
SETTINGS = {
    "quick": dict(rounds=21, micro_repeat=3, micro_batch=0.003,
                  server_repeat=3, server_batch=0.02, wrk_rounds=3, wrk_seconds=1,
                  thread_rounds=3, thread_calls=50_000, thread_round_trips=1_000,
                  churn_clients=1000),
    "full": dict(rounds=31, micro_repeat=5, micro_batch=0.005,
                 server_repeat=7, server_batch=0.01, wrk_rounds=5, wrk_seconds=4,
                 thread_rounds=5, thread_calls=threads.CALLS,
                 thread_round_trips=threads.ROUND_TRIPS, churn_clients=3000),
    "smoke": dict(rounds=1, micro_repeat=1, micro_batch=0.0005,
                  server_repeat=1, server_batch=0.0005, wrk_rounds=1, wrk_seconds=1,
                  thread_rounds=1, thread_calls=200, thread_round_trips=20,
                  churn_clients=20),
}
# --smoke: every variant once at tiny sizes, to check the bench itself works.
SMOKE_SIZES = {"sizes": [(10, 2)], "ops_fds": 10}
SMOKE_CONNECTIONS = (4,)
SMOKE_TLS = {"connection_counts": SMOKE_CONNECTIONS, "trips": 20, "connects": 2,
             "warmup": 0.2}


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer sizes and rounds (under 2 minutes)")
    parser.add_argument("--smoke", action="store_true",
                        help="every variant once at tiny sizes (checks the bench, measures nothing)")
    parser.add_argument("--only", choices=("micro", "servers", "threads", "wrk", "tls", "churn"),
                        help="run one part only (wrk: the end-to-end servers alone; "
                             "tls and churn run only when asked for)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="results folder (default bench/results)")
    parser.add_argument("--wrk", action="store_true",
                        help="also run the end-to-end servers, each alone under wrk")
    parser.add_argument("--servers", nargs="+", metavar="SERVER",
                        choices=[*wrk_servers.SERVERS, wrk_servers.SELECTORS],
                        help="end to end: only these servers (default: all; %(choices)s)")
    parser.add_argument("--loops", nargs="+", metavar="LOOP",
                        choices=list(dict.fromkeys([*wrk_servers.LOOPS, *tls.LOOP_NAMES])),
                        help="end to end and tls: only these loops besides asyncio's, which "
                             "every ratio needs (default: all; %(choices)s)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    settings = SETTINGS[mode]
    rounds = settings["rounds"]
    sizes = SMOKE_SIZES if args.smoke else {}
    connections = {"connection_counts": SMOKE_CONNECTIONS} if args.smoke else {}
    began = time.monotonic()
    results = {
        "meta": {
            "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
            "mode": mode,
            "date": datetime.date.today().isoformat(),
            "rounds": rounds,
            "settings": settings,
            "clock": runner.CLOCK,
            "machine": machine.describe(),
        },
        "micro": [], "targets": [], "servers": [], "wrk": [], "threads": [], "skipped": [],
    }
    if args.only in (None, "micro"):
        results["micro"], skipped = micro.run(
            args.quick, rounds, settings["micro_repeat"], settings["micro_batch"], **sizes)
        results["targets"] = report.evaluate_targets(results["micro"])
        results["skipped"] += skipped
    if args.only in (None, "servers"):
        results["servers"], skipped = servers.run(
            rounds, settings["server_repeat"], settings["server_batch"], **connections)
        results["skipped"] += skipped
    if args.only in (None, "threads"):
        results["threads"] = threads.run(settings["thread_rounds"], settings["thread_calls"],
                                         settings["thread_round_trips"])
    if args.only == "wrk" or (args.wrk and args.only is None):
        results["wrk"], skipped, results["meta"]["wrk_placement"] = wrk.run(
            settings["wrk_rounds"], settings["wrk_seconds"], servers=args.servers,
            loops=args.loops, **connections)
        results["skipped"] += skipped
    if args.only == "tls":
        results["tls"], skipped = tls.run(
            settings["wrk_rounds"], settings["wrk_seconds"], loops=args.loops,
            **(SMOKE_TLS if args.smoke else {}))
        results["skipped"] += skipped
    if args.only == "churn":
        results["churn"] = churn.run(
            settings["wrk_rounds"], settings["wrk_seconds"],
            SMOKE_CONNECTIONS if args.smoke else (50, 500), settings["churn_clients"],
            list(churn.LOOPS), results["skipped"])
    results["meta"]["elapsed_seconds"] = round(time.monotonic() - began, 1)
    text = (report.write(results, args.out) + tls.section(results.get("tls"), args.out)
            + churn.section(results.get("churn"), args.out))
    progress(f"done in {results['meta']['elapsed_seconds']} s; results in {args.out}")
    print(text)


if __name__ == "__main__":
    main()
