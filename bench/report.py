"""Turns a results dict into JSON, a Markdown report and PNG plots.

Every figure shown is a median of per-round ratios with its [min–max];
absolute nanoseconds stay in the JSON.
"""
import json
import os

from . import wrk_report
from .tables import fmt, table

FASTSEL = "fastsel-c"
STDLIB = "stdlib"
RAW = "raw epoll"
FLOOR = "C floor"

# What a target's ratio is taken against: (ratio key in a micro case, how the
# ratio reads, whether higher is better).
SCALES = {
    FLOOR: ("vs_floor", "time ÷ C floor", False),
    STDLIB: ("vs_stdlib", "speed-up vs stdlib", True),
    RAW: ("vs_raw", "speed-up vs raw select.epoll().poll(0)", True),
}

# (label, case group, N, K, reference, required[, variant]): the issues'
# targets for the compiled core (variant "fastsel-c" unless named). Selector
# work is stated against the same kernel calls made from C; `required` None
# reports the ratio without a verdict.
TARGETS = [
    ("select(0), 1 ready", "select", 1000, 1, FLOOR, 1.5),
    ("select(0), 100 ready", "select", 1000, 100, FLOOR, 1.15),
    ("select(0), 100 ready", "select", 1000, 100, RAW, 1.0),
    ("register+unregister", "register", 1000, 0, FLOOR, None),
    ("modify (changed events)", "modify", 1000, 0, FLOOR, None),
    ("get_key", "get_key", 1000, 0, STDLIB, 5.0),
    ("get_map().get() miss", "map_miss", 1000, 0, STDLIB, 5.0),
    ("dispatch(0), 100 ready (stdlib: its select-and-call loop)", "dispatch", 1000, 100,
     STDLIB, 4.5, "fastsel-c dispatch"),
    ("Loop.call_soon + run (stdlib: asyncio's loop)", "loop_soon", 0, 0, STDLIB, 3.0),
    ("Loop.call_later + fire (stdlib: asyncio's loop)", "loop_later", 0, 0, STDLIB, 3.0),
]


def target_label(target):
    label, reference = target[0], target[4]
    return f"{label}: {SCALES[reference][1]}"


def find_case(micro, group, n, k):
    for case in micro:
        if case["group"] == group and case["params"] == {"n": n, "k": k}:
            return case
    return None


def verdict(measured, required, higher_is_better, strictly):
    if measured is None:
        return "not measured"
    if required is None:
        return "reported"
    median = measured["median"]
    if higher_is_better:
        passed = median > required if strictly else median >= required
    else:
        passed = median <= required
    return "pass" if passed else "FAIL"


def evaluate_targets(micro):
    """One row per target: the measured ratio, the reference figure on the
    same scale, and pass / FAIL / reported / not measured.

    The reference is the stdlib's own ratio for a target against the C floor,
    and the C floor's (what a selector costing nothing above the kernel
    would reach) for a target against the stdlib or raw epoll."""
    rows = []
    for target in TARGETS:
        _, group, n, k, reference, required, *variant = target
        ratio, _, higher_is_better = SCALES[reference]
        case = find_case(micro, group, n, k) or {}
        ratios = case.get(ratio, {})
        measured = ratios.get(variant[0] if variant else FASTSEL)
        compared = ratios.get(STDLIB if reference == FLOOR else FLOOR)
        result = verdict(measured, required, higher_is_better, strictly=reference == RAW)
        if result == "FAIL" and higher_is_better and compared and compared["median"] < required:
            # A selector cannot be faster than the kernel calls it makes.
            result = "FAIL (target above the ceiling)"
        if required is None:
            shown = "–"
        else:
            shown = f"{'>' if reference == RAW else '>=' if higher_is_better else '<='} {required}"
        rows.append({
            "target": target_label(target),
            "reference": reference,
            "required": shown,
            "measured": measured and {key: measured[key] for key in ("median", "min", "max")},
            "reference_figure": compared and {key: compared[key] for key in ("median", "min", "max")},
            "result": result,
        })
    return rows


def micro_table(micro):
    rows = []
    for case in micro:
        for name in case["variants"]:
            rows.append([
                case["name"],
                name,
                "1 (baseline)" if name == case["baseline"] else fmt(case["vs_stdlib"].get(name)),
                fmt(case.get("vs_floor", {}).get(name)) if name != FLOOR else "1 (floor)",
            ])
    return table(["case", "variant", "speed-up vs stdlib", "time ÷ C floor"], rows)


def targets_table(targets):
    rows = [
        [t["target"], t["required"], fmt(t["measured"]), fmt(t["reference_figure"]), t["result"]]
        for t in targets
    ]
    return table(
        ["target (fastsel-c, 1000 fds)", "required", "measured",
         "reference: stdlib ÷ C floor, or the C floor's speed-up", "result"],
        rows,
    )


