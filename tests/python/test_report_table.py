"""bench/report_table.py: each row's verdict against issue 19's targets, with
"slower" only where the speed-up's 95% interval lies below 1."""

import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "bench" / "report_table.py"
HEADER = ("op,shape,threads,impl,median_ms,gbps,working_set_bytes,cache_level,limit_gbps,fraction_of_limit,"
          "normkit_speedup,cpu,l2_bytes,l3_bytes,simd_path,speedup_low,speedup_high\n")


def line(op, impl, ms, fraction, speedup, low="", high=""):
    return (f'"{op}","8x8",2,"{impl}",{ms},1.0,1024,L1,10,{fraction},{speedup},"cpu",1,1,avx512,'
            f"{low},{high}\n")


def table(tmp_path, text):
    path = tmp_path / "bench.csv"
    path.write_text(text)
    out = subprocess.run([sys.executable, str(SCRIPT), str(path), "--threads", "2"],
                         check=True, capture_output=True, text=True).stdout
    return {row.split(" | ")[0].lstrip("| "): row.rstrip(" |").split(" | ")[-1]
            for row in out.splitlines() if row.startswith("| ") and not row.startswith("| op")}


def test_verdicts_follow_the_interval(tmp_path):
    verdicts = table(tmp_path, HEADER +
                     line("level", "normkit", 1.0, 0.5, 1) + line("level", "peer", 0.98, 0.5, 0.98, 0.94, 1.01) +
                     line("behind", "normkit", 1.0, 0.5, 1) + line("behind", "peer", 0.9, 0.5, 0.9, 0.85, 0.95) +
                     line("ahead", "normkit", 1.0, 0.5, 1) + line("ahead", "peer", 1.6, 0.5, 1.6, 1.5, 1.7) +
                     line("short", "normkit", 1.0, 0.5, 1) + line("short", "peer", 1.2, 0.5, 1.2, 1.1, 1.3) +
                     line("at limit", "normkit", 1.0, 0.9, 1) + line("at limit", "peer", 1.1, 0.9, 1.1, 1.0, 1.2))
    assert verdicts["level"] == "level (0.98x; 95% interval 0.94-1.01)"
    assert verdicts["behind"] == "**slower** (0.90x; 95% interval 0.85-0.95)"
    assert verdicts["ahead"] == "met"
    assert verdicts["short"] == "missed"
    assert verdicts["at limit"] == "met"


def test_a_row_without_an_interval_behind_is_slower(tmp_path):
    # A CSV from before the intervals, or a peer with too few pairs.
    verdicts = table(tmp_path, HEADER + line("old", "normkit", 1.0, 0.5, 1) + line("old", "peer", 0.99, 0.5, 0.99))
    assert verdicts["old"] == "**slower** (0.99x)"
