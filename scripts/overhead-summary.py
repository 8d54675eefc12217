#!/usr/bin/env python3
"""Ratios of the monitor presets over bare training from scripts/overhead-presets.sh's TSV (docs/overhead.md).

Usage: scripts/overhead-summary.py OUT.tsv
Per round: every configuration's wall, CPU and peak RSS over bare's of the same round and epoch count,
and, when two epoch counts E1 < E2 were run, the per-epoch ratios (T(E2) - T(E1)) / (E2 - E1) over the
same for bare. Then the median over rounds of each ratio. Only ratios within one round are formed, so a
drift of the machine between rounds cancels; wall ratios on a loaded machine are noise, CPU ratios hold.
"""
import csv
import statistics
import sys
from collections import defaultdict


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def train_thread_cpu(v):
    """Mean training-thread CPU seconds of epochs 2.. ("[9.1,7.5,6.9]" -> 7.2); epoch 1 alone if only one."""
    if not v:
        return None
    xs = [float(x) for x in v.strip("[]").split(",") if x]
    if not xs:
        return None
    return statistics.mean(xs[1:]) if len(xs) > 1 else xs[0]


def main(path):
    rows = [r for r in csv.DictReader(open(path), delimiter="\t") if r.get("round") and r["round"] != "round"]
    runs = {}
    for r in rows:
        key = (r["model"], int(r["round"]), int(r["epochs"]), r["config"])
        runs[key] = {"wall": float(r["wall_s"]), "cpu": float(r["cpu_s"]), "rss": float(r["peak_rss_kb"]) / 1024,
                     "tcpu": train_thread_cpu(r.get("train_thread_cpu_epoch_s")), "gc": num(r.get("gc_pause_s"))}
    models = sorted({k[0] for k in runs})
    for model in models:
        rounds = sorted({k[1] for k in runs if k[0] == model})
        epochs = sorted({k[2] for k in runs if k[0] == model})
        configs = [c for c in dict.fromkeys(k[3] for k in runs if k[0] == model) if c != "bare"]
        med = defaultdict(list)
        print(f"== {model}: rounds {rounds}, epoch counts {epochs}")
        for rd in rounds:
            for e in epochs:
                bare = runs.get((model, rd, e, "bare"))
                if not bare:
                    continue
                print(f"round {rd}, {e} epoch(s): bare wall {bare['wall']:.1f} s, CPU {bare['cpu']:.1f} s, "
                      f"peak RSS {bare['rss']:.0f} MB")
                for c in configs:
                    x = runs.get((model, rd, e, c))
                    if not x:
                        continue
                    ratios = {m: x[m] / bare[m] for m in ("wall", "cpu", "rss")}
                    for m, v in ratios.items():
                        med[(c, f"{e} ep {m}")].append(v)
                    extra = ""
                    if x.get("tcpu") and bare.get("tcpu"):
                        v = x["tcpu"] / bare["tcpu"]
                        med[(c, f"{e} ep train-thread CPU/epoch")].append(v)
                        extra += f"  train-thread CPU/epoch {v:.3f} ({x['tcpu']:.2f} vs {bare['tcpu']:.2f} s)"
                    if x.get("gc") is not None and bare.get("gc") is not None:
                        extra += f"  GC pauses {x['gc']:.1f} s vs {bare['gc']:.1f} s"
                    print(f"  {c:9s} wall {ratios['wall']:.3f}  CPU {ratios['cpu']:.3f}  peak RSS {ratios['rss']:.3f}"
                          f" ({x['rss']:.0f} MB)" + extra)
            if len(epochs) >= 2:
                e1, e2 = epochs[0], epochs[-1]
                b1, b2 = runs.get((model, rd, e1, "bare")), runs.get((model, rd, e2, "bare"))
                if b1 and b2:
                    for c in configs:
                        x1, x2 = runs.get((model, rd, e1, c)), runs.get((model, rd, e2, c))
                        if not (x1 and x2):
                            continue
                        out = []
                        for m in ("wall", "cpu"):
                            db = (b2[m] - b1[m]) / (e2 - e1)
                            dx = (x2[m] - x1[m]) / (e2 - e1)
                            v = dx / db if db > 0 else float("nan")
                            med[(c, f"per-epoch {m}")].append(v)
                            out.append(f"{m} {v:.3f} ({dx:.1f} s vs bare {db:.1f} s)")
                        print(f"  per epoch ({e1}->{e2}) {c:9s} " + ", ".join(out))
        print(f"-- {model}: median over rounds (each round's value in brackets)")
        for (c, what), vs in sorted(med.items()):
            print(f"  {c:9s} {what:16s} {statistics.median(vs):.3f}  [{', '.join(f'{v:.3f}' for v in vs)}]")


if __name__ == "__main__":
    main(sys.argv[1])
