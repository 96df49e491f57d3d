"""Mask readers: the same phantom in NIfTI, NRRD and DICOM SEG, and every kind of bad file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from resorb.errors import ImagingError
from resorb.imaging import HerniationMask, mask_volume


@pytest.mark.parametrize("fmt", ["nii", "nii.gz", "nrrd", "seg"])
def test_every_format_gives_the_phantoms_volume(phantom_files, oblique_phantom, fmt):
    labels, _ = oblique_phantom
    mask = HerniationMask.from_file(phantom_files[fmt])
    for label in (1, 2):
        expected = int(np.count_nonzero(labels == label))
        m = mask_volume(mask, label=label)
        assert m.voxel_count == expected
        # NIfTI stores the affine in float32: agreement to 1e-6, not bit for bit
        assert m.volume_mm3 == pytest.approx(expected * 0.6 * 0.6 * 4.0, rel=1e-6)
    assert mask_volume(mask).voxel_count == int(np.count_nonzero(labels))


@pytest.mark.parametrize("fmt", ["nrrd", "seg"])
def test_formats_place_the_voxels_at_the_same_points_in_space(
    phantom_files, fmt, labelled_world_points
):
    """Not only the count: the labelled voxel centres coincide in RAS mm across formats."""
    ref = HerniationMask.from_nifti(phantom_files["nii.gz"])
    other = HerniationMask.from_file(phantom_files[fmt])
    for label in (1, 2):
        a, b = labelled_world_points(ref, label), labelled_world_points(other, label)
        assert a.shape == b.shape
        assert np.allclose(a, b, atol=1e-3)


def test_nifti_affine_is_the_oblique_one(phantom_files, oblique_phantom):
    _, affine = oblique_phantom
    mask = HerniationMask.from_nifti(phantom_files["nii"])
    assert np.allclose(mask.affine, affine, atol=1e-5)
    assert mask.voxel_size_mm == pytest.approx((0.6, 0.6, 4.0), rel=1e-6)


def test_dicom_seg_volume_matches_highdicoms_own_reading(phantom_files):
    """Recipe: ``highdicom.seg.segread(path).get_volume(combine_segments=True)`` gives a
    ``highdicom.Volume`` (LPS affine, array slices x rows x columns); its volume of a
    segment is ``count(array == n) * |det(volume.affine[:3, :3])|``. A second, pydicom-only
    recipe: count the set pixels of the frames whose SegmentIdentificationSequence names
    segment n, times PixelSpacing[0] x PixelSpacing[1] x SpacingBetweenSlices.
    """
    import highdicom as hd
    import pydicom

    path = phantom_files["seg"]
    mask = HerniationMask.from_dicom_seg(path)
    vol = hd.seg.segread(path).get_volume(combine_segments=True)
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array
    pm = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    for n in (1, 2):
        ours = mask_volume(mask, label=n)
        hd_count = int(np.count_nonzero(vol.array == n))
        hd_volume = hd_count * abs(np.linalg.det(vol.affine[:3, :3]))
        assert ours.voxel_count == hd_count
        assert ours.volume_mm3 == pytest.approx(hd_volume, rel=1e-9)
        in_segment = [
            i
            for i, f in enumerate(ds.PerFrameFunctionalGroupsSequence)
            if f.SegmentIdentificationSequence[0].ReferencedSegmentNumber == n
        ]
        raw = int(np.count_nonzero(frames[in_segment]))
        raw_volume = (
            raw
            * float(pm.PixelSpacing[0])
            * float(pm.PixelSpacing[1])
            * float(pm.SpacingBetweenSlices)
        )
        assert ours.volume_mm3 == pytest.approx(raw_volume, rel=1e-9)
    assert mask.label_names == {1: "disc (synthetic)", 2: "herniation (synthetic)"}


def test_labelmap_dicom_seg_reads_like_binary(tmp_path, make_masks, oblique_phantom):
    labels, affine = oblique_phantom
    path = tmp_path / "labelmap.dcm"
    make_masks.write_dicom_seg(labels, affine, path, tag="labelmap", segmentation_type="LABELMAP")
    mask = HerniationMask.from_file(path)
    for n in (1, 2):
        assert mask_volume(mask, label=n).voxel_count == int(np.count_nonzero(labels == n))


def test_dicom_seg_segment_without_voxels_measures_zero(tmp_path, make_masks):
    """A herniation segment that is described but empty (fragment gone) is volume 0."""
    import pydicom

    affine = make_masks.oblique_affine((20, 20, 4))
    labels = np.zeros((20, 20, 4), np.uint8)
    labels[5:10, 5:10, 1:3] = 1
    labels[12, 12, 2] = 2
    path = tmp_path / "gone.dcm"
    make_masks.write_dicom_seg(labels, affine, path, tag="gone")
    ds = pydicom.dcmread(path)
    keep = [
        i
        for i, f in enumerate(ds.PerFrameFunctionalGroupsSequence)
        if f.SegmentIdentificationSequence[0].ReferencedSegmentNumber == 1
    ]
    assert len(keep) < ds.NumberOfFrames
    frames = ds.pixel_array[keep]
    ds.PerFrameFunctionalGroupsSequence = pydicom.Sequence(
        [ds.PerFrameFunctionalGroupsSequence[i] for i in keep]
    )
    ds.NumberOfFrames = len(keep)
    from pydicom.pixels import pack_bits

    ds.PixelData = pack_bits(frames.ravel())
    ds.save_as(path)
    mask = HerniationMask.from_file(path)
    assert mask_volume(mask, label=2).volume_mm3 == 0.0
    assert mask_volume(mask, label=1).voxel_count == 50


def _seg_with(tmp_path, make_masks, edit) -> Path:
    import pydicom

    affine = make_masks.oblique_affine((16, 16, 5))
    labels = np.zeros((16, 16, 5), np.uint8)
    labels[4:8, 4:8, :] = 1
    labels[9:12, 9:12, 1:4] = 2
    path = tmp_path / "edited.dcm"
    make_masks.write_dicom_seg(labels, affine, path, tag="edited")
    ds = pydicom.dcmread(path)
    edit(ds)
    ds.save_as(path)
    return path


def test_unevenly_spaced_seg_frames_are_rejected(tmp_path, make_masks):
    def shift(ds):
        pos = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
        normal = np.cross(
            *np.reshape(
                [
                    float(v)
                    for v in ds.SharedFunctionalGroupsSequence[0]
                    .PlaneOrientationSequence[0]
                    .ImageOrientationPatient
                ],
                (2, 3),
            )
        )
        pos.ImagePositionPatient = [
            float(a) + 1.7 * b for a, b in zip(pos.ImagePositionPatient, normal, strict=True)
        ]

    with pytest.raises(ImagingError, match="not evenly spaced"):
        HerniationMask.from_file(_seg_with(tmp_path, make_masks, shift))


def test_seg_frame_referring_to_unknown_segment_is_rejected(tmp_path, make_masks):
    def renumber(ds):
        ds.PerFrameFunctionalGroupsSequence[0].SegmentIdentificationSequence[
            0
        ].ReferencedSegmentNumber = 9

    with pytest.raises(ImagingError, match=r"segments \[9\]"):
        HerniationMask.from_file(_seg_with(tmp_path, make_masks, renumber))


def test_overlapping_seg_segments_are_rejected(tmp_path, make_masks):
    import pydicom

    affine = make_masks.oblique_affine((8, 8, 2))
    sources = make_masks.synthetic_mr_series((8, 8, 2), affine, tag="overlap")
    import highdicom as hd
    from pydicom.sr.codedict import codes

    frames = np.zeros((2, 8, 8, 2), dtype=bool)
    frames[:, 2:6, 2:6, 0] = True
    frames[:, 4:7, 4:7, 1] = True  # overlaps segment 1
    desc = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=f"s{n}",
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for n in (1, 2)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=desc,
        series_instance_uid=pydicom.uid.generate_uid(),
        series_number=2,
        sop_instance_uid=pydicom.uid.generate_uid(),
        instance_number=1,
        manufacturer="resorb synthetic",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
    )
    path = tmp_path / "overlap.dcm"
    seg.save_as(path)
    with pytest.raises(ImagingError, match="segments 1 and 2 overlap"):
        HerniationMask.from_file(path)


def test_dicom_that_is_not_a_segmentation_is_rejected(tmp_path, make_masks):
    ds = make_masks.synthetic_mr_series((4, 4, 1), np.eye(4), tag="mr")[0]
    path = tmp_path / "image.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ImagingError, match="not a Segmentation"):
        HerniationMask.from_file(path)


def test_fractional_segmentation_is_rejected(tmp_path, make_masks):
    def fractional(ds):
        ds.SegmentationType = "FRACTIONAL"

    with pytest.raises(ImagingError, match="FRACTIONAL is not supported"):
        HerniationMask.from_file(_seg_with(tmp_path, make_masks, fractional))


# Bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["m.nii", "m.nii.gz", "m.nrrd", "m.dcm", "m"])
def test_missing_file_is_named(tmp_path, name):
    with pytest.raises(ImagingError, match=r"m.*not found"):
        HerniationMask.from_file(tmp_path / name)


@pytest.mark.parametrize("name", ["m.nii", "m.nii.gz", "m.nrrd", "m.dcm"])
def test_empty_file_is_named(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ImagingError, match="empty"):
        HerniationMask.from_file(tmp_path / name)


@pytest.mark.parametrize("name", ["m.nii", "m.nii.gz", "m.nrrd", "m.dcm", "m.bin"])
def test_corrupt_file_is_rejected(tmp_path, name):
    (tmp_path / name).write_bytes(np.random.default_rng(3).bytes(2000))
    with pytest.raises(ImagingError, match=r"m\.(nii|nrrd|dcm|bin)"):
        HerniationMask.from_file(tmp_path / name)


@pytest.mark.parametrize("fmt", ["nii", "nii.gz", "nrrd", "seg"])
def test_truncated_file_is_rejected(tmp_path, phantom_files, fmt):
    src = phantom_files[fmt]
    data = src.read_bytes()
    cut = tmp_path / src.name
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImagingError, match=r"truncated|cannot be read|not a readable"):
        HerniationMask.from_file(cut)


def test_truncated_gzip_stream_of_nifti_is_rejected(tmp_path, oblique_phantom, make_masks):
    labels, affine = oblique_phantom
    full = tmp_path / "full.nii"
    make_masks.write_nifti(labels, affine, full)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(gzip.compress(full.read_bytes()[:-5000], mtime=0))
    with pytest.raises(ImagingError, match=r"cut\.nii\.gz"):
        HerniationMask.from_file(cut)


def test_probability_map_is_not_a_label_image(tmp_path):
    import nibabel as nib

    data = np.random.default_rng(1).random((5, 5, 5)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "prob.nii.gz")
    with pytest.raises(ImagingError, match="not integer-valued"):
        HerniationMask.from_file(tmp_path / "prob.nii.gz")


def test_scaled_nifti_labels_are_read_as_whole_numbers(tmp_path):
    import nibabel as nib

    data = np.zeros((5, 5, 5), np.int16)
    data[1:3, 1:3, 1:3] = 1
    path = tmp_path / "scaled.nii"
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    with path.open("rb") as fh:
        hdr = nib.Nifti1Header.from_fileobj(fh)
    hdr["scl_slope"], hdr["scl_inter"] = 2.0, 0.0  # stored 1 -> label 2
    raw = bytearray(path.read_bytes())
    raw[: len(hdr.binaryblock)] = hdr.binaryblock
    path.write_bytes(bytes(raw))
    m = mask_volume(HerniationMask.from_file(tmp_path / "scaled.nii"), label=2)
    assert m.voxel_count == 8
    assert m.volume_mm3 == pytest.approx(64.0, rel=1e-12)


def test_four_d_nifti_with_several_volumes_is_rejected(tmp_path):
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3, 2), np.uint8), np.eye(4)), tmp_path / "t.nii")
    with pytest.raises(ImagingError, match="3-D label image"):
        HerniationMask.from_file(tmp_path / "t.nii")


def test_nrrd_without_geometry_is_rejected(tmp_path):
    import nrrd

    nrrd.write(str(tmp_path / "bare.nrrd"), np.ones((3, 3, 3), np.uint8))
    with pytest.raises(ImagingError, match="no voxel geometry"):
        HerniationMask.from_file(tmp_path / "bare.nrrd")


def test_nrrd_with_spacings_only_gets_a_diagonal_affine(tmp_path):
    import nrrd

    nrrd.write(
        str(tmp_path / "sp.nrrd"), np.ones((3, 4, 5), np.uint8), {"spacings": [0.5, 1.0, 2.0]}
    )
    m = mask_volume(HerniationMask.from_file(tmp_path / "sp.nrrd"))
    assert (m.voxel_count, m.volume_mm3) == (60, 60.0)


def test_format_is_sniffed_from_content_without_a_suffix(tmp_path, phantom_files):
    for fmt in ("nii.gz", "nrrd", "seg"):
        target = tmp_path / f"noext_{fmt.replace('.', '_')}"
        target.write_bytes(phantom_files[fmt].read_bytes())
        assert mask_volume(HerniationMask.from_file(target), label=2).voxel_count > 0


def test_example_masks_are_reproducible(tmp_path, make_masks, examples_dir, monkeypatch):
    """Rerunning examples/make_masks.py rewrites the committed files byte for byte."""
    monkeypatch.setattr(make_masks, "OUT", tmp_path)
    make_masks.main()
    for name in ("baseline.nii.gz", "followup.nii.gz", "baseline.nrrd", "baseline_seg.dcm"):
        assert (tmp_path / name).read_bytes() == (examples_dir / name).read_bytes(), name
    total = sum(p.stat().st_size for p in examples_dir.iterdir())
    assert total < 1_000_000


def test_multi_member_gzip_nifti_falls_back_to_nibabel(tmp_path, oblique_phantom, make_masks):
    """A .nii.gz made of two gzip members (valid gzip) is read in full."""
    labels, affine = oblique_phantom
    full = tmp_path / "full.nii"
    make_masks.write_nifti(labels, affine, full)
    raw = full.read_bytes()
    half = len(raw) // 2
    multi = tmp_path / "multi.nii.gz"
    multi.write_bytes(gzip.compress(raw[:half], mtime=0) + gzip.compress(raw[half:], mtime=0))
    m = mask_volume(HerniationMask.from_file(multi), label=2)
    assert m.voxel_count == int(np.count_nonzero(labels == 2))


def test_big_endian_int16_nifti_gz(tmp_path):
    import nibabel as nib

    data = np.zeros((6, 7, 8), dtype=">i2")
    data[1:4, 2:5, 3:7] = 300
    img = nib.Nifti1Image(data, np.diag([0.5, 0.5, 2.0, 1.0]))
    nib.save(img, tmp_path / "be.nii.gz")
    mask = HerniationMask.from_file(tmp_path / "be.nii.gz")
    m = mask_volume(mask, label=300)
    assert (m.voxel_count, m.volume_mm3) == (36, 18.0)


def test_slicer_seg_nrrd_declares_its_segments(tmp_path):
    """Slicer writes SegmentN_LabelValue / SegmentN_Name; a declared empty segment is 0 mm3."""
    import nrrd

    data = np.zeros((1, 6, 6, 4), np.uint8)  # one layer, like a single-layer .seg.nrrd
    data[0, 1:3, 1:3, 1:3] = 1
    header = {
        "space": "left-posterior-superior",
        "space directions": np.array([[np.nan] * 3, [0.5, 0, 0], [0, 0.5, 0], [0, 0, 2.0]]),
        "kinds": ["list", "domain", "domain", "domain"],
        "Segment0_LabelValue": "1",
        "Segment0_Name": "disc",
        "Segment1_LabelValue": "2",
        "Segment1_Name": "herniation",
    }
    path = tmp_path / "case.seg.nrrd"
    nrrd.write(str(path), data, header)
    mask = HerniationMask.from_file(path)
    assert mask.shape == (6, 6, 4)
    assert mask.label_names == {1: "disc", 2: "herniation"}
    assert mask_volume(mask, label=1).volume_mm3 == pytest.approx(8 * 0.5)
    assert mask_volume(mask, label=2).volume_mm3 == 0.0
    with pytest.raises(ImagingError, match="label: 3 is not present"):
        mask_volume(mask, label=3)


def test_multi_layer_nrrd_is_rejected(tmp_path):
    import nrrd

    header = {
        "space": "left-posterior-superior",
        "space directions": np.array([[np.nan] * 3, [1, 0, 0], [0, 1, 0], [0, 0, 1]]),
        "kinds": ["list", "domain", "domain", "domain"],
    }
    nrrd.write(str(tmp_path / "layers.nrrd"), np.zeros((2, 3, 3, 3), np.uint8), header)
    with pytest.raises(ImagingError, match="one layer"):
        HerniationMask.from_file(tmp_path / "layers.nrrd")
