#!/usr/bin/env python3
"""scripts/claims-page.py REPORT_DIR... > docs/claims.md

Gathers the claims that lab reports checked (each REPORT_DIR's claims.md,
written by `normkit lab`) into one page: a summary of the verdicts, then one
row per claim with its experiment, verdict and what was measured (the
published figure is in the measurement's parentheses), and, per report,
what produced it. Only the Python standard library.
"""
import os
import pathlib
import sys


def read_claims(report_dir):
    """(the 'Produced by' line, [(claim, experiment, verdict, measured)])."""
    text = (pathlib.Path(report_dir) / "claims.md").read_text(encoding="utf-8")
    produced, rows = "", []
    for line in text.splitlines():
        if line.startswith("Produced by"):
            produced = line
        elif line.startswith("| ") and not line.startswith("| claim |"):
            # Cells are separated by pipes that are not escaped ("\|" is ||w||).
            cells, cell, previous = [], "", ""
            for ch in line[1:]:
                if ch == "|" and previous != "\\":
                    cells.append(cell.strip())
                    cell = ""
                else:
                    cell += ch
                previous = ch
            if len(cells) == 4:
                rows.append(tuple(cells))
    if not rows:
        sys.exit(f"claims-page: {report_dir}/claims.md: no claims found")
    return produced, rows


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: scripts/claims-page.py REPORT_DIR... > docs/claims.md")
    reports = [(d, *read_claims(d)) for d in argv[1:]]
    counts = {"agrees": 0, "disagrees": 0, "inconclusive": 0}
    for _, _, rows in reports:
        for row in rows:
            counts[row[2]] = counts.get(row[2], 0) + 1
    out = ["# Claims about normalization, measured", ""]
    out.append(
        "One row per claim that normkit's lab checks, from the reports below: the verdict comes from the 95% "
        "interval of the claim's per-seed value (a difference paired by seed, a log ratio, or a vote when the claim "
        "has several conditions), 'inconclusive' when the interval holds zero (docs/lab.md). The published figure "
        "is in each measurement's parentheses.")
    out.append("")
    out.append(f"In all: {counts['agrees']} agree, {counts['disagrees']} disagree, "
               f"{counts['inconclusive']} inconclusive.")
    out.append("")
    out.append("| claim | experiment | verdict | measured here |")
    out.append("|---|---|---|---|")
    for _, _, rows in reports:
        for claim, experiment, verdict, measured in rows:
            out.append(f"| {claim} | {experiment} | {verdict} | {measured} |")
    out.append("")
    out.append("The reports:")
    out.append("")
    for report_dir, produced, _ in reports:
        link = os.path.relpath(pathlib.Path(report_dir) / "report.md", "docs")  # the page lives in docs/
        out.append(f"- [{report_dir}/report.md]({link}): {produced}")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv)
