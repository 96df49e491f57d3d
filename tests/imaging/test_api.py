"""The public API of resorb.imaging that other parts of resorb call (pinned)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import resorb.imaging as imaging


def test_public_names():
    assert set(imaging.__all__) == {
        "DAYS_PER_MONTH",
        "HerniationMask",
        "ResorptionGrade",
        "ResorptionGrading",
        "ResorptionResult",
        "VolumeErrorModel",
        "VolumeMeasurement",
        "cavalieri_volume_mm3",
        "compare_volumes",
        "count_label_voxels",
        "ellipsoid_volume_mm3",
        "mask_volume",
        "measure_study",
        "volume_error_model",
    }
    for name in imaging.__all__:
        assert getattr(imaging, name) is not None


@pytest.mark.parametrize(
    ("func", "positional", "keyword_only"),
    [
        ("mask_volume", ["mask_or_array"], {"affine", "spacing_mm", "label"}),
        ("cavalieri_volume_mm3", ["areas_mm2"], {"spacing_mm"}),
        ("ellipsoid_volume_mm3", ["ap_mm", "tr_mm", "cc_mm"], set()),
        (
            "compare_volumes",
            ["v0_mm3", "v1_mm3"],
            {"days", "grading", "mdc_mm3", "readers", "warn"},
        ),
        ("measure_study", ["study"], set()),
    ],
)
def test_data_first_options_keyword_only(func, positional, keyword_only):
    params = inspect.signature(getattr(imaging, func)).parameters.values()
    assert [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD] == positional
    assert {p.name for p in params if p.kind is p.KEYWORD_ONLY} == keyword_only


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        ("VolumeMeasurement", {"volume_mm3", "voxel_count", "voxel_volume_mm3", "method"}),
        ("ResorptionResult", {"resorption_percent", "grade", "within_mdc", "mdc_mm3", "delta_mm3"}),
        ("HerniationMask", {"labels", "affine"}),
        (
            "ResorptionGrading",
            {"partial_percent", "significant_percent", "enlarged_percent", "sources"},
        ),
    ],
)
def test_value_objects_are_frozen_with_their_fields(cls, fields):
    klass = getattr(imaging, cls)
    assert fields <= {f.name for f in dataclasses.fields(klass)}
    assert klass.__dataclass_params__.frozen


def test_mask_constructors():
    for name in ("from_nifti", "from_nrrd", "from_dicom_seg", "from_file"):
        assert callable(getattr(imaging.HerniationMask, name))


def test_core_modules_do_not_import_file_libraries():
    import resorb.imaging._serial as serial
    import resorb.imaging._types as types_
    import resorb.imaging._volumetry as volumetry

    for module in (serial, types_, volumetry):
        source = inspect.getsource(module)
        for lib in ("nibabel", "pydicom", "highdicom", "nrrd"):
            assert f"import {lib}" not in source, (module.__name__, lib)
