"""Volume from masks, diameters and section areas against analytic ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resorb.domain import MRIStudy
from resorb.errors import ImagingError, InvalidInputError
from resorb.imaging import (
    HerniationMask,
    cavalieri_volume_mm3,
    count_label_voxels,
    ellipsoid_volume_mm3,
    mask_volume,
    measure_study,
)

AFFINES = {
    "rotated_anisotropic": ((0.6, 0.6, 4.0), 12.0, 7.0),
    "axial_isotropic": ((1.0, 1.0, 1.0), 0.0, 0.0),
    "strongly_oblique": ((0.45, 0.7, 3.3), 35.0, -20.0),
}


@pytest.mark.parametrize("name", sorted(AFFINES))
def test_voxel_volume_is_count_times_abs_det_of_affine(make_masks, name):
    """Exact voxel-count volume: count x |det(affine[:3, :3])|, whatever the orientation."""
    voxel, rx, rz = AFFINES[name]
    shape = (60, 60, 16)
    affine = make_masks.oblique_affine(shape, voxel, rx, rz)
    xyz = make_masks.voxel_centres_mm(shape, affine)
    labels = make_masks.inside_ellipsoid(xyz, (0, 0, 0), (6.0, 5.0, 9.0)).astype(np.uint8) * 2
    count = int(np.count_nonzero(labels))
    m = mask_volume(labels, affine=affine, label=2)
    assert m.voxel_count == count
    assert m.voxel_volume_mm3 == pytest.approx(np.prod(voxel), rel=1e-12)
    assert m.volume_mm3 == pytest.approx(count * abs(np.linalg.det(affine[:3, :3])), rel=1e-12)
    assert m.method == "voxel_count"


def test_well_sampled_oblique_ellipsoid_is_within_two_percent_of_analytic(make_masks):
    """A rotated ellipsoid (semi-axes 6, 8, 10 mm) sampled at 0.3 x 0.35 x 0.4 mm."""
    shape = (90, 90, 80)
    affine = make_masks.oblique_affine(shape, (0.3, 0.35, 0.4), 20.0, 33.0)
    xyz = make_masks.voxel_centres_mm(shape, affine)
    rot = make_masks.rotation(5.0, 40.0)
    labels = make_masks.inside_ellipsoid(xyz, (0.3, -0.2, 0.1), (6.0, 8.0, 10.0), rot)
    analytic = 4.0 / 3.0 * math.pi * 6 * 8 * 10
    assert mask_volume(labels, affine=affine).volume_mm3 == pytest.approx(analytic, rel=0.02)


def test_volume_scales_with_voxel_spacing():
    labels = np.zeros((10, 10, 10), dtype=np.int16)
    labels[2:5, 3:7, 1:3] = 5
    base = mask_volume(labels, spacing_mm=(1, 1, 1), label=5).volume_mm3
    assert base == 24
    assert mask_volume(labels, spacing_mm=(0.5, 2.0, 3.0), label=5).volume_mm3 == pytest.approx(72)


def test_label_selection_counts_only_that_label_and_default_counts_all_nonzero():
    labels = np.zeros((6, 6, 6), dtype=np.uint8)
    labels[0:2, 0:2, 0:2] = 1  # 8 voxels
    labels[3:6, 3:6, 3:4] = 2  # 9 voxels
    labels[5, 0, 0] = 255  # 1 voxel
    assert mask_volume(labels, spacing_mm=(1, 1, 1), label=1).voxel_count == 8
    assert mask_volume(labels, spacing_mm=(1, 1, 1), label=2).voxel_count == 9
    assert mask_volume(labels, spacing_mm=(1, 1, 1), label=255).voxel_count == 1
    assert mask_volume(labels, spacing_mm=(1, 1, 1)).voxel_count == 18


def test_blockwise_count_matches_numpy_on_a_large_array():
    """The block loop (arrays above 4 Mi voxels) gives numpy's own count."""
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 4, size=(160, 160, 200), dtype=np.uint8)
    for label in (None, 1, 3, 9):
        expected = int(np.count_nonzero(labels if label is None else labels == label))
        assert count_label_voxels(labels, label) == expected
    assert count_label_voxels(labels[:, ::2, :], 2) == int(np.count_nonzero(labels[:, ::2] == 2))


