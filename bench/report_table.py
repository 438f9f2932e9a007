"""Markdown table of a `normkit bench` CSV with each row's target (issue 4):
normkit at least 1.5x the fastest peer, or at least 80% of the copy
bandwidth, whichever is lower.

    /usr/bin/python3 bench/report_table.py docs/bench/bench.csv [--threads 2]
"""

import argparse
import csv
from collections import OrderedDict


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()
    rows = OrderedDict()
    peers = []
    with open(args.csv) as f:
        for r in csv.DictReader(f):
            if r["threads"] != args.threads:
                continue
            key = (r["op"], r["shape"])
            rows.setdefault(key, {})[r["impl"]] = r
            if r["impl"] != "normkit" and r["impl"] not in peers:
                peers.append(r["impl"])
    print("| op | shape | normkit ms | GB/s | % of copy | " + " | ".join(f"vs {p}" for p in peers) + " | target |")
    print("|---|---|---:|---:|---:|" + "---:|" * len(peers) + "---|")
    for (op, shape), impls in rows.items():
        ours = impls["normkit"]
        fraction = float(ours["fraction_of_copy"])
        speedups = [float(impls[p]["normkit_speedup"]) for p in peers if p in impls]
        vs_fastest = min(speedups) if speedups else float("inf")
        met = vs_fastest >= 1.5 or fraction >= 0.8
        verdict = ("met" if met else "missed") if speedups else ("met" if fraction >= 0.8 else "no peer")
        cells = [f"{float(impls[p]['normkit_speedup']):.2f}x" if p in impls else "—" for p in peers]
        print(f"| {op} | {shape} | {float(ours['median_ms']):.3f} | {float(ours['gbps']):.1f} | "
              f"{100 * fraction:.0f}% | " + " | ".join(cells) + f" | {verdict} |")


if __name__ == "__main__":
    main()
