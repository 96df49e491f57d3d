"""Exact volumes or a refusal: SEG slice spacing, qform/sform, voxel budget, NRRD data files.

Each case of the imaging review is a test named after the situation. Memory is
measured with :mod:`tracemalloc` (numpy reports its buffers to it), so "refused
before allocation" is checked, not assumed.
"""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli
from resorb.errors import ImagingError
from resorb.imaging import HerniationMask, mask_volume
from resorb.imaging.io import read_dicom_seg

PIXEL_MM = (0.6, 0.6)
SLICE_MM = 4.0


def _labels_on_slices(slices: list[int], n_slices: int = 6) -> np.ndarray:
    labels = np.zeros((12, 12, n_slices), np.uint8)
    for k in slices:
        labels[3:8, 4:9, k] = 1  # 25 voxels on each listed slice
    return labels


def _seg(tmp_path, make_masks, labels, *, name="seg.dcm", edit=None):
    """A highdicom SEG of ``labels`` (empty frames omitted) and its source images."""
    import pydicom

    affine = make_masks.oblique_affine(labels.shape)
    path = tmp_path / name
    make_masks.write_dicom_seg(labels, affine, path, tag=name)
    sources = make_masks.synthetic_mr_series(labels.shape, affine, tag=name)
    if edit is not None:
        ds = pydicom.dcmread(path)
        edit(ds)
        ds.save_as(path)
    return path, sources


def _drop_spacing(ds) -> None:
    for group in [ds.SharedFunctionalGroupsSequence[0], *ds.PerFrameFunctionalGroupsSequence]:
        for pm in group.get("PixelMeasuresSequence", []):
            if "SpacingBetweenSlices" in pm:
                del pm.SpacingBetweenSlices


def _true_volume(labels) -> float:
    return float(np.count_nonzero(labels)) * PIXEL_MM[0] * PIXEL_MM[1] * SLICE_MM


# SEG slice spacing ----------------------------------------------------------------------------


def test_seg_without_spacing_whose_segmented_slices_are_not_adjacent_is_refused_not_doubled(
    tmp_path, make_masks
):
    """Slices 1 and 3 segmented, slice 2 empty and left out: the frame gap (8 mm) is two
    slice spacings, which nothing in the SEG says; the smallest gap used to be taken as the
    spacing and doubled the volume. Now: refused, naming the way out."""
    labels = _labels_on_slices([1, 3])
    path, _ = _seg(tmp_path, make_masks, labels, edit=_drop_spacing)
    with pytest.raises(ImagingError, match=r"no SpacingBetweenSlices.*source images") as exc:
        HerniationMask.from_dicom_seg(path)
    assert "\n" not in str(exc.value)


def test_seg_without_spacing_is_exact_with_its_source_series(tmp_path, make_masks):
    labels = _labels_on_slices([1, 3])
    path, sources = _seg(tmp_path, make_masks, labels, edit=_drop_spacing)
    mask = HerniationMask.from_dicom_seg(path, source_images=sources)
    assert mask_volume(mask, label=1).volume_mm3 == pytest.approx(_true_volume(labels))
    assert mask.voxel_size_mm[2] == pytest.approx(SLICE_MM)
    # the same from a folder of files, as the command line gives it
    folder = tmp_path / "mr"
    folder.mkdir()
    for i, ds in enumerate(sources):
        ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
    (folder / "notes.txt").write_text("not DICOM")
    again = HerniationMask.from_file(path, source_images=folder)
    assert mask_volume(again, label=1).volume_mm3 == pytest.approx(_true_volume(labels))


def test_seg_with_spacing_and_non_adjacent_slices_is_exact(tmp_path, make_masks):
    labels = _labels_on_slices([0, 3, 4])
    path, _ = _seg(tmp_path, make_masks, labels)
    m = mask_volume(HerniationMask.from_dicom_seg(path), label=1)
    assert m.volume_mm3 == pytest.approx(_true_volume(labels))


def test_one_slice_seg_without_spacing_is_refused_instead_of_using_slice_thickness(
    tmp_path, make_masks
):
    """SliceThickness is not the spacing (slices may overlap or have gaps): with the
    thickness set 9 % off the spacing, the old reader was 9 % off; now it refuses, and the
    source series gives the exact spacing."""
    labels = _labels_on_slices([2])

    def edit(ds):
        _drop_spacing(ds)
        ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SliceThickness = 3.64

    path, sources = _seg(tmp_path, make_masks, labels, edit=edit)
    with pytest.raises(ImagingError, match="a single slice position"):
        HerniationMask.from_dicom_seg(path)
    mask = HerniationMask.from_dicom_seg(path, source_images=sources)
    assert mask_volume(mask, label=1).volume_mm3 == pytest.approx(_true_volume(labels))


