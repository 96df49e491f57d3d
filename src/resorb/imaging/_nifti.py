"""NIfTI-1/2 label images (nibabel), with the header checked before the voxels are read.

Geometry rule (nibabel's, documented in ``nibabel.Nifti1Header.get_best_affine``):
the **sform** when its code is non-zero, else the **qform** when its code is
non-zero, else the voxel sizes of ``pixdim``. ITK (and so 3D Slicer, ITK-SNAP,
SimpleITK) follows a different rule: voxel sizes always from ``pixdim``, the
rotation from the sform only when it is a rigid rotation, else the qform. The
two readers agree whenever the qform and sform agree, as every file written by
those tools does; when a file's qform and sform disagree, the reading used here
(sform) and the other one (qform) are both named in a warning with the volume
of one voxel under each, so the difference is visible instead of silent.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from resorb.errors import ImagingError, require_extra
from resorb.imaging._mask_files import (
    FORMATS,
    MAX_MASK_BYTES,
    check_file,
    check_voxel_budget,
    one_line,
    quiet,
)
from resorb.imaging._types import HerniationMask

__all__ = ["read_nifti"]

#: Largest output/input ratio of deflate (the zlib manual's technical details: 1032:1).
_DEFLATE_MAX_RATIO = 1032


def _load(nib: Any, p: Path, max_voxels: int | None) -> Any:
    """The image; for a file with a NIfTI suffix nibabel keeps the voxels on disk.

    A file without the suffix is parsed from its (gunzipped) bytes: the header
    first, checked against the voxel budget, then at most the bytes it promises.
    """
    if p.name.lower().endswith((".nii", ".nii.gz")):
        return nib.load(p)
    with p.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(p, "rb") as fh:
        head = fh.read(540)
    size = int.from_bytes(head[:4], "little")
    if size not in (348, 540):
        size = int.from_bytes(head[:4], "big")
    cls = nib.Nifti2Image if size == 540 else nib.Nifti1Image
    hdr = cls.header_class.from_fileobj(io.BytesIO(head))
    check_voxel_budget(
        p, hdr.get_data_shape(), hdr.get_data_dtype().itemsize, max_voxels=max_voxels
    )
    limit = (
        int(hdr.get_data_offset())
        + int(np.prod(hdr.get_data_shape())) * hdr.get_data_dtype().itemsize
    )
    with opener(p, "rb") as fh:
        raw = fh.read(limit)
    return cls.from_bytes(raw)


@quiet
def read_nifti(path: str | Path, *, max_voxels: int | None = None) -> HerniationMask:
    """Read a NIfTI-1 or NIfTI-2 label image (``.nii`` or ``.nii.gz``).

    The header's dimensions are checked against the voxel budget
    (:data:`resorb.imaging.io.MAX_MASK_VOXELS`) before any voxel is read.
    Axes beyond the third must have size 1 (a 5-D ``X x Y x Z x 1 x 1`` mask is
    a 3-D mask). The data are read in their stored integer type, never as
    floats; a file with a scale slope or intercept, or a floating-point one,
    must hold whole numbers. The affine follows the rule in the module notes;
    a qform that disagrees with the sform gives a warning on the mask.
    """
    nib = require_extra("nibabel", "imaging")
    p = check_file(path)
    try:
        img = _load(nib, p, max_voxels)
    except ImagingError:
        raise
    except Exception as exc:  # nibabel raises many types for a corrupt header
        raise ImagingError(f"{p}: not a readable NIfTI file ({one_line(exc)})") from None
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise ImagingError(f"{p}: is a {type(img).__name__}, not NIfTI (allowed: {FORMATS})")
    hdr = img.header
    shape = tuple(int(n) for n in hdr.get_data_shape())
    # nibabel moves scl_slope/scl_inter from the loaded header into the array proxy
    slope = getattr(img.dataobj, "slope", 1.0)
    inter = getattr(img.dataobj, "inter", 0.0)
    scaled = not (slope in (None, 1.0) and inter in (None, 0.0))
    dtype = hdr.get_data_dtype()
    out_itemsize = 8 if scaled else max(dtype.itemsize, 4 if dtype.kind == "f" else 1)
    check_voxel_budget(p, shape, out_itemsize, max_voxels=max_voxels)
    if len(shape) < 3 or any(n != 1 for n in shape[3:]):
        raise ImagingError(
            f"{p}: label image has shape {shape}; a 3-D label image is needed "
            "(axes beyond the third must have size 1)"
        )
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
        raise ImagingError(
            f"{p}: image data cannot be read, file truncated or corrupt ({one_line(exc)})"
        ) from None
    if data.ndim > 3:
        data = data.reshape(shape[:3], order="F")
    affine, warnings = _affine_and_warnings(img, p)
    return HerniationMask(labels=data, affine=affine, source=p, warnings=warnings)


def _affine_and_warnings(img: Any, p: Path) -> tuple[np.ndarray, tuple[tuple[str, str], ...]]:
    hdr = img.header
    try:
        affine = np.asarray(img.affine, dtype=float)
        sform, scode = hdr.get_sform(coded=True)
    except (ValueError, ArithmeticError) as exc:
        raise ImagingError(f"{p}: geometry cannot be read ({one_line(exc)})") from None
    try:
        qform, qcode = hdr.get_qform(coded=True)
    except (ValueError, ArithmeticError):  # quaternion not a rotation (|b,c,d| > 1)
        if scode:
            return affine, (
                (
                    "mask",
                    "the file's qform (quaternion) is not a valid rotation; "
                    "the sform is used (nibabel's rule)",
                ),
            )
        raise ImagingError(
            f"{p}: the qform quaternion is not a valid rotation and there is no sform"
        ) from None
    if qform is None or sform is None or not (qcode and scode):
        return affine, ()
    if np.allclose(qform, sform, rtol=1e-4, atol=1e-3):
        return affine, ()
    vs = abs(float(np.linalg.det(sform[:3, :3])))
    vq = abs(float(np.linalg.det(qform[:3, :3])))
    diff = (vq - vs) / vs * 100 if vs else float("inf")
    message = (
        f"the file's two geometries disagree: sform {vs:.4g} mm3 per voxel (used, "
        f"nibabel's rule), qform {vq:.4g} mm3 per voxel (ITK, 3D Slicer and "
        f"ITK-SNAP read this one; a volume {diff:+.1f} % different)"
        if abs(diff) > 1e-4
        else "the file's two geometries disagree in position or orientation (sform used, "
        "nibabel's rule; qform as read by ITK, 3D Slicer and ITK-SNAP); the voxel "
        f"volume is the same under both ({vs:.4g} mm3)"
    )
    return affine, (("mask", message),)


def _read_gzipped_nifti_data(path: Path, img: object) -> np.ndarray | None:
    """Voxel data of a single-member ``.nii.gz`` in one zlib call, without copies.

    Decompressing into a buffer of the known final size is about 2-3 times
    faster than reading through :class:`gzip.GzipFile` (nibabel's route), and
    ``np.frombuffer`` then views the bytes as the stored integer type. Memory is
    bounded: a file small enough that even deflate's largest ratio (1032:1)
    stays within :data:`MAX_MASK_BYTES` is inflated in one call; a larger one no
    further than the header's promised size (``max_length``; about half as fast,
    the output buffer then grows). Returns None (so the caller
    falls back to nibabel) when the stream holds less than the header
    promises, e.g. a multi-member gzip file.
    """
    hdr = img.header  # type: ignore[attr-defined]
    shape = tuple(int(n) for n in img.shape)  # type: ignore[attr-defined]
    dtype = hdr.get_data_dtype()
    offset = int(img.dataobj.offset)  # type: ignore[attr-defined]
    count = int(np.prod(shape))
    nbytes = count * dtype.itemsize
    data = path.read_bytes()
    try:
        if len(data) * _DEFLATE_MAX_RATIO <= MAX_MASK_BYTES:
            # Even fully inflated the stream stays within the budget: one call into a
            # buffer of the final size (no growth, no copy), the fast path.
            raw = zlib.decompress(data, wbits=31, bufsize=offset + nbytes)
        else:  # inflate no further than the header promises
            raw = zlib.decompressobj(wbits=31).decompress(data, offset + nbytes)
    except zlib.error as exc:
        raise ImagingError(
            f"{path}: image data cannot be read, file truncated or corrupt ({one_line(exc)})"
        ) from None
    if len(raw) < offset + nbytes:
        return None
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F")


def _expected_nifti_bytes(img: Any) -> int:
    hdr = img.header
    n = int(np.prod(hdr.get_data_shape()))
    return int(hdr.get_data_offset()) + n * int(hdr.get_data_dtype().itemsize)
