"""The shared corpus of real job files, against upstream's recorded verdicts.

`jobs/` must parse; `invalid/` must fail at the line and with the message noted
in SOURCES.tsv; `nonstandard/` (ChromeOS extensions) must be rejected with
`Unknown stanza` at the noted line; `templated/` is skipped. The corpus is found
through `$UPSTART_SHARED` (default `<repo>/../shared`): without it the module
is skipped with one loud line (a failure under `.ci/run`).
"""

import csv
import re

import pytest

from testdata import needs_shared
from upstart.jobfile.conf import read_text
from upstart.jobfile.model import ParseError
from upstart.jobfile.parser import parse_job

CORPUS = needs_shared("corpus")


def _rows():
    with open(CORPUS / "SOURCES.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ROWS = _rows()


def _by_kind(kind):
    return [r for r in ROWS if r["local_path"].split("/", 1)[0] == kind]


def _parse(rel):
    path = CORPUS / rel
    return parse_job(read_text(str(path)), path.stem, path=str(path))


def test_corpus_is_complete():
    assert len(_by_kind("jobs")) > 1000
    assert _by_kind("invalid") and _by_kind("nonstandard")


def test_every_valid_job_parses():
    failures = []
    for row in _by_kind("jobs"):
        try:
            _parse(row["local_path"])
        except ParseError as err:
            failures.append(f"{row['local_path']}: {err}")
    assert failures == []


_INVALID = re.compile(r"line (\d+): ([^:]+):")


@pytest.mark.parametrize("row", _by_kind("invalid"), ids=lambda r: r["local_path"])
def test_invalid_jobs_fail_where_upstream_failed(row):
    m = _INVALID.search(row["note"])
    assert m, row["note"]
    with pytest.raises(ParseError) as ei:
        _parse(row["local_path"])
    assert (ei.value.line, ei.value.message) == (int(m.group(1)), m.group(2))


_NONSTD = re.compile(r"rejects at line (\d+) \(Unknown stanza\)")


@pytest.mark.parametrize("row", _by_kind("nonstandard"), ids=lambda r: r["local_path"])
def test_nonstandard_jobs_are_unknown_stanzas(row):
    m = _NONSTD.search(row["note"])
    assert m, row["note"]
    with pytest.raises(ParseError) as ei:
        _parse(row["local_path"])
    assert (ei.value.line, ei.value.message) == (int(m.group(1)), "Unknown stanza")


def test_a_known_job_reads_back_sensibly():
    rows = [r for r in _by_kind("jobs") if r["local_path"].endswith("mounted-proc.conf")]
    if not rows:
        pytest.skip("mounted-proc.conf not in this corpus")
    cls = _parse(rows[0]["local_path"])
    assert cls.start_on is not None and "main" in cls.process or cls.task