def test_seg_spacing_that_disagrees_with_its_source_series_is_refused(tmp_path, make_masks):
    labels = _labels_on_slices([1, 2])

    def edit(ds):
        ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SpacingBetweenSlices = 2.0

    path, sources = _seg(tmp_path, make_masks, labels, edit=edit)
    with pytest.raises(ImagingError, match="disagrees with the source series"):
        HerniationMask.from_dicom_seg(path, source_images=sources)


def test_seg_frames_off_the_source_slices_are_refused(tmp_path, make_masks):
    labels = _labels_on_slices([1, 2])
    path, sources = _seg(tmp_path, make_masks, labels, edit=_drop_spacing)
    for ds in sources:  # the "source" series is shifted by half a slice
        ds.ImagePositionPatient = [
            float(v) + 2.0 * n for v, n in zip(ds.ImagePositionPatient, _normal(ds), strict=True)
        ]
    with pytest.raises(ImagingError, match="do not lie on the source series"):
        HerniationMask.from_dicom_seg(path, source_images=sources)


def _normal(ds) -> np.ndarray:
    iop = [float(v) for v in ds.ImageOrientationPatient]
    return np.cross(iop[:3], iop[3:])


def test_seg_with_frames_200_mm_apart_and_spacing_0_001_is_refused_without_allocating(
    tmp_path, make_masks
):
    """The hostile SEG of the review: two frames 200 mm apart and SpacingBetweenSlices
    0.001 mm implied 200,001 slices (1.3 GB) and reported 0.38 mm3. Now refused while the
    traced memory stays under 20 MB."""
    labels = _labels_on_slices([0, 1], n_slices=2)

    def edit(ds):
        _drop_spacing(ds)
        ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SpacingBetweenSlices = 0.001
        pos = ds.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0]
        first = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
        iop = [
            float(v)
            for v in ds.SharedFunctionalGroupsSequence[0]
            .PlaneOrientationSequence[0]
            .ImageOrientationPatient
        ]
        n = np.cross(iop[:3], iop[3:])
        pos.ImagePositionPatient = [
            float(a) + 200.0 * b for a, b in zip(first.ImagePositionPatient, n, strict=True)
        ]

    path, _ = _seg(tmp_path, make_masks, labels, edit=edit)
    assert path.stat().st_size < 20_000
    tracemalloc.start()
    try:
        with pytest.raises(ImagingError, match=r"SpacingBetweenSlices 0\.001 mm"):
            HerniationMask.from_dicom_seg(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


def test_seg_spacing_far_below_the_slice_thickness_is_refused(tmp_path, make_masks):
    labels = _labels_on_slices([0, 1], n_slices=2)

    def edit(ds):
        ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SpacingBetweenSlices = 0.2

    path, _ = _seg(tmp_path, make_masks, labels, edit=edit)
    with pytest.raises(ImagingError, match="disagrees with the slice thickness"):
        HerniationMask.from_dicom_seg(path)


def test_seg_whose_grid_exceeds_the_voxel_budget_is_refused_before_allocation(tmp_path, make_masks):
    labels = _labels_on_slices([0, 1], n_slices=2)
    path, _ = _seg(tmp_path, make_masks, labels)
    with pytest.raises(ImagingError, match="exceed the mask limit"):
        read_dicom_seg(path, max_voxels=100)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.99])
def test_truncated_seg_is_refused_on_one_line(tmp_path, make_masks, keep):
    labels = _labels_on_slices([1, 2, 3])
    path, _ = _seg(tmp_path, make_masks, labels)
    raw = path.read_bytes()
    cut = tmp_path / f"cut{keep}.dcm"
    cut.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ImagingError) as exc:
        HerniationMask.from_dicom_seg(cut)
    assert "\n" not in str(exc.value) and str(cut) in str(exc.value)


def test_seg_without_functional_groups_is_refused_on_one_line(tmp_path, make_masks):
    labels = _labels_on_slices([1, 2])

    def edit(ds):
        del ds.SharedFunctionalGroupsSequence
        del ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence

    path, _ = _seg(tmp_path, make_masks, labels, edit=edit)
    with pytest.raises(ImagingError, match="lacks"):
        HerniationMask.from_dicom_seg(path)