def servers_table(servers):
    rows = []
    for case in servers:
        for name in case["variants"]:
            if name == case["floor"]:
                continue
            rows.append([
                case["name"],
                name,
                fmt(case["vs_floor"][name]),
                "1 (baseline)" if name == case["baseline"]
                else fmt(case["overhead_vs_stdlib"][name]),
                "1 (baseline)" if name == case["baseline"] else fmt(case["vs_stdlib"][name]),
            ])
    return table(
        ["case", "variant", "time ÷ recv+send floor", "overhead ÷ stdlib loop's",
         "speed-up vs stdlib loop"],
        rows,
    )


# The asyncio target: a protocol server on fastsel.aio.EventLoop has at most
# this fraction of asyncio's own per-request overhead.
ASYNCIO_TARGET = ("fastsel.aio.EventLoop", 0.8)


def asyncio_table(servers):
    """Each asyncio server's overhead ÷ the same server's on asyncio's loop."""
    variant, threshold = ASYNCIO_TARGET
    rows = []
    for case in servers:
        for name, peer in case.get("peer", {}).items():
            stat = case["overhead_vs_peer"][name]
            verdict = "–"
            if name == variant:
                verdict = "pass" if stat["median"] <= threshold else "FAIL"
            rows.append([case["name"], name, peer, fmt(stat),
                         f"<= {threshold}: {verdict}" if name == variant else verdict])
    return table(["case", "variant", "compared with", "overhead ÷ its", "target"], rows)


# The thread targets (issue 15): fastsel.aio's rate ÷ uvloop's, at least.
THREAD_TARGETS = {"call_soon_threadsafe": 1.5, "to_thread": 1.0}
THREAD_VARIANT = "fastsel.aio"


def threads_table(cases):
    """Each loop's rate against asyncio's and uvloop's, round by round."""
    rows = []
    for case in cases:
        for name in case["variants"]:
            vs_uvloop = case.get("rate_vs_uvloop", {}).get(name)
            target = "–"
            if name == THREAD_VARIANT and case["group"] in THREAD_TARGETS:
                threshold = THREAD_TARGETS[case["group"]]
                verdict = ("not measured" if vs_uvloop is None
                           else "pass" if vs_uvloop["median"] >= threshold else "FAIL")
                target = f">= {threshold} x uvloop: {verdict}"
            cpu = case.get("cpu_vs_uvloop", {}).get(name)
            rows.append([f"{case['group']}: {case['name']}", name,
                         fmt(case["rate_vs_asyncio"][name]), fmt(vs_uvloop), fmt(cpu), target])
    return table(["case", "loop", "rate ÷ asyncio's", "rate ÷ uvloop's",
                  "CPU per call: uvloop's ÷ this", "target"], rows)


TARGETS_NOTE = (
    "Selector targets are stated against the C floor: fastsel's time ÷ the time of the "
    "same kernel calls made from C (bench/floor.c), in the same run; 1 is the floor, lower "
    "is better, and the reference column gives the stdlib's time ÷ the C floor. For targets "
    "stated as a speed-up, the reference is the C floor's own speed-up, the ceiling no "
    "selector can pass. For the Loop targets the stdlib is asyncio's default event loop."
)
MICRO_NOTE = (
    "Speed-up vs stdlib: stdlib time ÷ variant time, higher is better. "
    "Time ÷ C floor: variant time ÷ the time of the same kernel calls made from C "
    "(bench/floor.c), 1 is the floor."
)
SERVERS_NOTE = (
    "Per request, client work included. Time ÷ floor: relative to the same recv/send "
    "calls with no loop. Overhead ÷ stdlib loop's: (variant − floor) ÷ (stdlib loop − "
    "floor), lower is better; its range is wide because both overheads are small next "
    "to the socket work."
)
ASYNCIO_NOTE = (
    "Overhead is time per request above the recv+send floor; the ratio is taken round "
    "by round against the same server (protocol or streams) on asyncio's default loop, "
    "lower is better."
)
THREADS_NOTE = (
    "Rates in wall-clock time, ratios taken within each round, higher is better. "
    "call_soon_threadsafe: one producer thread, until the loop has run the last call; "
    "its CPU column counts both threads. to_thread: sequential awaited round trips."
)


