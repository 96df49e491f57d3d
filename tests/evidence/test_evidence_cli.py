"""`resorb evidence list/show`: JSON output and one-line errors with exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cli_helpers import run_cli
from resorb.evidence import load_evidence

run = run_cli


def test_list_json_counts_every_record(capsys):
    code, out, _ = run(capsys, "evidence", "list", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["count"] == len(load_evidence()) == len(data["records"])


@pytest.mark.parametrize("kind", ["source", "value", "statement"])
def test_list_filters_by_kind(capsys, kind):
    code, out, _ = run(capsys, "evidence", "list", "--kind", kind, "--json")
    assert code == 0
    records = json.loads(out)["records"]
    assert records and {r["kind"] for r in records} == {kind}


def test_show_value_json_has_provenance(capsys):
    code, out, _ = run(capsys, "evidence", "show", "regression_rate_extrusion_zou2023", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["value"] == pytest.approx(0.6691)
    assert data["citations"][0] == {"doi": "10.1097/BSD.0000000000001490", "pmid": "37559207"}
    assert data["confidence"] == "exact"
    assert data["interval_assumption"] is True


def test_show_source_and_statement(capsys):
    code, out, _ = run(capsys, "evidence", "show", "kreiner2014", "--json")
    assert code == 0 and json.loads(out)["pmid"] == "24239490"
    code, out, _ = run(
        capsys, "evidence", "show", "nice_do_not_offer_acupuncture_traction", "--json"
    )
    assert code == 0 and "acupuncture" in json.loads(out)["text"]


def test_show_renders_a_table_without_json(capsys):
    code, out, _ = run(capsys, "evidence", "show", "resorption_grade_thresholds")
    assert code == 0
    assert "[exact]" in out  # square brackets in the data are printed, not eaten as markup


@pytest.mark.parametrize(
    "argv",
    [
        ("evidence", "show", "no_such_id"),
        ("evidence", "list", "--kind", "paper"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("resorb: error:")
    assert "Traceback" not in err


@pytest.mark.slow
def test_data_files_ship_in_the_wheel(tmp_path):
    """Recipe: copy the committed tree (git archive), `pip wheel --no-deps` it, and list the
    YAML files in the wheel. Needs hatchling from the package index."""
    root = Path(__file__).resolve().parents[2]
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not available to export the tree")
    archive = subprocess.run(
        [git, "-C", str(root), "archive", "HEAD", "--format=tar"], capture_output=True, check=True
    ).stdout
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            ".",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
        ],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if build.returncode != 0:
        pytest.skip(
            f"cannot build a wheel here (no hatchling from the index?): "
            f"{build.stderr.strip()[-200:]}"
        )
    wheel = next((tmp_path / "dist").glob("resorb-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("sources", "measurement", "incidence", "predictors", "guidelines"):
        assert f"resorb/evidence/data/{name}.yaml" in names
    assert "resorb/therapy/data/catalogue.yaml" in names