def test_absent_label_is_rejected_with_the_labels_present():
    labels = np.zeros((4, 4, 4), dtype=np.uint8)
    labels[1, 1, 1] = 1
    labels[2, 2, 2] = 3
    with pytest.raises(ImagingError, match=r"label: 2 is not present .*labels present: 1, 3"):
        mask_volume(labels, spacing_mm=(1, 1, 1), label=2)


def test_declared_but_empty_label_measures_zero():
    """A segment the file declares (DICOM SEG) but that has no voxels: fragment not visible."""
    mask = HerniationMask(
        labels=np.zeros((3, 3, 3), dtype=np.uint8),
        affine=np.eye(4),
        declared_labels=frozenset({1, 2}),
    )
    assert mask_volume(mask, label=2).volume_mm3 == 0.0
    with pytest.raises(ImagingError, match="label: 3 is not present"):
        mask_volume(mask, label=3)


def test_all_zero_mask_without_label_measures_zero():
    assert mask_volume(np.zeros((3, 3, 3), bool), spacing_mm=(1, 1, 1)).volume_mm3 == 0.0


@pytest.mark.parametrize("label", [0, -1, 1.5, "2", True])
def test_invalid_label_is_rejected(label):
    with pytest.raises(InvalidInputError, match="label"):
        mask_volume(np.ones((2, 2, 2), np.uint8), spacing_mm=(1, 1, 1), label=label)


def test_whole_number_float_labels_are_accepted_and_fractions_rejected():
    labels = np.zeros((4, 4, 4), dtype=np.float32)
    labels[1:3, 1:3, 1:3] = 2.0
    assert mask_volume(labels, spacing_mm=(1, 1, 1), label=2).voxel_count == 8
    labels[0, 0, 0] = 0.4
    with pytest.raises(ImagingError, match="not integer-valued"):
        mask_volume(labels, spacing_mm=(1, 1, 1))
    labels[0, 0, 0] = np.nan
    with pytest.raises(ImagingError, match="NaN"):
        mask_volume(labels, spacing_mm=(1, 1, 1))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "affine"),
        ({"spacing_mm": (1, 1)}, "spacing_mm"),
        ({"spacing_mm": (1, 0, 1)}, "spacing_mm"),
        ({"affine": np.zeros((4, 4))}, "affine"),
        ({"affine": np.eye(4), "spacing_mm": (1, 1, 1)}, "affine"),
    ],
)
def test_bare_array_needs_valid_geometry(kwargs, field):
    with pytest.raises(InvalidInputError, match=field):
        mask_volume(np.ones((2, 2, 2), np.uint8), **kwargs)


def test_mask_must_be_three_dimensional():
    with pytest.raises(ImagingError, match="3-D"):
        HerniationMask(labels=np.ones((3, 3), np.uint8), affine=np.eye(4))


def test_mask_array_is_read_only_and_not_copied():
    data = np.zeros((5, 5, 5), dtype=np.uint8)
    mask = HerniationMask(labels=data, affine=np.eye(4))
    assert np.shares_memory(mask.labels, data)
    with pytest.raises(ValueError, match="read-only"):
        mask.labels[0, 0, 0] = 1
    assert data.flags.writeable


@st.composite
def _mask_and_flips(draw):
    shape = tuple(draw(st.integers(2, 7)) for _ in range(3))
    seed = draw(st.integers(0, 2**16))
    labels = np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.uint8)
    diag = [draw(st.floats(0.2, 5.0)) for _ in range(3)]
    angle = draw(st.floats(-180, 180))
    flips = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True))
    return labels, diag, angle, flips


@settings(max_examples=60, deadline=None)
@given(_mask_and_flips())
def test_volume_invariant_to_axis_flips_when_affine_flips_too(make_masks, case):
    labels, diag, angle, flips = case
    affine = make_masks.oblique_affine(labels.shape, diag, angle, angle / 2)
    flipped, faff = labels, affine.copy()
    for ax in flips:
        flipped = np.flip(flipped, axis=ax)
        f = np.eye(4)
        f[ax, ax] = -1.0
        f[ax, 3] = labels.shape[ax] - 1
        faff = faff @ f
    for label in (None, 1, 2):
        if label is not None and not np.any(labels == label):
            continue
        a = mask_volume(labels, affine=affine, label=label)
        b = mask_volume(flipped, affine=faff, label=label)
        assert a.voxel_count == b.voxel_count
        assert b.volume_mm3 == pytest.approx(a.volume_mm3, rel=1e-12)
    # the flipped mask describes the same voxels in space, not just the same count
    for label in (1, 2):
        assert np.allclose(
            _world_points(labels, affine, label), _world_points(flipped, faff, label), atol=1e-6
        )


