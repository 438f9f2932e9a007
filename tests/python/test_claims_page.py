"""scripts/claims-page.py gathers the lab reports' claims.md files into one page."""

import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "claims-page.py"


def write_report(folder, produced, rows):
    folder.mkdir(parents=True)
    text = "# The claims measured in this report\n\n" + produced + "\n\n"
    text += "| claim | experiment | verdict | measured here |\n|---|---|---|---|\n"
    text += "".join(f"| {c} | {e} | {v} | {m} |\n" for c, e, v, m in rows)
    (folder / "claims.md").write_text(text, encoding="utf-8")


def test_gathers_rows_and_counts_verdicts(tmp_path):
    write_report(tmp_path / "a", "Produced by `normkit lab x` (full mode).",
                 [("BN helps", "x", "agrees", "0.91 ± 0.01 against 0.88 (the paper: 0.90)"),
                  ("\\|\\|w\\|\\| shrinks", "x", "inconclusive", "x1.2 ± 0.3 of \\|\\|w\\|\\| (the paper: smaller)")])
    write_report(tmp_path / "b", "Produced by `normkit lab y` (full mode).",
                 [("GN fixes it", "y", "disagrees", "-0.5 ± 0.2 points")])
    page = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "a"), str(tmp_path / "b")],
                          check=True, capture_output=True, text=True).stdout
    assert "In all: 1 agree, 1 disagree, 1 inconclusive." in page
    assert "| BN helps | x | agrees | 0.91 ± 0.01 against 0.88 (the paper: 0.90) |" in page
    # An escaped pipe stays inside its cell.
    assert "| \\|\\|w\\|\\| shrinks | x | inconclusive | x1.2 ± 0.3 of \\|\\|w\\|\\| (the paper: smaller) |" in page
    assert "Produced by `normkit lab y` (full mode)." in page


def test_refuses_a_report_without_claims(tmp_path):
    write_report(tmp_path / "empty", "Produced by nothing.", [])
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "empty")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "no claims found" in result.stderr