# NIfTI ----------------------------------------------------------------------------------------


def test_one_megabyte_nifti_gz_declaring_a_billion_voxels_is_refused_before_allocation(tmp_path):
    """The review's 1 MB .nii.gz took 1.09 GB and reported 1.5e9 mm3 with exit 0."""
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.uint8)
    hdr.set_data_shape((1000, 1000, 1000))
    path = tmp_path / "bomb.nii.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(hdr.binaryblock + b"\0" * 4)
        chunk = b"\1" * (1 << 20)
        for _ in range(1000):
            fh.write(chunk)
    assert path.stat().st_size < 2e6
    tracemalloc.start()
    try:
        with pytest.raises(ImagingError, match="exceed the mask limit"):
            HerniationMask.from_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


def test_nifti_gz_without_suffix_is_also_checked_before_allocation(tmp_path):
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.int16)
    hdr.set_data_shape((2000, 2000, 100))
    path = tmp_path / "mask_without_suffix"
    with gzip.open(path, "wb") as fh:
        fh.write(hdr.binaryblock + b"\0" * 4 + b"\0" * (1 << 20))
    with pytest.raises(ImagingError, match="exceed the mask limit"):
        HerniationMask.from_file(path)


def _conflicting_nifti(path: Path) -> None:
    import nibabel as nib

    data = np.zeros((10, 10, 10), np.uint8)
    data[2:6, 2:6, 2:6] = 1  # 64 voxels
    img = nib.Nifti1Image(data, np.diag([0.6, 0.6, 4.0, 1.0]))
    img.set_qform(np.diag([0.6, 0.6, 3.5, 1.0]), code=1)
    img.set_sform(np.diag([0.6, 0.6, 4.0, 1.0]), code=2)
    nib.save(img, path)


def test_nifti_with_conflicting_qform_and_sform_uses_the_sform_and_warns_naming_both(tmp_path):
    """Rule: nibabel's (sform first). The qform reading (ITK's) gives 3.5 mm slices,
    12.5 % less; the warning names both voxel volumes."""
    path = tmp_path / "conflict.nii.gz"
    _conflicting_nifti(path)
    m = mask_volume(HerniationMask.from_file(path), label=1)
    assert m.volume_mm3 == pytest.approx(64 * 0.6 * 0.6 * 4.0, rel=1e-6)
    assert len(m.warnings) == 1
    field, message = m.warnings[0]
    assert field == "mask"
    assert "sform 1.44 mm3" in message and "qform 1.26 mm3" in message
    assert "-12.5 %" in message


def test_nifti_whose_qform_and_sform_agree_gives_no_warning(tmp_path):
    import nibabel as nib

    data = np.ones((3, 3, 3), np.uint8)
    path = tmp_path / "agree.nii"
    nib.save(nib.Nifti1Image(data, np.diag([0.5, 0.5, 3.0, 1.0])), path)
    assert HerniationMask.from_file(path).warnings == ()


def test_five_d_nifti_mask_with_singleton_axes_is_accepted(tmp_path):
    import nibabel as nib

    data = np.zeros((6, 6, 4, 1, 1), np.uint8)
    data[1:3, 1:4, 0:2, 0, 0] = 2
    path = tmp_path / "five_d.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([0.5, 0.5, 2.0, 1.0])), path)
    m = mask_volume(HerniationMask.from_file(path), label=2)
    assert (m.voxel_count, m.volume_mm3) == (12, pytest.approx(12 * 0.5))


def test_five_d_nifti_with_a_second_volume_is_still_refused(tmp_path):
    import nibabel as nib

    path = tmp_path / "two.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 1, 2), np.uint8), np.eye(4)), path)
    with pytest.raises(ImagingError, match="axes beyond the third must have size 1"):
        HerniationMask.from_file(path)


# NRRD -----------------------------------------------------------------------------------------


def _nhdr(folder: Path, data_file: str, *, encoding: str = "raw") -> Path:
    path = folder / "mask.nhdr"
    path.write_text(
        "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\n"
        "space: left-posterior-superior\n"
        "space directions: (1,0,0) (0,1,0) (0,0,2)\n"
        f"encoding: {encoding}\ndata file: {data_file}\n\n"
    )
    return path


def test_nrrd_detached_data_beside_the_header_is_read(tmp_path):
    data = np.zeros((4, 4, 4), np.uint8)
    data[1:3, 1:3, 1:3] = 1
    (tmp_path / "mask.raw").write_bytes(data.tobytes(order="F"))
    m = mask_volume(HerniationMask.from_file(_nhdr(tmp_path, "mask.raw")), label=1)
    assert m.volume_mm3 == pytest.approx(8 * 2.0)


