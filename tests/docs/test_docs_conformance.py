"""The spec-row audit in docs/conformance.md is true (issue #25, Must show).

Every row of the specification's checklist (`spec/00-index.md`) appears once in
the audit, with our status (Y built, P partly, N not built) and the tests that
show it; every test named there exists (`golden NNN` is a recorded scenario
replayed by tests/conformance/test_golden.py, `path::name` a test function
under tests/); a row we build is shown by at least one test; a row that is not
Y says why; and the 1.13 rows (the classic ones) are all Y or say why.
"""

from __future__ import annotations

import re

from testdata import REPO, SCENARIOS, needs_shared

INDEX = needs_shared("spec") / "00-index.md"
AUDIT = REPO / "docs" / "conformance.md"
ROW = re.compile(r"^\| ([A-Z]{2}-\d{2}) \|")


def _cells(line: str) -> list[str]:
    # `\|` inside a cell is an escaped bar, not a separator
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _spec_rows() -> dict[str, list[str]]:
    rows = {}
    for line in INDEX.read_text().splitlines():
        if ROW.match(line):
            cells = _cells(line)
            rows[cells[0]] = cells
    return rows


def _audit_rows() -> dict[str, list[str]]:
    text = AUDIT.read_text()
    section = text.split("## Spec-row audit", 1)[1]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if ROW.match(line):
            cells = _cells(line)
            assert cells[0] not in rows, f"{cells[0]} twice in the audit"
            rows[cells[0]] = cells
    return rows


def _refs(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _exists(ref: str) -> bool:
    m = re.fullmatch(r"golden (\d{3})", ref)
    if m:
        return any(SCENARIOS.glob(m.group(1) + "-*.json"))
    path, sep, name = ref.partition("::")
    if not sep:
        return False
    f = REPO / "tests" / path
    return f.is_file() and re.search(rf"^(async )?def {re.escape(name)}\(", f.read_text(),
                                     re.M) is not None


def test_every_spec_row_is_audited_once():
    spec, audit = _spec_rows(), _audit_rows()
    assert sorted(spec) == sorted(audit)
    assert len(spec) >= 199


def test_every_named_test_exists_and_built_rows_have_one():
    for rid, cells in _audit_rows().items():
        ours, tests, note = cells[3], cells[4], cells[5]
        assert ours in ("Y", "P", "N"), (rid, ours)
        missing = [r for r in _refs(tests) if not _exists(r)]
        assert not missing, f"{rid}: no such test {missing}"
        if ours in ("Y", "P"):
            assert _refs(tests), f"{rid} is {ours} but names no test"
        if ours != "Y":
            assert note, f"{rid} is {ours} and does not say why"


def test_classic_rows_are_built_or_say_why():
    spec, audit = _spec_rows(), _audit_rows()
    for rid, cells in spec.items():
        if cells[2] in ("Y", "P"):                  # in 1.13
            assert audit[rid][3] == "Y" or audit[rid][5], rid
