"""DICOM Segmentation (BINARY, LABELMAP) to a label image, with an exact slice spacing or none.

The slice spacing of a SEG is not always in the SEG. Frames that were empty
may be left out, so the gap between two frame positions is a whole multiple of
the spacing, and which multiple is known only when the spacing is known. The
spacing is therefore taken, in this order, from:

1. the SEG's own ``SpacingBetweenSlices`` (Pixel Measures, shared or per frame),
   which every gap between frame positions must be a whole multiple of;
2. the source series the SEG was drawn on (``source_images``): the distance
   between its slices along the normal, which must be uniform, and every SEG
   frame must lie on one of its slices;

and otherwise the SEG is refused. ``SliceThickness`` is never used as the
spacing: slices may overlap or have gaps between them.

Everything is checked before the label image is allocated: the decoded frames
and the label grid against the voxel budget, and a spacing that disagrees with
the frame positions or the slice thickness is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from resorb._quiet import silenced_libraries
from resorb.errors import ImagingError, require_extra
from resorb.imaging._mask_files import (
    LPS_TO_RAS,
    check_file,
    check_voxel_budget,
    one_line,
)
from resorb.imaging._types import HerniationMask

__all__ = ["LABEL_MAP_SEGMENTATION_STORAGE", "SEGMENTATION_STORAGE", "read_dicom_seg"]

#: SOP Class UID of DICOM Segmentation Storage (PS3.4 B.5).
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
#: SOP Class UID of Label Map Segmentation Storage (DICOM 2024, Sup 243).
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"

#: Smallest slice spacing accepted (mm). Our assumption, not a clinical number:
#: micro-MRI reaches about 0.01 mm; a smaller value is a broken header.
MIN_SPACING_MM = 0.01
#: A slice spacing below SliceThickness / this factor is refused: slices that
#: overlap more than tenfold are not an acquisition but a header at odds with
#: its frame positions (our assumption; overlapping reconstructions use about half).
MAX_OVERLAP = 10.0
#: Positions agree when within this fraction of the slice spacing.
_POSITION_TOL = 1e-2


def _item(seq_owner: Any, keyword: str) -> Any:
    seq = getattr(seq_owner, keyword, None)
    return seq[0] if seq else None


def _frame_attr(shared: Any, frame: Any, seq: str, attr: str) -> Any:
    for group in (frame, shared):
        if group is None:
            continue
        item = _item(group, seq)
        if item is not None and attr in item:
            return getattr(item, attr)
    return None


def read_dicom_seg(
    path: str | Path, *, source_images: Any = None, max_voxels: int | None = None
) -> HerniationMask:
    """Read a DICOM Segmentation (BINARY or LABELMAP) into a label image.

    Label = segment number. Geometry comes from the functional groups: each
    frame's ImagePositionPatient, the ImageOrientationPatient and PixelSpacing
    (per frame or shared). The slice spacing follows the module notes. The
    returned array is indexed ``[column, row, slice]`` like NIfTI; the affine
    is converted to RAS.

    Parameters
    ----------
    path : str or Path
    source_images : folder, file paths or pydicom Datasets, optional
        The images the SEG was drawn on; needed when the SEG does not give its
        slice spacing. Files that are not DICOM, or belong to another series,
        are ignored; only headers are read.
    max_voxels : int, optional
        Voxel budget (default :data:`resorb.imaging.io.MAX_MASK_VOXELS`).

    Raises
    ------
    ImagingError
        For a file that is not a complete DICOM SEG, a FRACTIONAL segmentation,
        frames with different orientations or pixel spacings, a slice spacing
        that is unknown or disagrees with the frame positions, a grid beyond
        the voxel budget, or segments that overlap.
    """
    pydicom = require_extra("pydicom", "imaging")
    p = check_file(path)
    # pydicom warns (with raw element values) about odd headers; the refusal below names
    # the problem on one line instead.
    with silenced_libraries():
        try:
            ds = pydicom.dcmread(p)
        except Exception as exc:
            raise ImagingError(f"{p}: not a readable DICOM file ({one_line(exc)})") from None
        try:
            return _read(pydicom, p, ds, source_images, max_voxels)
        except ImagingError:
            raise
        except Exception:  # a truncated or incomplete object; the library's words would
            # name its own objects ("'FileDataset' object has no attribute 'Rows'")
            raise ImagingError(
                f"{p}: incomplete or corrupt DICOM SEG (a required attribute "
                "is missing or unreadable)"
            ) from None


def _read(
    pydicom: Any, p: Path, ds: Any, source_images: Any, max_voxels: int | None
) -> HerniationMask:
    sop = str(getattr(ds, "SOPClassUID", ""))
    if sop not in (SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE):
        raise ImagingError(
            f"{p}: DICOM object is not a Segmentation (SOP class {sop or 'none'});"
            " allowed: a DICOM SEG"
        )
    # Pixel data come last: a SEG cut short lacks them, and pydicom reads the rest without
    # a word, so this comes before any check that a missing attribute would fail.
    if "PixelData" not in ds:
        raise ImagingError(f"{p}: incomplete DICOM SEG: no pixel data (file truncated?)")
    seg_type = str(getattr(ds, "SegmentationType", "")).upper()
    if not seg_type:  # Type 1: a SEG cut short loses it (pydicom reads what is there)
        raise ImagingError(
            f"{p}: incomplete DICOM SEG: SegmentationType is missing (file truncated?)"
        )
    if seg_type not in ("BINARY", "LABELMAP"):
        raise ImagingError(
            f"{p}: SegmentationType {seg_type} is not supported (allowed: BINARY, LABELMAP)"
        )
    segments = {
        int(s.SegmentNumber): str(getattr(s, "SegmentLabel", ""))
        for s in getattr(ds, "SegmentSequence", [])
    }
    n_frames = int(getattr(ds, "NumberOfFrames", 1))
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != n_frames or n_frames < 1:
        raise ImagingError(
            f"{p}: DICOM SEG lacks per-frame functional groups for its {n_frames} frames"
        )
    rows, cols = int(ds.Rows), int(ds.Columns)
    check_voxel_budget(p, (n_frames, rows, cols), 1, max_voxels=max_voxels)

    orientation = spacing = None
    positions = np.empty((n_frames, 3))
    frame_segment = np.zeros(n_frames, dtype=np.int64)
    declared: set[float] = set()
    thickness: set[float] = set()
    for i, frame in enumerate(per_frame):
        iop = _frame_attr(shared, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
        ps = _frame_attr(shared, frame, "PixelMeasuresSequence", "PixelSpacing")
        ipp = _frame_attr(None, frame, "PlanePositionSequence", "ImagePositionPatient")
        if iop is None or ps is None or ipp is None:
            raise ImagingError(
                f"{p}: frame {i + 1} lacks its position, orientation or pixel "
                "spacing; the volume cannot be computed"
            )
        iop_a = np.asarray([float(v) for v in iop])
        ps_a = np.asarray([float(v) for v in ps])
        if iop_a.shape != (6,) or ps_a.shape != (2,) or len(ipp) != 3:
            raise ImagingError(
                f"{p}: frame {i + 1} has a malformed position, orientation or pixel spacing"
            )
        if orientation is None:
            orientation, spacing = iop_a, ps_a
        elif not (
            np.allclose(iop_a, orientation, atol=1e-4)
            and spacing is not None
            and np.allclose(ps_a, spacing, rtol=1e-4)
        ):
            raise ImagingError(
                f"{p}: frames differ in orientation or pixel spacing; allowed: one regular grid"
            )
        positions[i] = [float(v) for v in ipp]
        sbs = _frame_attr(shared, frame, "PixelMeasuresSequence", "SpacingBetweenSlices")
        if sbs is not None:
            declared.add(round(abs(float(sbs)), 6))
        st = _frame_attr(shared, frame, "PixelMeasuresSequence", "SliceThickness")
        if st is not None:
            thickness.add(round(abs(float(st)), 6))
        if seg_type == "BINARY":
            # A single-segment SEG may name its segment once, in the shared groups.
            seg_id = _item(frame, "SegmentIdentificationSequence")
            if seg_id is None and shared is not None:
                seg_id = _item(shared, "SegmentIdentificationSequence")
            if seg_id is None:
                raise ImagingError(f"{p}: frame {i + 1} does not name its segment")
            frame_segment[i] = int(seg_id.ReferencedSegmentNumber)
    assert orientation is not None and spacing is not None
    if not (
        np.all(np.isfinite(positions))
        and np.all(np.isfinite(orientation))
        and np.all(spacing > 0)
        and np.all(np.isfinite(spacing))
    ):
        raise ImagingError(
            f"{p}: frame positions, orientation or pixel spacing are not finite positive numbers"
        )
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3):
        raise ImagingError(f"{p}: ImageOrientationPatient is not two orthogonal unit vectors")

    dist = positions @ normal
    step = _slice_step(p, ds, dist, normal, declared, thickness, source_images)
    slice_index = np.round((dist - dist.min()) / step).astype(np.int64)
    first = positions[np.argmin(dist)]
    # In-plane: row, column offsets of every frame must be zero (one common grid).
    inplane = positions - first - np.outer(dist - dist.min(), normal)
    if not np.allclose(inplane, 0.0, atol=1e-2 * float(min(spacing))):
        raise ImagingError(
            f"{p}: frames are shifted in-plane against each other; allowed: one regular grid"
        )
    n_slices = int(slice_index.max()) + 1
    dtype = np.uint16 if max(segments, default=0) > 255 else np.uint8
    check_voxel_budget(p, (cols, rows, n_slices), np.dtype(dtype).itemsize, max_voxels=max_voxels)
    try:
        pixels = ds.pixel_array
    except Exception as exc:
        raise ImagingError(
            f"{p}: segmentation pixel data cannot be decoded, file truncated or "
            f"compressed with an unavailable codec ({one_line(exc)})"
        ) from None
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    if pixels.shape != (n_frames, rows, cols):
        raise ImagingError(f"{p}: {pixels.shape[0]} frames decoded, {n_frames} declared")
    labels = np.zeros((cols, rows, n_slices), dtype=dtype)
    _fill(p, labels, pixels, slice_index, seg_type, frame_segment, segments)
    affine = np.eye(4)
    affine[:3, 0] = row_dir * spacing[1]  # along a row: column index, column spacing
    affine[:3, 1] = col_dir * spacing[0]  # down a column: row index, row spacing
    affine[:3, 2] = normal * step
    affine[:3, 3] = first
    return HerniationMask(
        labels=labels,
        affine=LPS_TO_RAS @ affine,
        source=p,
        declared_labels=frozenset(segments),
        label_names=segments,
    )


def _fill(
    p: Path,
    labels: np.ndarray,
    pixels: np.ndarray,
    slice_index: np.ndarray,
    seg_type: str,
    frame_segment: np.ndarray,
    segments: dict[int, str],
) -> None:
    if seg_type == "LABELMAP":
        for i in range(pixels.shape[0]):
            frame_pixels = pixels[i]
            target = labels[:, :, slice_index[i]]
            nz = frame_pixels != 0
            if np.any(target.T[nz] != 0):
                raise ImagingError(f"{p}: two frames give labels to the same slice")
            target.T[nz] = frame_pixels[nz]
        return
    unknown = set(frame_segment.tolist()) - set(segments)
    if unknown:
        raise ImagingError(
            f"{p}: frames refer to segments {sorted(unknown)} that are not "
            "described in SegmentSequence"
        )
    for i in range(pixels.shape[0]):
        on = pixels[i] != 0
        if not on.any():
            continue
        target = labels[:, :, slice_index[i]].T  # view as (row, column)
        clash = on & (target != 0) & (target != frame_segment[i])
        if clash.any():
            other = int(target[clash][0])
            raise ImagingError(
                f"{p}: segments {other} and {frame_segment[i]} overlap; one "
                "label image cannot hold both (export them separately)"
            )
        target[on] = frame_segment[i]


def _on_grid(dist: np.ndarray, origin: float, step: float) -> bool:
    k = (dist - origin) / step
    return bool(np.all(np.abs(k - np.round(k)) <= _POSITION_TOL))


def _slice_step(
    p: Path,
    ds: Any,
    dist: np.ndarray,
    normal: np.ndarray,
    declared: set[float],
    thickness: set[float],
    source_images: Any,
) -> float:
    """The slice spacing (mm), from the SEG or its source series, else ImagingError."""
    gaps = np.diff(np.unique(np.round(dist, 4)))
    if len(declared) > 1:
        raise ImagingError(
            f"{p}: frames declare different SpacingBetweenSlices {sorted(declared)} mm"
        )
    step = next(iter(declared)) if declared else None
    if step is not None:
        if not step >= MIN_SPACING_MM:
            raise ImagingError(
                f"{p}: SpacingBetweenSlices {step:g} mm is below "
                f"{MIN_SPACING_MM} mm; the header is not plausible"
            )
        if thickness and step < max(thickness) / MAX_OVERLAP:
            raise ImagingError(
                f"{p}: SpacingBetweenSlices {step:g} mm disagrees with the "
                f"slice thickness {max(thickness):g} mm (slices would overlap "
                f"more than {MAX_OVERLAP:g}-fold)"
            )
        if not _on_grid(dist, float(dist.min()), step):
            raise ImagingError(
                f"{p}: frame positions are not evenly spaced: gaps "
                f"{np.round(gaps, 3).tolist()} mm are not whole multiples of "
                f"SpacingBetweenSlices {step:g} mm"
            )
    geometry = None if source_images is None else _source_geometry(p, ds, normal, source_images)
    if geometry is None and source_images is not None and step is None:
        raise ImagingError(
            f"{p}: none of the source images given belongs to the SEG's source series"
        )
    if geometry is not None:
        src_step, src_dist = geometry
        if step is not None and not np.isclose(step, src_step, rtol=1e-3):
            raise ImagingError(
                f"{p}: SpacingBetweenSlices {step:g} mm disagrees with the "
                f"source series' slice spacing {src_step:g} mm"
            )
        near = np.abs(dist[:, None] - src_dist[None, :]).min(axis=1)
        if np.any(near > _POSITION_TOL * src_step):
            raise ImagingError(
                f"{p}: SEG frames do not lie on the source series' slices "
                f"(off by up to {near.max():.3g} mm)"
            )
        return src_step
    if step is None:
        what = (
            "frame gaps " + ", ".join(f"{g:g}" for g in np.round(gaps, 3)) + " mm"
            if gaps.size
            else "a single slice position"
        )
        raise ImagingError(
            f"{p}: the SEG gives no SpacingBetweenSlices and {what}: the slice "
            "spacing (which empty slices were left out) cannot be known; "
            "give the source images the SEG was drawn on"
        )
    return step


def _source_datasets(pydicom: Any, source_images: Any) -> Iterable[Any]:
    items: Sequence[Any]
    if isinstance(source_images, str | Path):
        root = Path(source_images)
        items = sorted(x for x in root.rglob("*") if x.is_file()) if root.is_dir() else [root]
    else:
        items = list(source_images)
    for item in items:
        if isinstance(item, str | Path):
            try:
                yield pydicom.dcmread(item, stop_before_pixels=True)
            except Exception:  # not DICOM: not a source image
                continue
        else:
            yield item


def _positions_of(ds: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(orientation, position) of each frame of an image (single- or multi-frame)."""
    if "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
        return [
            (
                np.asarray([float(v) for v in ds.ImageOrientationPatient]),
                np.asarray([float(v) for v in ds.ImagePositionPatient]),
            )
        ]
    out = []
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    for frame in getattr(ds, "PerFrameFunctionalGroupsSequence", []):
        iop = _frame_attr(shared, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
        ipp = _frame_attr(shared, frame, "PlanePositionSequence", "ImagePositionPatient")
        if iop is not None and ipp is not None:
            out.append((np.asarray([float(v) for v in iop]), np.asarray([float(v) for v in ipp])))
    return out


def _source_geometry(
    p: Path, seg: Any, normal: np.ndarray, source_images: Any
) -> tuple[float, np.ndarray] | None:
    """Slice spacing and slice positions (along ``normal``) of the SEG's source series;
    None when no image given belongs to it."""
    pydicom = require_extra("pydicom", "imaging")
    series = {str(s.SeriesInstanceUID) for s in getattr(seg, "ReferencedSeriesSequence", [])}
    frame_of_ref = str(getattr(seg, "FrameOfReferenceUID", "") or "")
    dists = []
    spacings = set()
    for ds in _source_datasets(pydicom, source_images):
        if series and str(getattr(ds, "SeriesInstanceUID", "")) not in series:
            continue
        if frame_of_ref and str(getattr(ds, "FrameOfReferenceUID", frame_of_ref)) != frame_of_ref:
            continue
        for iop, ipp in _positions_of(ds):
            if not np.allclose(np.cross(iop[:3], iop[3:]), normal, atol=1e-3):
                raise ImagingError(f"{p}: the source images are not parallel to the SEG's frames")
            dists.append(float(ipp @ normal))
        if "SpacingBetweenSlices" in ds:
            spacings.add(round(abs(float(ds.SpacingBetweenSlices)), 6))
    if not dists:
        return None
    uniq = np.unique(np.round(dists, 4))
    if uniq.size == 1:
        if len(spacings) != 1:
            raise ImagingError(
                f"{p}: the source series has one slice and no single "
                "SpacingBetweenSlices; the slice spacing cannot be known"
            )
        step = next(iter(spacings))
    else:
        gaps = np.diff(uniq)
        step = float(gaps.mean())
        if not np.allclose(gaps, step, rtol=1e-3, atol=1e-3):
            raise ImagingError(
                f"{p}: the source series' slices are not evenly spaced (gaps "
                f"{np.round(gaps, 3).tolist()} mm)"
            )
    if not step >= MIN_SPACING_MM:
        raise ImagingError(
            f"{p}: the source series' slice spacing {step:g} mm is below {MIN_SPACING_MM} mm"
        )
    return step, uniq
