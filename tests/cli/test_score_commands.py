"""`resorb score ...`: the JSON contract of docs/cli.md and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import run_cli

run = run_cli


def test_odi_json_keys_and_skipped_section(capsys):
    code, out, _ = run(
        capsys, "score", "odi", "2", "2", "2", "2", "2", "2", "2", "1", "1", "x", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"odi_percent", "answered", "band"}
    assert data["answered"] == 9
    assert data["odi_percent"] == pytest.approx(35.56, abs=0.01)


def test_joa_recovery_json(capsys):
    code, out, _ = run(capsys, "score", "joa-recovery", "--pre", "12", "--post", "24", "--json")
    assert code == 0
    assert json.loads(out)["recovery_rate_percent"] == pytest.approx(70.59, abs=0.01)


def test_joa_items_total(capsys):
    items = [
        "low_back_pain=1",
        "leg_pain=1",
        "gait=2",
        "slr=1",
        "sensory=1",
        "motor=2",
        "adl_turning_over=1",
        "adl_standing=1",
        "adl_washing=1",
        "adl_leaning_forward=0",
        "adl_sitting=1",
        "adl_lifting=0",
        "adl_walking=1",
        "bladder=-3",
    ]
    code, out, _ = run(capsys, "score", "joa", *items, "--json")
    assert code == 0
    assert json.loads(out)["joa_total"] == 10


def test_rmdq_and_mcid(capsys):
    code, out, _ = run(capsys, "score", "rmdq", *(["y"] * 6 + ["n"] * 18), "--json")
    assert (code, json.loads(out)["rmdq"]) == (0, 6)
    code, out, _ = run(capsys, "score", "mcid", "odi_percent", "42", "30", "--json")
    data = json.loads(out)
    assert data["reached"] is True and data["source"]["pmid"] == "18165753"


def test_readable_table_by_default(capsys):
    code, out, _ = run(capsys, "score", "odi", *["1"] * 10)
    assert code == 0 and "odi_percent" in out and "{" not in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["score", "odi", "1", "2", "3"], "odi_answers"),
        (["score", "odi", "1", "2", "3", "4", "5", "0", "1", "2", "3", "9"], "0-5"),
        (["score", "odi", "a", "2", "3", "4", "5", "0", "1", "2", "3", "4"], "answer 1"),
        (["score", "odi"], "answers"),
        (["score", "joa-recovery", "--pre", "29", "--post", "29"], "pre"),
        (["score", "joa-recovery", "--pre", "12"], "--post"),
        (["score", "joa-recovery", "--pre", "abc", "--post", "3"], "--pre"),
        (["score", "joa", "gait=9"], "joa_items.gait"),
        (["score", "joa", "gait"], "name=value"),
        (["score", "rmdq", "y"], "rmdq_answers"),
        (["score", "mcid", "pain", "1", "0"], "scale"),
        (["score", "odi", "--jsn"], "--jsn"),
        (["nonsense"], "nonsense"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_installed_script_reports_bad_input_without_traceback():
    exe = Path(sys.executable).with_name("resorb")
    proc = subprocess.run(
        [str(exe), "score", "odi", "9"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_mcid_command_cites_the_evidence_record(capsys):
    """The cited source is the record behind the threshold, not a hand-typed identifier."""
    from resorb.evidence import evidence_value

    code, out, _ = run(capsys, "score", "mcid", "vas_mm", "40", "20", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["evidence_id"] == "mcid_vas_mm"
    assert data["source"] == dict(evidence_value("mcid_vas_mm").citations[0])


@pytest.mark.parametrize(("pre", "post", "grade"), [("4", "19", "effective"), ("4", "29", "cured")])
def test_joa_recovery_grade_at_the_boundaries(capsys, pre, post, grade):
    """(19 - 4) / (29 - 4) = 60 % exactly: 'effective' on the forms (25-60 %)."""
    code, out, _ = run(capsys, "score", "joa-recovery", "--pre", pre, "--post", post, "--json")
    assert code == 0 and json.loads(out)["grade"] == grade


def test_joa_recovery_grading_text_is_built_from_the_table(capsys):
    code, out, _ = run(capsys, "score", "joa-recovery", "--pre", "12", "--post", "24", "--json")
    assert code == 0
    text = json.loads(out)["grading"]
    assert ">60 markedly effective" in text and ">=25 effective" in text
    assert "joa_recovery_grades_chinese_percent" in text