def _world_points(labels, affine, label):
    idx = np.argwhere(labels == label)
    pts = np.round(idx @ affine[:3, :3].T + affine[:3, 3], 6)
    return pts[np.lexsort(pts.T[::-1])]


def test_ellipsoid_of_a_sphere():
    assert ellipsoid_volume_mm3(10, 10, 10) == pytest.approx(4 / 3 * math.pi * 5**3)
    assert ellipsoid_volume_mm3(0, 5, 5) == 0.0


@settings(max_examples=100, deadline=None)
@given(st.tuples(*[st.floats(0.1, 50)] * 3), st.tuples(*[st.floats(0.1, 10)] * 3))
def test_ellipsoid_volume_scales_with_the_product_of_diameters(d, k):
    base = ellipsoid_volume_mm3(*d)
    scaled = ellipsoid_volume_mm3(d[0] * k[0], d[1] * k[1], d[2] * k[2])
    assert scaled == pytest.approx(base * k[0] * k[1] * k[2], rel=1e-9)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, 5, 5), "ap_mm"),
        ((5, -0.1, 5), "tr_mm"),
        ((5, 5, float("nan")), "cc_mm"),
        ((5, "x", 5), "tr_mm"),
    ],
)
def test_ellipsoid_rejects_negative_or_non_numeric_diameters(args, field):
    with pytest.raises(InvalidInputError, match=field):
        ellipsoid_volume_mm3(*args)


def test_cavalieri_of_voxelised_phantom_equals_voxel_count_volume(make_masks):
    """Section areas of an orthogonal voxel mask x slice spacing = voxel-count volume."""
    shape = (50, 50, 20)
    affine = np.diag([0.5, 0.5, 3.0, 1.0])
    xyz = make_masks.voxel_centres_mm(shape, affine)
    labels = make_masks.inside_ellipsoid(xyz, (12, 12, 30), (6, 8, 20))
    areas = labels.sum(axis=(0, 1)) * 0.25
    assert cavalieri_volume_mm3(areas, spacing_mm=3.0) == pytest.approx(
        mask_volume(labels, affine=affine).volume_mm3, rel=1e-12
    )


@pytest.mark.parametrize(
    ("areas", "spacing", "field"),
    [
        ([], 4.0, "areas_mm2"),
        ([1.0, -2.0], 4.0, r"areas_mm2\[1\]"),
        ([1.0], 0.0, "spacing_mm"),
        ([1.0], -3, "spacing_mm"),
        ([float("inf")], 1.0, r"areas_mm2\[0\]"),
    ],
)
def test_cavalieri_rejects_bad_input(areas, spacing, field):
    with pytest.raises(InvalidInputError, match=field):
        cavalieri_volume_mm3(areas, spacing_mm=spacing)


def test_measure_study_dispatches_on_what_the_study_gives(examples_dir):
    import datetime as dt

    day = dt.date(2026, 2, 20)
    assert measure_study(MRIStudy(date=day, volume_mm3=1500)).method == "reported"
    e = measure_study(MRIStudy(date=day, diameters_mm=(6.5, 9.0, 11.0)))
    assert e.method == "ellipsoid"
    assert e.volume_mm3 == pytest.approx(math.pi / 6 * 6.5 * 9 * 11)
    m = measure_study(MRIStudy(date=day, mask=examples_dir / "baseline.nii.gz", label=2))
    assert m.method == "voxel_count"
    assert m.voxel_count == 1063
    with pytest.raises(ImagingError, match=r"mri\[3\]\.label: 4 is not present"):
        measure_study(MRIStudy(date=day, mask=examples_dir / "baseline.nii.gz", label=4, index=3))