@pytest.mark.parametrize(
    "data_file", ["/etc/passwd", "../outside.raw", "sub/../../outside.raw", "LIST", "link.raw"]
)
def test_nrrd_data_file_outside_its_folder_is_refused(tmp_path, data_file):
    """The review read a system file named by 'data file:'; now only a plain file name in
    the header's folder is read (a link leading out counts as outside)."""
    inner = tmp_path / "case"
    inner.mkdir()
    (tmp_path / "outside.raw").write_bytes(bytes(64))
    (inner / "link.raw").symlink_to(tmp_path / "outside.raw")
    with pytest.raises(ImagingError, match=r"data file|header's own folder"):
        HerniationMask.from_file(_nhdr(inner, data_file))


def test_nrrd_gzip_that_inflates_beyond_its_declared_sizes_is_refused(tmp_path):
    path = tmp_path / "bomb.nrrd"
    header = (
        b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\nspacings: 1 1 1\nencoding: gzip\n\n"
    )
    path.write_bytes(header + gzip.compress(b"\0" * (64 << 20)))
    tracemalloc.start()
    try:
        with pytest.raises(ImagingError, match="more voxels than the header"):
            HerniationMask.from_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


def test_nrrd_declaring_too_many_voxels_is_refused(tmp_path):
    path = tmp_path / "huge.nrrd"
    path.write_bytes(
        b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5000 5000 5000\n"
        b"spacings: 1 1 1\nencoding: gzip\n\n" + gzip.compress(b"\0" * 100)
    )
    with pytest.raises(ImagingError, match="exceed the mask limit"):
        HerniationMask.from_file(path)


# Command line ---------------------------------------------------------------------------------


