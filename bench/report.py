"""bench/results/latest.json → latest.md (the table) and latest.png (the chart).

  python -m bench.report [RESULTS_DIR]   redraw from an existing latest.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _n(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def _ok(flag: bool) -> str:
    return "✅ holds" if flag else "❌ missed"


def table(r: dict) -> str:
    rp, st, lat, rss, t = r["replay"], r["store"], r["latency_ms"], r["rss_mb"], r["targets"]
    m = r["meta"]
    rows = [
        ("`replay.events`", _n(rp["events"]), "", "", "≥ 1,000,000 (headline)",
         _ok(rp["events"] >= 1_000_000) if not m["quick"] else "(quick run)"),
        ("`replay.events_per_s`", _n(rp["events_per_s"]),
         f"raw consume {_n(rp['raw_consume_events_per_s'])}",
         f"{rp['vs_raw_consume']:.3f} × raw", "≥ 50,000 and ≥ 0.5 × raw",
         _ok(t["replay.events_per_s >= 50000"] and t["replay >= 0.5 x raw consume"])),
        ("`replay.events_per_cpu_s`", _n(rp.get("events_per_cpu_s")),
         f"raw consume {_n(rp.get('raw_consume_events_per_cpu_s'))} per CPU s",
         f"{rp['events_per_cpu_s'] / rp['raw_consume_events_per_cpu_s']:.3f} × raw"
         if rp.get("events_per_cpu_s") else "", "(load-independent view)", ""),
        ("`replay.raw_consume_events_per_s`", _n(rp["raw_consume_events_per_s"]),
         "bare aiokafka loop + json.loads", "", "", ""),
        ("`replay.kafka_consumer_perf_events_per_s`",
         _n(rp["kafka_consumer_perf_events_per_s"]), "Kafka ConsumerPerformance",
         f"replay = {rp['vs_kafka_consumer_perf']:.4f} × broker", "", ""),
        ("`replay.growth_ratio`", f"{rp['growth_ratio']:.2f}",
         f"{_n(rp['growth']['large_seconds'], 1)} s / {_n(rp['growth']['small_seconds'], 1)} s",
         f"for {rp['growth']['size_ratio']:.1f} × the events", "≤ 11",
         _ok(t["replay.growth_ratio <= 11"])),
        ("`pipeline.events_per_s`", _n(r["pipeline"]["events_per_s"], 1),
         f"{_n(r['pipeline'].get('sent', r['pipeline']['events']))} HR facts in a burst"
         + ("" if r["pipeline"].get("complete", True) else
            f" ({_n(r['pipeline']['events'])} shown when the wait ended)"), "", "≥ 5,000",
         _ok(t["pipeline.events_per_s >= 5000"])),
    ]
    if "capacity_events_per_s" in lat:  # the run's rate: below the pipeline's capacity
        rows.append(("`latency_ms.rate_per_s`", _n(lat["rate_per_s"], 1),
                     f"pipeline capacity {_n(lat['capacity_events_per_s'], 1)}/s "
                     f"(asked {_n(lat['requested_rate_per_s'])}/s)",
                     f"{lat['rate_vs_capacity']:.2f} × capacity",
                     f"{_n(lat['target_rate_per_s'])} (the p99 target's rate)",
                     _ok(lat["at_target_rate"])))
    for p in ("p50", "p95", "p99"):
        rows.append((f"`latency_ms.{p}`", ("≥ " if lat.get("lower_bound") else "")
                     + _n(lat[p], 1),
                     f"{_n(lat['achieved_rate_per_s'], 1)}/s for {_n(lat['seconds'])} s"
                     + (f"; {_n(lat['unseen_at_end'])} of {_n(lat['events'])} not shown "
                        "when the wait ended" if lat.get("lower_bound") else ""), "",
                     "≤ 50 at 200/s" if p == "p99" else "",
                     _ok(t["latency_ms.p99 <= 50 at 200/s"]) if p == "p99" else ""))
    for backend, s in st.items():
        for mode, key in (("single", ""), ("batched", "batched_")):
            rows.append((f"`store.{backend}.{key}events_per_s`", _n(s[f"{key}events_per_s"]),
                         f"eventsourcing {_n(s[f'eventsourcing_{key}events_per_s'])}",
                         f"{s[f'{key}vs_eventsourcing']:.2f} ×", "≥ 1.2 × eventsourcing",
                         _ok(t[f"store.{backend} >= 1.2 x eventsourcing ({mode})"])))
            rows.append(("", "", f"raw driver {_n(s[f'raw_driver_{key}events_per_s'])}",
                         f"{s[f'{key}vs_raw_driver']:.2f} ×", "≥ 0.7 × raw driver",
                         _ok(t[f"store.{backend} >= 0.7 x raw driver ({mode})"])))
    for name, mb in rss.items():
        rows.append((f"`rss_mb.{name}`", _n(mb, 1), "peak (VmHWM)", "", "≤ 200",
                     _ok(mb <= 200)))
    lines = ["| figure | value | measured reference | ratio | target | |",
             "|---|---:|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    la = m["load_average_before"]
    lines += ["", f"Run `{m['command']}` finished {m['finished_at']} in {m['duration_s']} s "
              f"on {m['machine']['cpus']} cores (load average before {la[0]:.2f}, after "
              f"{m['load_average_after'][0]:.2f}; the machine is shared), Kafka "
              f"{m['kafka']}, eventsourcing {m['eventsourcing']}."]
    return "\n".join(lines) + "\n"


def chart(r: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    rp = r["replay"]

    ax = axes[0][0]
    names = ["replay\n(all projections)", "replay per\nCPU second", "bare Python\nconsume",
             "Kafka\nConsumerPerf", "pipeline\n(2 services)"]
    values = [rp["events_per_s"], rp.get("events_per_cpu_s", 0), rp["raw_consume_events_per_s"],
              rp["kafka_consumer_perf_events_per_s"], r["pipeline"]["events_per_s"]]
    bars = ax.bar(names, values, color=["#c0392b", "#e6b0aa", "#7f8c8d", "#34495e",
                                        "#d35400"])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_yscale("log")
    ax.axhline(50_000, ls="--", color="#c0392b", lw=1, label="replay target 50,000/s")
    ax.axhline(5_000, ls=":", color="#d35400", lw=1, label="pipeline target 5,000/s")
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
    ax.set_ylabel("events/s (log)")
    ax.set_title(f"Throughput ({rp['events']:,} events replayed)")
    ax.legend(fontsize=8)

    ax = axes[0][1]
    groups, ours, peer, raw = [], [], [], []
    for backend, s in r["store"].items():
        groups += [f"{backend}\nsingle", f"{backend}\n100/txn"]
        ours += [s["events_per_s"], s["batched_events_per_s"]]
        peer += [s["eventsourcing_events_per_s"], s["eventsourcing_batched_events_per_s"]]
        raw += [s["raw_driver_events_per_s"], s["raw_driver_batched_events_per_s"]]
    x = list(range(len(groups)))
    series = ((ours, "hyeopchi EventStore", "#2980b9"),
              (peer, f"eventsourcing {r['meta']['eventsourcing']}", "#95a5a6"),
              (raw, "raw driver (bound)", "#34495e"))
    for n, (values, label, colour) in enumerate(series):
        bars = ax.bar([i + (n - 1) * 0.27 for i in x], values, 0.27, label=label,
                      color=colour)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=6)
    # The targets per group: 1.2 x the library's figure and 0.7 x the driver's.
    for i in x:
        target = max(1.2 * peer[i], 0.7 * raw[i])
        ax.hlines(target, i - 0.45, i + 0.45, colors="#c0392b", linestyles="--", lw=1,
                  label="target: ≥ 1.2 × eventsourcing and ≥ 0.7 × raw" if i == 0 else None)
    ax.set_xticks(x, groups)
    ax.set_yscale("log")
    ax.set_ylabel("appends/s (log)")
    ax.set_title("Store appends (expected version; ours also hashes + outbox)")
    ax.legend(fontsize=7)

    ax = axes[1][0]
    lat = r["latency_ms"]
    keys = ["p50", "p95", "p99", "max"]
    seconds = [lat[k] / 1000 for k in keys]
    bars = ax.bar(keys, seconds, color="#8e44ad")
    ax.bar_label(bars, labels=[f"{v:.3g} s" for v in seconds], fontsize=8)
    ax.axhline(0.05, ls="--", color="#c0392b", lw=1, label="p99 target 0.05 s")
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log)")
    capacity = (f" (capacity {lat['capacity_events_per_s']:.0f}/s)"
                if "capacity_events_per_s" in lat else "")
    ax.set_title(f"Latency HR produce → audit timeline at {lat['rate_per_s']:.0f}/s"
                 f"{capacity} for {lat['seconds']:.0f} s", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[1][1]
    rss = r["rss_mb"]
    bars = ax.bar(list(rss), list(rss.values()), color="#16a085")
    ax.bar_label(bars, labels=[f"{v:.0f}" for v in rss.values()], fontsize=8)
    ax.axhline(200, ls="--", color="#c0392b", lw=1, label="target 200 MB")
    ax.set_ylabel("peak RSS, MB")
    ax.set_title("Peak resident memory (VmHWM)")
    ax.legend(fontsize=8)

    m = r["meta"]
    fig.suptitle(f"hyeopchi benchmarks — `{m['command']}`, {m['finished_at']}, "
                 f"load avg {m['load_average_before'][0]:.1f} on {m['machine']['cpus']} cores",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(result: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "latest.json", folder / "latest.md", folder / "latest.png"]
    paths[0].write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    paths[1].write_text(table(result))
    chart(result, paths[2])
    return paths


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results")
    write(json.loads((folder / "latest.json").read_text()), folder)