def markdown(results):
    meta = results["meta"]
    m = meta["machine"]
    out = [
        "# fastsel benchmark",
        "",
        f"`{meta['command']}`, {meta.get('date', 'undated')}.",
        "",
        f"{m['cpu_model']} ({m['cpu_count']} CPUs), {m['platform']}, "
        f"Python {m['python'].split()[0]}, fastsel {m['fastsel_version']} "
        f"({m['fastsel_implementation']}), Cython {m['cython_compiled_with'] or m['cython_installed']}.",
    ]
    # What users feel leads; the in-process figures follow.
    out += wrk_report.markdown(results)
    if results.get("micro") or results.get("servers") or results.get("threads"):
        out += ["", "## In-process micro figures", "",
                f"{meta['rounds']} interleaved rounds after a warm-up, each variant measured "
                "as the fastest of a few short batches per round, in process CPU time; each "
                "figure is the median of per-round ratios, [min–max]."]
    if results.get("micro"):
        out += ["", "### Targets", "", targets_table(results["targets"]), "", TARGETS_NOTE,
                "", "### Micro", "", micro_table(results["micro"]), "", MICRO_NOTE]
    if results.get("servers"):
        out += ["", "### Servers (in-process, loopback TCP)", "",
                servers_table(results["servers"]), "", SERVERS_NOTE]
        if any(case.get("peer") for case in results["servers"]):
            out += ["", "### asyncio servers (in-process)", "",
                    asyncio_table(results["servers"]), "", ASYNCIO_NOTE]
    if results.get("threads"):
        out += ["", "### Threads feeding the loop (in-process)", "",
                threads_table(results["threads"]), "", THREADS_NOTE]
    if results.get("skipped"):
        out += ["", "## Skipped", ""] + [f"- {reason}" for reason in results["skipped"]]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- plots

def plot_ratios(micro, group, title, path, plt):
    cases = [c for c in micro if c["group"] == group]
    if not cases:
        return None
    sizes = sorted({c["params"]["n"] for c in cases})
    cols = min(2, len(sizes))
    rows = (len(sizes) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows),
                             sharey=True, squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(sizes):]:
        ax.set_visible(False)
    for ax, n in zip(flat, sizes):
        here = sorted((c for c in cases if c["params"]["n"] == n), key=lambda c: c["params"]["k"])
        names = [v for v in here[0]["variants"] if v != here[0]["baseline"]]
        for name in names:
            ks = [c["params"]["k"] for c in here if name in c["vs_stdlib"]]
            stats = [c["vs_stdlib"][name] for c in here if name in c["vs_stdlib"]]
            med = [s["median"] for s in stats]
            err = [[m - s["min"] for m, s in zip(med, stats)],
                   [s["max"] - m for m, s in zip(med, stats)]]
            floor = name == FLOOR
            ax.errorbar(ks, med, yerr=err, marker="o", linestyle="--" if floor else "-",
                        capsize=3, label="C floor (the ceiling)" if floor else name)
        marks = [(k, t) for _, g, tn, k, reference, t, *_ in TARGETS
                 if g == group and tn == n and reference == STDLIB]
        if marks:
            ax.plot([k for k, _ in marks], [t for _, t in marks], "k*", markersize=11,
                    label="target (fastsel-c)")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_title(f"N = {n} registered")
        ax.set_xlabel("ready fds (K)")
        ax.grid(True, alpha=0.3)
    for row in axes:
        row[0].set_ylabel("speed-up vs stdlib (×)")
    legend = {}
    for ax in flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    flat[0].legend(legend.values(), legend.keys(), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_servers(servers, path, plt):
    if not servers:
        return None
    names = [n for n in servers[0]["variants"] if n != servers[0]["floor"]]
    width = 0.8 / len(servers)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names)), 4.2))
    for i, case in enumerate(servers):
        stats = [case["overhead_vs_floor"][n] for n in names]
        med = [s["median"] for s in stats]
        err = [[m - s["min"] for m, s in zip(med, stats)],
               [s["max"] - m for m, s in zip(med, stats)]]
        xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(names))]
        ax.bar(xs, med, width, yerr=err, capsize=3, label=case["name"])
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("loop overhead per request ÷ recv+send floor")
    ax.set_title("Per-request overhead above the bare socket work (lower is better)")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(results, directory):
    """Write the PNGs; returns their paths, or None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    micro = results.get("micro") or []
    written = [
        plot_ratios(micro, "select", "select(0): speed-up vs stdlib EpollSelector",
                    os.path.join(directory, "select.png"), plt),
        plot_ratios(micro, "dispatch", "dispatch(0) vs the stdlib select-and-call loop",
                    os.path.join(directory, "dispatch.png"), plt),
        plot_servers(results.get("servers") or [], os.path.join(directory, "servers.png"), plt),
        wrk_report.plot(results.get("wrk") or [], os.path.join(directory, "wrk.png"), plt),
    ]
    return [p for p in written if p]


def write(results, directory):
    """results.json, results.md and the plots; returns the Markdown."""
    os.makedirs(directory, exist_ok=True)
    written = plots(results, directory)
    if written is None:
        results["skipped"].append("plots: matplotlib is not installed (pip install '.[bench]')")
    results["meta"]["plots"] = [os.path.basename(p) for p in written or []]
    text = markdown(results)
    with open(os.path.join(directory, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(directory, "results.md"), "w") as f:
        f.write(text)
    return text
