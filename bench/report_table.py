"""Markdown table of a `normkit bench` CSV with each row's verdict against
issue 19's targets: normkit at least 1.5x the fastest peer, or at least 80%
of the limit for its working-set size (the copy bandwidth measured at that
size: L1, L2, L3 or DRAM), whichever is lower; and never slower than a peer.

    /usr/bin/python3 bench/report_table.py docs/bench/epyc-zen4/bench.csv [--threads 2] [--dtype float32]

A peer timed from Python (ONNX Runtime) is compared with normkit's Python
call timed beside it; its column says so.

A row behind its fastest peer is "slower" only where the 95% interval of
that speed-up (the bench's speedup_low and speedup_high: the sign test's
interval of the median of the paired calls' ratios over the passes) lies
below 1; where it holds 1, the run cannot tell the two apart and the row is
"level", with the interval beside it. (A CSV from before the intervals has
no such columns: every row behind is "slower" there.)
"""

import argparse
import csv
from collections import OrderedDict


def dtype_of(shape):
    """The element type a case's shape names ("8192x768 bf16"), float32 when none."""
    last = shape.split()[-1]
    return last if last in ("bf16", "f16") else "float32"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--dtype", choices=("all", "float32", "bf16", "f16"), default="all",
                        help="only the rows of this element type (a 16-bit case names it at the end of its shape)")
    args = parser.parse_args()
    rows = OrderedDict()
    peers = []
    with open(args.csv) as f:
        for r in csv.DictReader(f):
            if r["threads"] != args.threads or args.dtype not in ("all", dtype_of(r["shape"])):
                continue
            rows.setdefault((r["op"], r["shape"]), {})[r["impl"]] = r
            if not r["impl"].startswith("normkit") and r["impl"] not in peers:
                peers.append(r["impl"])
    print("| op | shape | ws | normkit ms | GB/s | % of limit | " + " | ".join(f"vs {p}" for p in peers) +
          " | target |")
    print("|---|---|---|---:|---:|---:|" + "---:|" * len(peers) + "---|")
    for (op, shape), impls in rows.items():
        ours = impls["normkit"]
        fraction = float(ours["fraction_of_limit"])
        present = [p for p in peers if p in impls]
        fastest = min(present, key=lambda p: float(impls[p]["normkit_speedup"])) if present else None
        vs_fastest = float(impls[fastest]["normkit_speedup"]) if fastest else float("inf")
        if not fastest:
            verdict = "met" if fraction >= 0.8 else "no peer"
        elif vs_fastest < 1.0:
            low, high = impls[fastest].get("speedup_low") or "", impls[fastest].get("speedup_high") or ""
            interval = f"; 95% interval {float(low):.2f}-{float(high):.2f}" if high else ""
            if high and float(high) >= 1.0:
                verdict = f"level ({vs_fastest:.2f}x{interval})"
            else:
                verdict = f"**slower** ({vs_fastest:.2f}x{interval})"
        else:
            verdict = "met" if vs_fastest >= 1.5 or fraction >= 0.8 else "missed"
        cells = [f"{float(impls[p]['normkit_speedup']):.2f}x" if p in impls else "—" for p in peers]
        print(f"| {op} | {shape} | {ours['cache_level']} | {float(ours['median_ms']):.3f} | "
              f"{float(ours['gbps']):.1f} | {100 * fraction:.0f}% | " + " | ".join(cells) + f" | {verdict} |")
    # RMSNorm against normkit's own LayerNorm on the same shape (target: 10% faster).
    lines = []
    for (op, shape), impls in rows.items():
        if op.startswith("RMSNorm"):
            twin = rows.get((op.replace("RMSNorm", "LayerNorm"), shape))
            if twin:
                ratio = float(twin["normkit"]["median_ms"]) / float(impls["normkit"]["median_ms"])
                lines.append(f"{op} {shape}: {100 * (ratio - 1):+.0f}%")
    if lines:
        print("\nRMSNorm's speed-up over normkit's LayerNorm on the same shape (target +10%): " + "; ".join(lines))
    # The fused add + norm against normkit's add then norm (issue 20: 1.3x).
    fused = [f"{op} {shape}: {float(impls['normkit-unfused']['normkit_speedup']):.2f}x"
             for (op, shape), impls in rows.items() if "normkit-unfused" in impls]
    if fused:
        print("\nThe fused add + norm's speed-up over normkit's add, then norm (target 1.3x): " + "; ".join(fused))


if __name__ == "__main__":
    main()
