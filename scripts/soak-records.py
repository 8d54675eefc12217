#!/usr/bin/env python3
"""Checks the records of a `--preset full` run against the preset's schedule (docs/overhead.md, soak sections).

Usage: scripts/soak-records.py RECORDS.jsonl EPOCHS
  RECORDS.jsonl: `java -jar stethoscope-sample.jar export RUN/stats.dl4j --out RECORDS.jsonl` (every record type)
  EPOCHS: the run's number of epochs

Reports, per record type, how many records and at which epochs (the header's epoch, as published), and fails
(exit 1) when:
  * there is any Stethoscope.Error record (a monitor fault that training survived);
  * an epoch analysis (probes, similarity, memorisation, attributions, suspects) is missing at a completed epoch;
  * a feature-evolution snapshot is missing at one of the preset's epochs (1, 2, 5, 10, 20, 30, 40, 64, last);
  * a health record has a non-finite parameter norm or activation statistic (the parameters are finite exactly
    when every layer's L2 norm is);
  * no loss-sensitivity record arrives in some epoch (scheduled every 50 iterations).
"""
import json
import math
import sys
from collections import defaultdict

EVERY_EPOCH = ["Stethoscope.Probe", "Stethoscope.Similarity", "Stethoscope.Memorization",
               "Stethoscope.Attribution", "Stethoscope.Suspects"]
FEATURE_EPOCHS = [1, 2, 5, 10, 20, 30, 40, 64]


def main(path, epochs):
    by_type = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                by_type[r["type"]].append(r)
    problems = []
    print(f"{sum(len(v) for v in by_type.values())} records of {len(by_type)} types")
    for t in sorted(by_type):
        rs = by_type[t]
        eps = sorted({r["epoch"] for r in rs if isinstance(r.get("epoch"), int)})
        print(f"  {t}: {len(rs)} records, epochs {compact(eps)}")
    for r in by_type.get("Stethoscope.Error", []):
        if "exceptionClass" not in r:
            continue  # the static RunInfo stored under the same type id
        problems.append("monitor error: " + json.dumps({k: v for k, v in r.items() if k not in ("sessionId", "workerId")})[:400])
    # The header's epoch of an epoch-end record: DL4J's epoch count, which some listeners see before and some after
    # the increment; accept either numbering as long as every completed epoch has one record.
    for t in EVERY_EPOCH:
        eps = {r.get("epoch") for r in by_type.get(t, [])}
        missing0 = [e for e in range(0, epochs) if e not in eps]
        missing1 = [e for e in range(1, epochs + 1) if e not in eps]
        if missing0 and missing1:
            problems.append(f"{t}: no record at epochs {compact(missing1)} (1-based) / {compact(missing0)} (0-based)")
    snaps = defaultdict(set)
    for r in by_type.get("Stethoscope.FeatureSnapshot", []):
        if "snapshotEpoch" in r:  # not the static RunInfo stored under the same type id
            snaps[r.get("layerName", r.get("layer"))].add(r["snapshotEpoch"])
    want = sorted({e for e in FEATURE_EPOCHS if e <= epochs} | {epochs})
    if not snaps:
        problems.append("no FeatureSnapshot records")
    for layer, got in sorted(snaps.items(), key=lambda kv: str(kv[0])):
        print(f"  feature snapshots of {layer}: epochs {sorted(got)}")
        if sorted(got) != want:
            problems.append(f"FeatureSnapshot {layer}: epochs {sorted(got)}, expected {want}")
    proj = sorted({r["snapshotEpoch"] for r in by_type.get("Stethoscope.FeatureProjection", []) if "snapshotEpoch" in r})
    print(f"  feature projections: epochs {proj}")
    if proj != want:
        problems.append(f"FeatureProjection: epochs {proj}, expected {want}")
    # JSON has no NaN: a NaN is written as null. A layer without parameters (pooling, activation) has a NaN norm in
    # every record; a layer with parameters must have a finite norm in every record.
    health = [r for r in by_type.get("Stethoscope.Health", []) if isinstance(r.get("paramNorm"), list)]
    no_params = set()
    if health:
        n = len(health[0]["paramNorm"])
        no_params = {i for i in range(n) if all(h["paramNorm"][i] is None for h in health if len(h["paramNorm"]) == n)}
    bad = 0
    for r in health:
        v = r["paramNorm"]
        if any(i not in no_params and (not isinstance(x, (int, float)) or not math.isfinite(x)) for i, x in enumerate(v)):
            bad += 1
            if bad <= 3:
                problems.append(f"Health epoch {r.get('epoch')} iteration {r.get('iteration')}: non-finite paramNorm {v}")
    if health:
        names = health[-1].get("layers", [])
        print(f"  health: {len(health)} records, every parameter norm finite: {bad == 0} (layers without parameters: "
              f"{[names[i] if i < len(names) else i for i in sorted(no_params)]}); last norms "
              f"{[None if x is None else round(x, 3) for x in health[-1]['paramNorm']]}")
    else:
        problems.append("no Health records with paramNorm")
    sens = {r.get("epoch") for r in by_type.get("Stethoscope.LossSensitivity", [])}
    miss = [e for e in range(0, epochs) if e not in sens]
    if miss and [e for e in range(1, epochs + 1) if e not in sens]:
        problems.append(f"LossSensitivity: no record in epochs {compact(miss)} (0-based)")
    if problems:
        print("PROBLEMS:")
        for p in problems:
            print("  " + p)
        return 1
    print("OK: no monitor errors, every scheduled point has its records, parameters finite")
    return 0


def compact(xs):
    """[1, 2, 3, 5] -> '1-3, 5'."""
    xs = [x for x in xs if isinstance(x, int)]
    out, i = [], 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        out.append(str(xs[i]) if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ", ".join(out) if out else "none"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
