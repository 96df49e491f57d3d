"""Readers of label masks: NIfTI (nibabel), NRRD (pynrrd), DICOM SEG (pydicom).

Every reader returns a :class:`~resorb.imaging.HerniationMask` whose affine maps
voxel indices to millimetres in RAS+ patient space (nibabel's convention;
DICOM and LPS NRRD geometry is converted by negating x and y). The volume
depends only on ``|det(affine[:3, :3])|``, which the conversion preserves.

Readers fail with :class:`~resorb.errors.ImagingError` naming the file and the
problem (missing, empty, truncated, corrupt, not a label image); a missing
library raises :class:`~resorb.errors.MissingExtraError` naming the
``imaging`` extra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resorb.errors import ImagingError, require_extra
from resorb.imaging._types import HerniationMask

__all__ = ["read_dicom_seg", "read_mask", "read_nifti", "read_nrrd"]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

#: SOP Class UID of DICOM Segmentation Storage (PS3.4 B.5).
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
#: SOP Class UID of Label Map Segmentation Storage (DICOM 2024, Sup 243).
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"

_FORMATS = ".nii, .nii.gz, .nrrd/.nhdr, or a DICOM SEG file"


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise ImagingError(f"{p}: mask file not found")
    if not p.is_file():
        raise ImagingError(f"{p}: is not a file (allowed: {_FORMATS})")
    if p.stat().st_size == 0:
        raise ImagingError(f"{p}: mask file is empty")
    return p


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


# NIfTI ------------------------------------------------------------------------------------

def read_nifti(path: str | Path) -> HerniationMask:
    """Read a NIfTI-1 or NIfTI-2 label image (``.nii`` or ``.nii.gz``).

    The data are read in their stored integer type (``np.asanyarray(img.dataobj)``;
    an uncompressed file stays memory-mapped), never as floats. A file with a
    scale slope or intercept, or a floating-point one, must hold whole numbers.
    The affine is nibabel's best affine (sform, else qform, else pixdim).
    """
    nib = require_extra("nibabel", "imaging")
    p = _check_file(path)
    try:
        if p.name.lower().endswith((".nii", ".nii.gz")):
            img = nib.load(p)
        else:  # no suffix for nibabel to go by: parse the (decompressed) bytes
            raw = p.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                import gzip

                raw = gzip.decompress(raw)
            size = int.from_bytes(raw[:4], "little")
            if size not in (348, 540):
                size = int.from_bytes(raw[:4], "big")
            cls = nib.Nifti2Image if size == 540 else nib.Nifti1Image
            img = cls.from_bytes(raw)
    except Exception as exc:  # nibabel raises many types for a corrupt header
        raise ImagingError(f"{p}: not a readable NIfTI file ({_one_line(exc)})") from None
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise ImagingError(f"{p}: is a {type(img).__name__}, not NIfTI (allowed: {_FORMATS})")
    # nibabel moves scl_slope/scl_inter from the loaded header into the array proxy
    slope = getattr(img.dataobj, "slope", 1.0)
    inter = getattr(img.dataobj, "inter", 0.0)
    scaled = not (slope in (None, 1.0) and inter in (None, 0.0))
    try:
        data = None
        if not scaled and p.name.lower().endswith(".gz"):
            data = _read_gzipped_nifti_data(p, img)
        if data is None:
            data = np.asanyarray(img.dataobj) if scaled else img.dataobj.get_unscaled()
        if isinstance(data, np.memmap) and p.stat().st_size < _expected_nifti_bytes(img):
            raise ImagingError(f"{p}: file is truncated")
    except ImagingError:
        raise
    except Exception as exc:  # truncated gzip, short file, ...
        raise ImagingError(f"{p}: image data cannot be read, file truncated or corrupt "
                           f"({_one_line(exc)})") from None
    return HerniationMask(labels=data, affine=img.affine, source=p)


def _read_gzipped_nifti_data(path: Path, img: object) -> np.ndarray | None:
    """Voxel data of a single-member ``.nii.gz`` in one zlib call, without copies.

    Decompressing into a buffer of the known final size is about 2-3 times
    faster than reading through :class:`gzip.GzipFile` (nibabel's route), and
    ``np.frombuffer`` then views the bytes as the stored integer type. Returns
    None (so the caller falls back to nibabel) when the stream holds less than
    the header promises, e.g. a multi-member gzip file.
    """
    import zlib

    hdr = img.header  # type: ignore[attr-defined]
    shape = tuple(int(n) for n in img.shape)  # type: ignore[attr-defined]
    dtype = hdr.get_data_dtype()
    offset = int(img.dataobj.offset)  # type: ignore[attr-defined]
    nbytes = int(np.prod(shape)) * dtype.itemsize
    try:
        raw = zlib.decompress(path.read_bytes(), wbits=31, bufsize=offset + nbytes)
    except zlib.error as exc:
        raise ImagingError(f"{path}: image data cannot be read, file truncated or corrupt "
                           f"({_one_line(exc)})") from None
    if len(raw) < offset + nbytes:
        return None
    flat = np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape)), offset=offset)
    return flat.reshape(shape, order="F")


def _expected_nifti_bytes(img: object) -> int:
    hdr = img.header  # type: ignore[attr-defined]
    n = int(np.prod(hdr.get_data_shape()))
    return int(hdr.get_data_offset()) + n * hdr.get_data_dtype().itemsize


# NRRD -------------------------------------------------------------------------------------

def read_nrrd(path: str | Path) -> HerniationMask:
    """Read an NRRD label image (``.nrrd``, detached ``.nhdr``, Slicer ``.seg.nrrd``).

    The affine is built from ``space directions`` (one column per axis) and
    ``space origin``; an LPS space is converted to RAS. A file with only
    ``spacings`` gets a diagonal affine. A single-layer 4-D segmentation (a
    leading ``none`` axis of size 1) is accepted.
    """
    nrrd = require_extra("nrrd", "imaging")
    p = _check_file(path)
    try:
        data, header = nrrd.read(str(p), index_order="F")
    except Exception as exc:
        raise ImagingError(f"{p}: not a readable NRRD file ({_one_line(exc)})") from None
    directions = header.get("space directions")
    if directions is not None:
        rows = [np.asarray(d, dtype=float) if d is not None else None for d in directions]
        spatial = [i for i, r in enumerate(rows) if r is not None and np.all(np.isfinite(r))]
        other = [i for i in range(data.ndim) if i not in spatial]
        if len(spatial) != 3 or any(data.shape[i] != 1 for i in other):
            raise ImagingError(f"{p}: NRRD has {len(spatial)} spatial axes and "
                               f"{len(other)} other axes of sizes "
                               f"{[data.shape[i] for i in other]}; allowed: a 3-D label image "
                               "(one layer)")
        data = data.reshape([data.shape[i] for i in spatial], order="A")
        linear = np.column_stack([rows[i] for i in spatial])
    else:
        spacings = header.get("spacings")
        if spacings is None or data.ndim != 3:
            raise ImagingError(f"{p}: NRRD gives no voxel geometry (space directions or "
                               "spacings); the volume cannot be computed")
        linear = np.diag(np.asarray(spacings, dtype=float))
    if linear.shape != (3, 3):
        raise ImagingError(f"{p}: NRRD space directions are not 3-D vectors")
    affine = np.eye(4)
    affine[:3, :3] = linear
    origin = header.get("space origin")
    if origin is not None:
        affine[:3, 3] = np.asarray(origin, dtype=float)
    space = str(header.get("space", "")).lower()
    if space in ("left-posterior-superior", "lps"):
        affine = _LPS_TO_RAS @ affine
    names = {}
    declared = set()
    for key, value in header.items():  # Slicer .seg.nrrd segment metadata
        if key.startswith("Segment") and key.endswith("_LabelValue"):
            stem = key[: -len("_LabelValue")]
            try:
                lv = int(value)
            except ValueError:
                continue
            declared.add(lv)
            if f"{stem}_Name" in header:
                names[lv] = str(header[f"{stem}_Name"])
    return HerniationMask(labels=data, affine=affine, source=p,
                          declared_labels=frozenset(declared) if declared else None,
                          label_names=names)


# DICOM SEG --------------------------------------------------------------------------------

def _item(seq_owner: object, keyword: str) -> object | None:
    seq = getattr(seq_owner, keyword, None)
    return seq[0] if seq else None


def _frame_attr(shared: object, frame: object, seq: str, attr: str) -> object | None:
    for group in (frame, shared):
        if group is None:
            continue
        item = _item(group, seq)
        if item is not None and attr in item:
            return getattr(item, attr)
    return None


def read_dicom_seg(path: str | Path) -> HerniationMask:
    """Read a DICOM Segmentation (BINARY or LABELMAP) into a label image.

    Label = segment number. Geometry comes from the functional groups: each
    frame's ImagePositionPatient (Plane Position), the ImageOrientationPatient
    (Plane Orientation) and PixelSpacing (Pixel Measures), per frame or shared.
    Frames are placed along the slice normal by the projection of their
    position on it; the slice spacing is the spacing between frame positions
    (SpacingBetweenSlices when given, and it must agree), so frames omitted
    because they were empty leave empty slices. The returned array is indexed
    ``[column, row, slice]`` like NIfTI; the affine is converted to RAS.

    Raises
    ------
    ImagingError
        For a file that is not a DICOM SEG, a FRACTIONAL segmentation, frames
        with different orientations or pixel spacings, unevenly spaced frame
        positions, or segments that overlap (which one label image cannot
        represent).
    """
    pydicom = require_extra("pydicom", "imaging")
    p = _check_file(path)
    try:
        ds = pydicom.dcmread(p)
    except Exception as exc:
        raise ImagingError(f"{p}: not a readable DICOM file ({_one_line(exc)})") from None
    sop = str(getattr(ds, "SOPClassUID", ""))
    if sop not in (SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE):
        raise ImagingError(f"{p}: DICOM object is not a Segmentation (SOP class {sop or 'none'});"
                           " allowed: a DICOM SEG")
    seg_type = str(getattr(ds, "SegmentationType", "")).upper()
    if seg_type not in ("BINARY", "LABELMAP"):
        raise ImagingError(f"{p}: SegmentationType {seg_type or 'missing'} is not supported "
                           "(allowed: BINARY, LABELMAP)")
    segments = {int(s.SegmentNumber): str(getattr(s, "SegmentLabel", ""))
                for s in getattr(ds, "SegmentSequence", [])}
    n_frames = int(getattr(ds, "NumberOfFrames", 1))
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != n_frames:
        raise ImagingError(f"{p}: DICOM SEG lacks per-frame functional groups for its "
                           f"{n_frames} frames")
    try:
        pixels = ds.pixel_array
    except Exception as exc:
        raise ImagingError(f"{p}: segmentation pixel data cannot be decoded, file truncated or "
                           f"compressed with an unavailable codec ({_one_line(exc)})") from None
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    if pixels.shape[0] != n_frames:
        raise ImagingError(f"{p}: {pixels.shape[0]} frames decoded, {n_frames} declared")

    orientation = None
    spacing = None
    positions = np.empty((n_frames, 3))
    frame_segment = np.zeros(n_frames, dtype=np.int64)
    for i, frame in enumerate(per_frame):
        iop = _frame_attr(shared, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
        ps = _frame_attr(shared, frame, "PixelMeasuresSequence", "PixelSpacing")
        ipp = _frame_attr(None, frame, "PlanePositionSequence", "ImagePositionPatient")
        if iop is None or ps is None or ipp is None:
            raise ImagingError(f"{p}: frame {i + 1} lacks its position, orientation or pixel "
                               "spacing; the volume cannot be computed")
        iop_a = np.asarray([float(v) for v in iop])
        ps_a = np.asarray([float(v) for v in ps])
        if orientation is None:
            orientation, spacing = iop_a, ps_a
        elif not (np.allclose(iop_a, orientation, atol=1e-4)
                  and np.allclose(ps_a, spacing, rtol=1e-4)):
            raise ImagingError(f"{p}: frames differ in orientation or pixel spacing; "
                               "allowed: one regular grid")
        positions[i] = [float(v) for v in ipp]
        if seg_type == "BINARY":
            # A single-segment SEG may name its segment once, in the shared groups.
            seg_id = _item(frame, "SegmentIdentificationSequence")
            if seg_id is None and shared is not None:
                seg_id = _item(shared, "SegmentIdentificationSequence")
            if seg_id is None:
                raise ImagingError(f"{p}: frame {i + 1} does not name its segment")
            frame_segment[i] = int(seg_id.ReferencedSegmentNumber)
    assert orientation is not None and spacing is not None
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3):
        raise ImagingError(f"{p}: ImageOrientationPatient is not two orthogonal unit vectors")

    # Place frames on slices along the normal.
    dist = positions @ normal
    uniq = np.unique(np.round(dist, 3))
    declared_gap = _frame_attr(shared, per_frame[0], "PixelMeasuresSequence",
                               "SpacingBetweenSlices")
    if uniq.size > 1:
        gaps = np.diff(uniq)
        step = abs(float(declared_gap)) if declared_gap is not None else float(gaps.min())
        ratio = gaps / step
        if step <= 0 or not np.allclose(ratio, np.round(ratio), atol=1e-2):
            raise ImagingError(f"{p}: frame positions are not evenly spaced along the slice "
                               f"normal (gaps {np.round(gaps, 3).tolist()} mm)")
    else:
        thick = _frame_attr(shared, per_frame[0], "PixelMeasuresSequence", "SliceThickness")
        gap = abs(float(declared_gap)) if declared_gap is not None else thick
        if gap is None or float(gap) <= 0:
            raise ImagingError(f"{p}: a single slice position and no SpacingBetweenSlices or "
                               "SliceThickness; the voxel depth is unknown")
        step = float(gap)
    first = positions[np.argmin(dist)]
    slice_index = np.round((dist - dist.min()) / step).astype(np.int64)
    # In-plane: row, column offsets of every frame must be zero (one common grid).
    inplane = positions - first - np.outer(dist - dist.min(), normal)
    if not np.allclose(inplane, 0.0, atol=1e-2 * float(min(spacing))):
        raise ImagingError(f"{p}: frames are shifted in-plane against each other; "
                           "allowed: one regular grid")
    n_slices = int(slice_index.max()) + 1
    rows, cols = int(ds.Rows), int(ds.Columns)
    dtype = np.uint16 if max(segments, default=0) > 255 else np.uint8
    labels = np.zeros((cols, rows, n_slices), dtype=dtype)
    if seg_type == "LABELMAP":
        for i in range(n_frames):
            frame_pixels = pixels[i]
            target = labels[:, :, slice_index[i]]
            nz = frame_pixels != 0
            if np.any(target.T[nz] != 0):
                raise ImagingError(f"{p}: two frames give labels to the same slice")
            target.T[nz] = frame_pixels[nz]
    else:
        unknown = set(frame_segment.tolist()) - set(segments)
        if unknown:
            raise ImagingError(f"{p}: frames refer to segments {sorted(unknown)} that are not "
                               "described in SegmentSequence")
        for i in range(n_frames):
            on = pixels[i] != 0
            if not on.any():
                continue
            target = labels[:, :, slice_index[i]].T  # view as (row, column)
            clash = on & (target != 0) & (target != frame_segment[i])
            if clash.any():
                other = int(target[clash][0])
                raise ImagingError(f"{p}: segments {other} and {frame_segment[i]} overlap; one "
                                   "label image cannot hold both (export them separately)")
            target[on] = frame_segment[i]
    affine = np.eye(4)
    affine[:3, 0] = row_dir * spacing[1]   # along a row: column index, column spacing
    affine[:3, 1] = col_dir * spacing[0]   # down a column: row index, row spacing
    affine[:3, 2] = normal * step
    affine[:3, 3] = first
    return HerniationMask(labels=labels, affine=_LPS_TO_RAS @ affine, source=p,
                          declared_labels=frozenset(segments), label_names=segments)


# Dispatch ---------------------------------------------------------------------------------

def read_mask(path: str | Path) -> HerniationMask:
    """Read a label mask, choosing the reader by suffix, else by the file's first bytes."""
    p = _check_file(path)
    name = p.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return read_nifti(p)
    if name.endswith((".nrrd", ".nhdr")):
        return read_nrrd(p)
    if name.endswith((".dcm", ".dicom")):
        return read_dicom_seg(p)
    with p.open("rb") as fh:
        head = fh.read(132)
    if head[128:132] == b"DICM":
        return read_dicom_seg(p)
    if head.startswith(b"NRRD"):
        return read_nrrd(p)
    if head[:2] == b"\x1f\x8b" or (len(head) >= 4 and int.from_bytes(head[:4], "little")
                                   in (348, 540)) or (len(head) >= 4 and
                                                       int.from_bytes(head[:4], "big")
                                                       in (348, 540)):
        return read_nifti(p)
    raise ImagingError(f"{p}: unknown mask format (allowed: {_FORMATS})")
