"""The end-to-end (wrk) part of the report: its Markdown tables and plot.

CPU figures are ratios to the same server on asyncio's own loop (the stdlib
select loop for the `selectors` server), medians of per-round ratios with
their [min–max]; requests/s are wrk's, medians over the rounds.
"""
from .tables import fmt, table


def rate(stat):
    """'21.3k/s' from a requests/s summary."""
    return f"{stat['median'] / 1000:.1f}k/s"


def versus_uvloop(case):
    """'0.97 [0.95–0.99] (≤ 0.95: not met)' or '–'."""
    stat = case.get("fastsel_vs_uvloop")
    if stat is None:
        return "–"
    return f"{fmt(stat)} (≤ {stat['target']:.2f}: {'met' if stat['met'] else 'not met'})"


def headline_tables(cases):
    """One row per server and connection count, one column per loop: total
    CPU per request ÷ the reference's, and requests/s; one table per
    reference (the asyncio servers', the selectors server's)."""
    out = []
    for reference in dict.fromkeys(c["reference"] for c in cases):
        group = [c for c in cases if c["reference"] == reference]
        variants = list(dict.fromkeys(v for c in group for v in c["variants"]))
        with_target = any("fastsel_vs_uvloop" in c for c in group)
        rows = []
        for c in group:
            row = [c["label"], c["connections"]]
            for variant in variants:
                if variant not in c["variants"]:
                    row.append("failed (see Skipped)")
                    continue
                rps = rate(c["requests_per_second"][variant])
                ratio = c.get("vs_reference", {}).get(variant, {}).get("total")
                row.append(f"1 · {rps}" if variant == reference else f"{fmt(ratio)} · {rps}")
            rows.append(row + [versus_uvloop(c)] if with_target else row)
        header = ["server", "connections"] + variants
        out.append(table(header + ["fastsel.aio ÷ uvloop"] if with_target else header, rows))
    return "\n\n".join(out)


def detail_table(cases):
    """Every variant: requests/s, and CPU per request split into user and
    kernel time, each over the reference's total (so user + kernel = total)."""
    rows = []
    for c in cases:
        for variant in c["variants"]:
            split = c.get("vs_reference", {}).get(variant, {})
            rows.append([c["server"], c["connections"], variant,
                         f"{c['requests_per_second'][variant]['median']:.0f}",
                         fmt(split.get("user")), fmt(split.get("kernel")),
                         fmt(split.get("total")), c["errors"][variant]])
    return table(["server", "connections", "loop / variant", "requests/s",
                  "user ÷ ref. total", "kernel ÷ ref. total", "total ÷ ref. total",
                  "wrk errors"], rows)


NOTE = (
    "Each server runs alone in its own process under `wrk -t1`; a figure is the "
    "server's CPU time per request while wrk ran (from /proc: its threads' run "
    "time, split into user and kernel as /proc/PID/stat's ticks split; startup "
    "excluded) over the same server's on asyncio's default loop (the `selectors` "
    "server: over the stdlib select loop) in the same round, lower is better; user "
    "and kernel are each taken over the reference's total, so they add up to the "
    "total. `fastsel.aio ÷ uvloop` is the same ratio between those two loops, with "
    "the target beside it. Requests/s is wrk's (one wrk thread can be the "
    "bottleneck, so it understates the fast servers). aiofastnet is asyncio's own "
    "loop with aiofastnet's transports."
)


def markdown(results):
    """The end-to-end section, or [] when wrk did not run."""
    cases = results.get("wrk")
    if not cases:
        return []
    meta = results["meta"]
    settings = meta["settings"]
    return [
        "", "## End to end: each server alone under wrk", "",
        f"{settings['wrk_rounds']} interleaved rounds of {settings['wrk_seconds']} s per "
        f"server; {meta.get('wrk_placement')}; {meta['machine']['peers'].get('wrk')}.",
        "", headline_tables(cases), "", NOTE,
        "", "### Every variant", "", detail_table(cases),
    ]


def plot(cases, path, plt):
    """Bars per server: CPU per request over the reference's, kernel part
    hatched, with its range; one panel per connection count."""
    if not cases:
        return None
    counts = list(dict.fromkeys(c["connections"] for c in cases))
    variants = list(dict.fromkeys(v for c in cases for v in c["variants"]))
    colours = {v: plt.get_cmap("tab10")(i % 10) for i, v in enumerate(variants)}
    fig, axes = plt.subplots(len(counts), 1, figsize=(11, 3.6 * len(counts)), squeeze=False)
    for ax, connections in zip((row[0] for row in axes), counts):
        here = [c for c in cases if c["connections"] == connections and "vs_reference" in c]
        x = 0.0
        ticks = []
        for c in here:
            width = 0.8 / len(c["variants"])
            for i, variant in enumerate(c["variants"]):
                split = c["vs_reference"][variant]
                pos = x + (i - (len(c["variants"]) - 1) / 2) * width
                total = split["total"]
                # Medians do not add up: the bar is the total's median, cut
                # in the proportion of the kernel's and user's medians.
                kernel_share = split["kernel"]["median"] / (
                    split["kernel"]["median"] + split["user"]["median"])
                kernel = total["median"] * kernel_share
                ax.bar(pos, kernel, width, color=colours[variant], alpha=0.55, hatch="//")
                ax.bar(pos, total["median"] - kernel, width, bottom=kernel,
                       color=colours[variant], label=variant, capsize=2,
                       yerr=[[total["median"] - total["min"]], [total["max"] - total["median"]]])
            ticks.append((x, c["server"]))
            x += 1
        ax.set_xticks([t for t, _ in ticks])
        ax.set_xticklabels([name for _, name in ticks], fontsize=8)
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_ylabel("CPU per request ÷ reference")
        ax.set_title(f"{connections} connections (hatched: kernel; plain: user)", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    legend = {}
    for row in axes:
        for handle, label in zip(*row[0].get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), fontsize=8, ncol=len(legend), loc="lower center")
    fig.suptitle("Server CPU per request under wrk, relative to asyncio's loop "
                 "(selectors: the stdlib select loop); lower is better")
    fig.tight_layout(rect=(0, 0.06 / len(counts), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
