"""NRRD label images (pynrrd): header checked first, detached data only beside the header.

The header is parsed on its own (``nrrd.read_header``); its ``sizes`` are
checked against the voxel budget and a detached ``data file`` must be a plain
file name in the header's own folder (no path, no ``..``, no link leading
elsewhere, no ``LIST`` or numbered series). gzip and bzip2 data are inflated at
most to the size the header declares, so a small file cannot expand without
bound.
"""

from __future__ import annotations

import bz2
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from resorb.errors import ImagingError, require_extra
from resorb.imaging._mask_files import LPS_TO_RAS, check_file, check_voxel_budget, one_line, quiet
from resorb.imaging._types import HerniationMask

__all__ = ["read_nrrd"]

_DATA_FILE_KEYS = ("data file", "datafile")


def _data_file(p: Path, header: dict[str, Any]) -> Path | None:
    """The detached data file, refused unless it is a plain file beside the header."""
    name = next((str(header[k]) for k in _DATA_FILE_KEYS if k in header), None)
    if name is None:
        return None
    plain = name.strip()
    if (
        not plain
        or " " in plain
        or "/" in plain
        or "\\" in plain
        or plain in (".", "..")
        or plain.upper().startswith("LIST")
    ):
        raise ImagingError(
            f"{p}: 'data file' must name one file in the header's own folder "
            "(no path, list or numbered series)"
        )
    target = (p.parent / plain).resolve()
    if target.parent != p.parent.resolve() or not target.is_file():
        raise ImagingError(f"{p}: the detached data file is not a file in the header's own folder")
    return target


def _inflate(raw: bytes, encoding: str, nbytes: int, p: Path) -> bytes:
    """At most ``nbytes`` + 1 bytes of the decompressed stream; more means a lying header."""
    if encoding in ("gzip", "gz"):
        d = zlib.decompressobj(zlib.MAX_WBITS | 32)
        out = d.decompress(raw, nbytes + 1)
    else:
        out = bz2.BZ2Decompressor().decompress(raw, max_length=nbytes + 1)
    if len(out) > nbytes:
        raise ImagingError(
            f"{p}: the compressed data hold more voxels than the header's sizes declare"
        )
    return out


def _read_data(nrrd: Any, p: Path, header: dict[str, Any], data_path: Path | None) -> np.ndarray:
    encoding = str(header.get("encoding", "raw")).lower()
    if encoding not in ("gzip", "gz", "bzip2", "bz2"):
        # raw, ascii, hex: bounded by the size of the file on disk (a regular file).
        if data_path is None:
            with p.open("rb") as fh:
                nrrd.read_header(fh)
                return np.asarray(nrrd.read_data(header, fh, str(p), index_order="F"))
        return np.asarray(nrrd.read_data(header, None, str(p), index_order="F"))
    dtype = nrrd.reader._determine_datatype(header)
    sizes = [int(n) for n in header["sizes"]]
    count = int(np.prod(sizes))
    line_skip = int(header.get("lineskip", header.get("line skip", 0)))
    byte_skip = int(header.get("byteskip", header.get("byte skip", 0)))
    if line_skip < 0 or byte_skip < 0:
        raise ImagingError(f"{p}: negative line or byte skip with compressed data")
    with (data_path or p).open("rb") as fh:
        if data_path is None:
            nrrd.read_header(fh)
        for _ in range(line_skip):
            fh.readline()
        raw = fh.read()
    try:
        out = _inflate(raw, encoding, byte_skip + count * dtype.itemsize, p)
    except (zlib.error, OSError, EOFError) as exc:
        raise ImagingError(
            f"{p}: image data cannot be read, file truncated or corrupt ({one_line(exc)})"
        ) from None
    if len(out) < byte_skip + count * dtype.itemsize:
        raise ImagingError(
            f"{p}: image data cannot be read, file truncated or corrupt "
            f"(the header declares {count} voxels)"
        )
    data = np.frombuffer(out, dtype=dtype, count=count, offset=byte_skip)
    return data.reshape(tuple(sizes), order="F")


@quiet
def read_nrrd(path: str | Path, *, max_voxels: int | None = None) -> HerniationMask:
    """Read an NRRD label image (``.nrrd``, detached ``.nhdr``, Slicer ``.seg.nrrd``).

    The affine is built from ``space directions`` (one column per axis) and
    ``space origin``; an LPS space is converted to RAS. A file with only
    ``spacings`` gets a diagonal affine. Non-spatial axes of size 1 (a
    single-layer Slicer segmentation) are accepted.
    """
    nrrd = require_extra("nrrd", "imaging")
    p = check_file(path)
    try:
        header = nrrd.read_header(str(p))
        sizes = [int(n) for n in header["sizes"]]
        dtype = nrrd.reader._determine_datatype(header)
    except Exception as exc:
        raise ImagingError(f"{p}: not a readable NRRD file ({one_line(exc)})") from None
    check_voxel_budget(p, sizes, dtype.itemsize, max_voxels=max_voxels)
    data_path = _data_file(p, header)
    try:
        data = _read_data(nrrd, p, header, data_path)
    except ImagingError:
        raise
    except Exception as exc:
        raise ImagingError(f"{p}: not a readable NRRD file ({one_line(exc)})") from None
    directions = header.get("space directions")
    if directions is not None:
        rows = [np.asarray(d, dtype=float) if d is not None else None for d in directions]
        spatial = [i for i, r in enumerate(rows) if r is not None and np.all(np.isfinite(r))]
        other = [i for i in range(data.ndim) if i not in spatial]
        if len(spatial) != 3 or any(data.shape[i] != 1 for i in other):
            raise ImagingError(
                f"{p}: NRRD has {len(spatial)} spatial axes and "
                f"{len(other)} other axes of sizes "
                f"{[data.shape[i] for i in other]}; allowed: a 3-D label image "
                "(one layer)"
            )
        data = data.reshape([data.shape[i] for i in spatial], order="A")
        linear = np.column_stack([np.asarray(rows[i]) for i in spatial])
    else:
        spacings = header.get("spacings")
        if spacings is None or data.ndim < 3 or any(n != 1 for n in data.shape[3:]):
            raise ImagingError(
                f"{p}: NRRD gives no voxel geometry (space directions or "
                "spacings) for a 3-D image; the volume cannot be computed"
            )
        data = data.reshape(data.shape[:3], order="F")
        linear = np.diag(np.asarray(spacings, dtype=float)[:3])
    if linear.shape != (3, 3):
        raise ImagingError(f"{p}: NRRD space directions are not 3-D vectors")
    affine = np.eye(4)
    affine[:3, :3] = linear
    origin = header.get("space origin")
    if origin is not None:
        affine[:3, 3] = np.asarray(origin, dtype=float)
    space = str(header.get("space", "")).lower()
    if space in ("left-posterior-superior", "lps"):
        affine = LPS_TO_RAS @ affine
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
    return HerniationMask(
        labels=data,
        affine=affine,
        source=p,
        declared_labels=frozenset(declared) if declared else None,
        label_names=names,
    )
