"""``resorb volume`` and ``resorb resorption``: JSON contract and bad input (exit 2, one line)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import run_cli


def run(argv, capsys) -> tuple[int, str, str]:
    return run_cli(capsys, *argv)


def run_json(argv, capsys) -> dict:
    code, out, err = run([*argv, "--json"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.mark.parametrize("name", ["baseline.nii.gz", "baseline.nrrd", "baseline_seg.dcm"])
def test_volume_of_example_mask(examples_dir, capsys, name):
    data = run_json(["volume", str(examples_dir / name), "--label", "2"], capsys)
    assert {"volume_mm3", "voxel_count", "voxel_volume_mm3", "method"} <= data.keys()
    assert data["method"] == "voxel_count"
    assert data["voxel_count"] == 1063
    assert data["voxel_volume_mm3"] == pytest.approx(1.44, rel=1e-6)
    assert data["volume_mm3"] == pytest.approx(1063 * 1.44, rel=1e-6)


def test_volume_without_label_counts_every_nonzero_voxel(examples_dir, capsys):
    all_ = run_json(["volume", str(examples_dir / "baseline.nii.gz")], capsys)
    disc = run_json(["volume", str(examples_dir / "baseline.nii.gz"), "--label", "1"], capsys)
    assert all_["voxel_count"] == disc["voxel_count"] + 1063


def test_volume_from_ellipsoid(capsys):
    data = run_json(["volume", "--ellipsoid", "6.5", "9", "11"], capsys)
    assert data["method"] == "ellipsoid"
    assert data["volume_mm3"] == pytest.approx(math.pi / 6 * 6.5 * 9 * 11, abs=1e-4)


def test_volume_from_section_areas(capsys):
    data = run_json(["volume", "--areas", "20,35.5,12", "--spacing-mm", "4"], capsys)
    assert data == {"volume_mm3": 270.0, "method": "cavalieri", "sections": 3, "spacing_mm": 4.0}


def test_resorption_json_contract(capsys):
    data = run_json(["resorption", "1918.35", "653.66", "--days", "600"], capsys)
    expected = (1918.35 - 653.66) / 1918.35 * 100  # 65.93 % as printed (PMID 25179358)
    assert data["resorption_percent"] == pytest.approx(expected, abs=1e-4)
    assert data["grade"] == "significant"
    assert data["within_mdc"] is False
    assert data["mdc_mm3"] > 0
    assert data["resorption_percent_per_month"] == pytest.approx(expected / 600 * 30.4375, abs=1e-3)
    assert data["thresholds"]["evidence_id"] == "resorption_grade_thresholds"


def test_resorption_flags_change_within_mdc(capsys):
    data = run_json(["resorption", "1000", "600", "--mdc-mm3", "450"], capsys)
    assert (data["grade"], data["within_mdc"], data["mdc_mm3"]) == ("partial", True, 450.0)
    code, out, err = run(["resorption", "1000", "600", "--mdc-mm3", "450"], capsys)
    assert code == 0 and err == ""
    assert "within the minimal detectable change" in out


def test_resorption_of_enlarged_herniation_is_negative(capsys):
    data = run_json(["resorption", "800", "1200"], capsys)
    assert data["resorption_percent"] == -50.0
    assert data["grade"] == "enlarged"


def test_resorption_between_two_mask_files(examples_dir, capsys):
    data = run_json(
        [
            "resorption",
            str(examples_dir / "baseline.nii.gz"),
            str(examples_dir / "followup.nii.gz"),
            "--label",
            "2",
            "--days",
            "120",
        ],
        capsys,
    )
    assert data["v0_mm3"] == pytest.approx(1063 * 1.44, rel=1e-6)
    assert data["v1_mm3"] == pytest.approx(372 * 1.44, rel=1e-6)
    assert data["grade"] == "significant"


def test_custom_thresholds_and_same_reader_mdc(capsys):
    data = run_json(
        [
            "resorption",
            "1000",
            "690",
            "--significant-percent",
            "30",
            "--partial-percent",
            "10",
            "--same-reader",
        ],
        capsys,
    )
    assert data["grade"] == "significant"
    assert data["thresholds"]["sources"][:2] == ["user:partial_percent", "user:significant_percent"]
    assert "pmid:37559207" in data["thresholds"]["sources"]  # enlarged: the default


def test_readable_table_by_default(examples_dir, capsys):
    code, out, _ = run(["volume", str(examples_dir / "baseline.nii.gz"), "--label", "2"], capsys)
    assert code == 0
    assert "volume_mm3" in out and "voxel_count" in out and not out.lstrip().startswith("{")


def _corrupt(tmp: Path, name: str) -> str:
    p = tmp / name
    p.write_bytes(b"this is not an image " * 50)
    return str(p)


def _empty(tmp: Path, name: str) -> str:
    p = tmp / name
    p.write_bytes(b"")
    return str(p)


def _truncated(tmp: Path, examples: Path, name: str) -> str:
    data = (examples / name).read_bytes()
    p = tmp / f"cut_{name}"
    p.write_bytes(data[: len(data) // 2])
    return str(p)


def _probability_map(tmp: Path) -> str:
    import nibabel as nib
    import numpy as np

    p = tmp / "prob.nii.gz"
    data = np.random.default_rng(5).random((4, 4, 4)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(p))
    return str(p)


BAD = {
    "missing_nifti": (lambda t, e: ["volume", str(t / "nope.nii.gz")], "not found"),
    "missing_seg": (lambda t, e: ["volume", str(t / "nope.dcm"), "--label", "2"], "not found"),
    "empty_nifti": (lambda t, e: ["volume", _empty(t, "e.nii.gz")], "empty"),
    "empty_nrrd": (lambda t, e: ["volume", _empty(t, "e.nrrd")], "empty"),
    "corrupt_nifti": (lambda t, e: ["volume", _corrupt(t, "c.nii")], "c.nii"),
    "corrupt_niigz": (lambda t, e: ["volume", _corrupt(t, "c.nii.gz")], "c.nii.gz"),
    "corrupt_nrrd": (lambda t, e: ["volume", _corrupt(t, "c.nrrd")], "c.nrrd"),
    "corrupt_dicom": (lambda t, e: ["volume", _corrupt(t, "c.dcm")], "c.dcm"),
    "truncated_niigz": (
        lambda t, e: ["volume", _truncated(t, e, "baseline.nii.gz")],
        "cut_baseline.nii.gz",
    ),
    "truncated_seg": (
        lambda t, e: ["volume", _truncated(t, e, "baseline_seg.dcm")],
        "cut_baseline_seg.dcm",
    ),
    "wrong_label": (
        lambda t, e: ["volume", str(e / "baseline.nii.gz"), "--label", "7"],
        "label: 7 is not present",
    ),
    "wrong_seg_segment": (
        lambda t, e: ["volume", str(e / "baseline_seg.dcm"), "--label", "3"],
        "label: 3 is not present",
    ),
    "non_integer_label_image": (lambda t, e: ["volume", _probability_map(t)], "not integer-valued"),
    "resorption_mask_wrong_label": (
        lambda t, e: [
            "resorption",
            str(e / "baseline.nii.gz"),
            str(e / "followup.nii.gz"),
            "--label",
            "5",
        ],
        "v0_mm3: label: 5 is not present",
    ),
    "resorption_masks_without_label": (
        lambda t, e: ["resorption", str(e / "baseline.nii.gz"), str(e / "followup.nii.gz")],
        "--label: ",
    ),
    "resorption_corrupt_mask": (
        lambda t, e: ["resorption", "1500", _corrupt(t, "c.nrrd")],
        "v1_mm3",
    ),
    "zero_label": (lambda t, e: ["volume", str(e / "baseline.nii.gz"), "--label", "0"], "label"),
    "non_integer_label": (
        lambda t, e: ["volume", str(e / "baseline.nii.gz"), "--label", "x"],
        "--label",
    ),
    "negative_diameter": (lambda t, e: ["volume", "--ellipsoid", "-5", "6", "7"], "ap_mm"),
    "two_diameters": (lambda t, e: ["volume", "--ellipsoid", "5", "6"], "--ellipsoid"),
    "nothing": (lambda t, e: ["volume"], "volume"),
    "mask_and_ellipsoid": (
        lambda t, e: ["volume", str(e / "baseline.nii.gz"), "--ellipsoid", "1", "2", "3"],
        "exactly one",
    ),
    "areas_without_spacing": (lambda t, e: ["volume", "--areas", "1,2"], "--spacing-mm"),
    "negative_area": (
        lambda t, e: ["volume", "--areas", "1,-2", "--spacing-mm", "3"],
        "areas_mm2[1]",
    ),
    "zero_spacing": (lambda t, e: ["volume", "--areas", "1,2", "--spacing-mm", "0"], "spacing_mm"),
    "v0_zero": (lambda t, e: ["resorption", "0", "100"], "v0_mm3"),
    "v0_negative": (lambda t, e: ["resorption", "-100", "100"], "v0_mm3"),
    "v1_negative": (lambda t, e: ["resorption", "100", "-1"], "v1_mm3"),
    "v0_text": (lambda t, e: ["resorption", "abc", "100"], "v0_mm3"),
    "days_zero": (lambda t, e: ["resorption", "100", "50", "--days", "0"], "days"),
    "bad_thresholds": (
        lambda t, e: ["resorption", "100", "50", "--partial-percent", "60"],
        "grading",
    ),
    "resorption_missing_mask": (
        lambda t, e: ["resorption", str(t / "gone.nii.gz"), "100"],
        "not found",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line_naming_the_problem(tmp_path, examples_dir, capsys, case):
    make_args, needle = BAD[case]
    code, out, err = run(make_args(tmp_path, examples_dir), capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_installed_script_reports_bad_input_on_one_line(tmp_path):
    script = Path(sys.executable).with_name("resorb")
    exe = str(script) if script.exists() else shutil.which("resorb")
    assert exe, "the resorb script is installed with the package"
    empty = tmp_path / "empty.nii.gz"
    empty.write_bytes(b"")
    bad = subprocess.run(
        [exe, "volume", str(empty), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [f"resorb: error: {empty}: mask file is empty"]
    ok = subprocess.run(
        [exe, "resorption", "1500", "600", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["grade"] == "significant"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.nii", b"\x5c\x01\x00\x00" + bytes(344)),
        ("broken.nrrd", b"NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: gzip\n\nxx"),
    ],
)
def test_an_unreadable_mask_is_refused_in_words_without_library_class_names(
    tmp_path, capsys, name, content
):
    """The refusal reaches clinicians too (the web app's mask upload shows it): one line
    saying what is wrong, not the reader library's exception class (was e.g.
    ``ImageFileError: Cannot work out file type`` and ``NRRDError: Header is missing``)."""
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run(["volume", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "not a readable" in err
    assert "Error:" not in err.replace("error:", "")


def test_volume_of_a_mask_with_several_labels_and_no_label_warns_that_all_were_added(
    examples_dir, capsys
):
    """Without --label every nonzero voxel is counted (the documented default), but a
    mask holding the herniation and the parent disc must not pass for a herniation
    volume unnoticed: warnings[] says which labels were added together."""
    data = run_json(["volume", str(examples_dir / "baseline.nii.gz")], capsys)
    (note,) = [w for w in data["warnings"] if w["field"] == "label"]
    assert "labels 1, 2" in note["message"] and "--label" in note["message"]
    one = run_json(["volume", str(examples_dir / "baseline.nii.gz"), "--label", "2"], capsys)
    assert not [w for w in one["warnings"] if w["field"] == "label"]


def test_a_seg_missing_a_required_attribute_is_refused_without_python_words(
    examples_dir, tmp_path, capsys
):
    """A SEG without Rows: one line saying the SEG is incomplete (was the library's
    "'FileDataset' object has no attribute 'Rows'", which the web upload showed)."""
    import pydicom

    ds = pydicom.dcmread(examples_dir / "baseline_seg.dcm")
    del ds.Rows
    path = tmp_path / "no_rows.dcm"
    ds.save_as(path)
    code, out, err = run(["volume", str(path), "--label", "2"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "incomplete or corrupt DICOM SEG" in err
    assert "object has no attribute" not in err and "Dataset" not in err


def test_a_seg_cut_in_half_is_refused_as_incomplete(examples_dir, tmp_path, capsys):
    """A SEG file cut short (an interrupted copy): pydicom reads what is there, and the
    refusal said "SegmentationType missing is not supported", as if the type were wrong;
    it now says the SEG is incomplete."""
    data = (examples_dir / "baseline_seg.dcm").read_bytes()
    path = tmp_path / "half.dcm"
    path.write_bytes(data[: len(data) // 2])
    code, out, err = run(["volume", str(path), "--label", "2"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "incomplete" in err or "truncated" in err