def test_volume_command_refuses_a_seg_without_spacing_with_exit_2_and_one_line(
    tmp_path, make_masks, capsys
):
    labels = _labels_on_slices([1, 3])
    path, sources = _seg(tmp_path, make_masks, labels, edit=_drop_spacing)
    code, out, err = run_cli(capsys, "volume", str(path), "--json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "source images" in err
    folder = tmp_path / "mr"
    folder.mkdir()
    for i, ds in enumerate(sources):
        ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
    import json

    code, out, err = run_cli(
        capsys, "volume", str(path), "--source-images", str(folder), "--label", "1", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["volume_mm3"] == pytest.approx(_true_volume(labels))


def test_volume_command_json_carries_the_qform_sform_warning(tmp_path, capsys):
    import json

    path = tmp_path / "conflict.nii.gz"
    _conflicting_nifti(path)
    code, out, err = run_cli(capsys, "volume", str(path), "--json")
    assert code == 0 and err == ""
    warnings = json.loads(out)["warnings"]
    assert [w["field"] for w in warnings] == ["mask"]
    assert "qform" in warnings[0]["message"] and "sform" in warnings[0]["message"]


def test_seg_with_its_spacing_ignores_source_images_of_another_series(tmp_path, make_masks):
    """A folder imported with a SEG may hold other series: only the SEG's own source
    series counts, and a SEG that gives its spacing needs none."""
    labels = _labels_on_slices([1, 3])
    path, _ = _seg(tmp_path, make_masks, labels)
    other = make_masks.synthetic_mr_series((12, 12, 3), np.eye(4), tag="another series")
    mask = HerniationMask.from_dicom_seg(path, source_images=other)
    assert mask_volume(mask, label=1).volume_mm3 == pytest.approx(_true_volume(labels))


def test_seg_with_values_pydicom_warns_about_is_read_without_a_library_warning(
    tmp_path, make_masks
):
    """pydicom warns about over-long values, quoting them; the reader stays silent
    (pytest turns any warning into an error here)."""
    import warnings

    def edit(ds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.SegmentSequence[0].SegmentLabel = "Jane Doe herniation, North Wing " * 3

    labels = _labels_on_slices([1, 2])
    path, _ = _seg(tmp_path, make_masks, labels, edit=edit)
    import pydicom

    with pytest.warns(UserWarning, match="exceeds the maximum length"):  # the control
        str(pydicom.dcmread(path).SegmentSequence[0].SegmentLabel)
    mask = HerniationMask.from_dicom_seg(path)
    assert mask_volume(mask, label=1).voxel_count == 50
    assert mask.label_names[1].startswith("Jane Doe herniation")


def test_mask_whose_geometry_gives_an_implausible_volume_is_refused_with_exit_2(tmp_path, capsys):
    """The review's mask reported 1.5e9 mm3 with exit 0: voxels of 100 mm edges. The one
    set of plausible bounds (0-30,000 mm3, resorb.domain.bounds) applies to masks too."""
    import nibabel as nib

    data = np.zeros((20, 20, 20), np.uint8)
    data[2:17, 2:17, 2:17] = 1  # 3,375 voxels of 1,000,000 mm3 each
    path = tmp_path / "huge_voxels.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([100.0, 100.0, 100.0, 1.0])), path)
    code, out, err = run_cli(capsys, "volume", str(path), "--json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "volume_mm3" in err and "30,000" in err
    code, _, err = run_cli(capsys, "resorption", str(path), "10", "--json")
    assert code == 2 and "v0_mm3" in err


def test_assess_reports_the_qform_sform_conflict_in_its_warnings(tmp_path, capsys):
    """The mask's warning reaches ``resorb assess --json`` as ``warnings[]`` {field,
    message}, naming the MRI and both readings; the exit code stays 0."""
    import json

    path = tmp_path / "conflict.nii.gz"
    _conflicting_nifti(path)
    case = tmp_path / "case.yaml"
    case.write_text(
        "herniation: {level: L5-S1, morphology: extrusion}\n"
        "mri:\n"
        f"  - {{date: 2026-02-20, mask: {path.name}, label: 1}}\n"
        "  - {date: 2026-06-20, volume_mm3: 60}\n"
    )
    code, out, err = run_cli(capsys, "assess", str(case), "--json")
    assert code == 0, err
    found = [w for w in json.loads(out)["warnings"] if w["field"] == "mri[0].mask"]
    assert len(found) == 1 and "qform" in found[0]["message"] and "sform" in found[0]["message"]


def _bad_quaternion_nifti(path: Path, *, sform: bool) -> None:
    """A NIfTI-1 whose quatern_b = quatern_c = 0.9 (b2 + c2 > 1: no rotation), written
    by patching the header bytes (nibabel refuses to write it)."""
    import struct

    import nibabel as nib

    img = nib.Nifti1Image(np.ones((3, 3, 3), np.uint8), np.diag([1.0, 1.0, 2.0, 1.0]))
    img.header["qform_code"], img.header["sform_code"] = 1, 1 if sform else 0
    nib.save(img, path)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<ff", raw, 256, 0.9, 0.9)  # quatern_b, quatern_c (NIfTI-1 offsets)
    path.write_bytes(bytes(raw))


def test_nifti_whose_qform_is_not_a_rotation_uses_the_sform_and_says_so(tmp_path):
    """Found by the mask fuzzer: quaternion parameters with b2 + c2 + d2 > 1 made nibabel
    raise a bare ValueError; the sform (nibabel's rule) is used and the qform named."""
    path = tmp_path / "bad_quaternion.nii"
    _bad_quaternion_nifti(path, sform=True)
    m = mask_volume(HerniationMask.from_file(path))
    assert m.volume_mm3 == pytest.approx(54.0)
    assert [f for f, _ in m.warnings] == ["mask"] and "qform" in m.warnings[0][1]
    _bad_quaternion_nifti(path, sform=False)
    with pytest.raises(ImagingError, match=r"bad_quaternion\.nii") as exc:
        HerniationMask.from_file(path)
    assert "\n" not in str(exc.value)


def test_nifti_header_fixes_are_not_printed_before_the_result(tmp_path, capfd):
    """nibabel logs its header fixes ("qform_code 228 not valid; setting to 0") through
    its own stderr handler, quoting the values; the reader lets no such record out. A
    handler of our own on nibabel's logger sees what any handler (stderr's too) would."""
    import logging
    import struct

    import nibabel as nib

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    path = tmp_path / "odd_header.nii"
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3), np.uint8), np.eye(4)), path)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<h", raw, 252, 228)  # qform_code: not a valid code
    path.write_bytes(bytes(raw))
    seen = Collect()
    logger = logging.getLogger("nibabel.global")
    logger.addHandler(seen)
    try:
        nib.load(path)  # the control: nibabel reports the fix
        assert any("qform_code 228" in m for m in seen.messages)
        seen.messages.clear()
        capfd.readouterr()
        assert mask_volume(HerniationMask.from_file(path)).voxel_count == 27
        assert seen.messages == []
        assert capfd.readouterr().err == ""
    finally:
        logger.removeHandler(seen)
