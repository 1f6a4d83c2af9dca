"""Parser and loader against the transcripts recorded from real Upstart 1.13.2.

Builds each scenario's final configuration directory and compares the classes
we build and the errors we would log with what upstream showed and logged.
"""

import json
from pathlib import Path

import pytest

from testdata import SCENARIOS
from upstart.jobfile.conf import load_sources
from upstart.jobfile.model import expr_to_text



def build(name: str, tmp_path: Path):
    """Write the scenario's jobs and its write-file steps; return (result, log, T)."""
    data = json.loads((SCENARIOS / name).read_text())
    t = str(tmp_path)
    conf = tmp_path / "conf"
    conf.mkdir()
    for job, text in data["jobs"].items():
        target = conf / (job if job.endswith(".override") else job + ".conf")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("<T>", t))
    for step in data["steps"]:
        if "write-file" in step:
            Path(step["write-file"].replace("<T>", t)).write_text(step["content"].replace("<T>", t))
    log = [line.replace("<T>", t) for line in data["log"]]
    return load_sources([str(conf)]), log, t


@pytest.mark.parametrize("scenario", ["096-invalid-job-files.json", "097-invalid-stanza-values.json"])
def test_parse_errors_are_logged_exactly(scenario, tmp_path):
    result, log, _ = build(scenario, tmp_path)
    assert sorted("init:" + e for e in result.errors) == sorted(log)
    assert list(result.classes) == (["good"] if scenario.startswith("097") else [])


def test_broken_override_is_logged_and_conf_kept(tmp_path):
    result, log, t = build("094-override-with-error.json", tmp_path)
    assert {"init:" + e for e in result.errors} == set(log)
    cls = result.classes["o"]
    assert expr_to_text(cls.start_on) == "ev" and cls.env == ["A=conf"]   # D-2


def test_override_merge(tmp_path):
    result, _, t = build("092-override-merge.json", tmp_path)
    assert list(result.classes) == ["o"]                  # lonely.override is ignored
    cls = result.classes["o"]
    assert cls.env == ["A=conf", "B=conf", "B=override", "C=override"]
    assert "override-main" in cls.process["main"].command


def test_override_manual(tmp_path):
    result, _, _ = build("091-override-manual.json", tmp_path)
    assert result.classes["m"].start_on is None


def test_manual_stanza(tmp_path):
    result, _, _ = build("095-manual-stanza.json", tmp_path)
    assert result.classes["before"].start_on is None
    assert expr_to_text(result.classes["after"].start_on) == "ev"
    assert result.classes["mt"].task


def test_show_config_brackets(tmp_path):
    data = json.loads((SCENARIOS / "016-show-config-brackets.json").read_text())
    result, _, _ = build("016-show-config-brackets.json", tmp_path)
    for step in data["steps"]:
        job = step["run"][2]
        lines = step["stdout"].splitlines()[1:]
        cls = result.classes[job]
        ours = [f"  start on {expr_to_text(cls.start_on)}"]
        if cls.stop_on is not None:
            ours.append(f"  stop on {expr_to_text(cls.stop_on)}")
        assert ours == lines
