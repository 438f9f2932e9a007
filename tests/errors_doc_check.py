#!/usr/bin/python3
"""docs/errors.md against the tests: every text in the table's last column
(between backticks) must be asserted somewhere under tests/ (a C++ test, a
Python test, or a CTest pass expression), literally or regex-escaped as
pytest.raises(match=...) and CTest write it. Exits 1 naming the rows that no
test asserts.
    tests/errors_doc_check.py SOURCE_DIR"""
import os
import re
import sys

source = sys.argv[1]
doc = open(os.path.join(source, "docs", "errors.md")).read()
tests_text = []
for root, _, files in os.walk(os.path.join(source, "tests")):
    for name in files:
        if name.endswith((".cpp", ".hpp", ".py", ".cmake", ".txt")) and name != "errors_doc_check.py":
            tests_text.append(open(os.path.join(root, name), errors="replace").read())
tests_text = "\n".join(tests_text)


def asserted(fragment):
    forms = {fragment, re.sub(r"([()\[\]])", r"\\\1", fragment), re.sub(r"([()\[\]])", r"\\\\\1", fragment)}
    forms |= {f.replace("'", "\\'") for f in list(forms)} | {f.replace('"', '\\"') for f in list(forms)}
    return any(f in tests_text for f in forms)


rows = [line for line in doc.splitlines() if line.startswith("|") and not line.startswith("|---")]
checked, missing = 0, []
for row in rows:
    cells = [c.strip() for c in row.strip("|").split("|")]
    if cells[-1] == "The message contains":
        continue
    for fragment in re.findall(r"`([^`]+)`", cells[-1]):
        checked += 1
        if not asserted(fragment):
            missing.append(f"{fragment!r} (row: {row})")
if missing or checked == 0:
    print("docs/errors.md: texts no test asserts:\n  " + "\n  ".join(missing))
    sys.exit(1)
print(f"docs/errors.md: all {checked} message texts are asserted by tests")
