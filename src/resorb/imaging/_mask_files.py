"""What every mask reader shares: file checks, one-line errors and the voxel budget.

The budget is checked against the dimensions a header declares, before any
voxel is decompressed or allocated, so that a small hostile file (a 1 MB
``.nii.gz`` declaring a billion voxels, a SEG whose frame positions and slice
spacing imply 200,000 slices) is refused instead of exhausting memory.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from resorb._quiet import silenced_libraries
from resorb.errors import ImagingError

#: Largest label image a reader builds (voxels). 2**27 = 134,217,728 voxels holds a
#: 512 x 512 x 512 grid, four times a typical 3-D lumbar MRI (512 x 512 x 120);
#: our limit (an assumption about memory, not a clinical number).
MAX_MASK_VOXELS = 1 << 27
#: Largest decoded label array in bytes (voxels x bytes per voxel): 512 MiB.
MAX_MASK_BYTES = 512 << 20

_F = TypeVar("_F", bound=Callable[..., Any])


def quiet(fn: _F) -> _F:
    """Run a reader with library warnings and log output silenced: a refusal is one line
    naming the file, not a library message (which may quote header values) before it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with silenced_libraries():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


FORMATS = ".nii, .nii.gz, .nrrd/.nhdr, or a DICOM SEG file"
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def check_file(path: str | Path) -> Path:
    """The path as a Path if it names a non-empty regular file, else ImagingError."""
    p = Path(path)
    if not p.exists():
        raise ImagingError(f"{p}: mask file not found")
    if not p.is_file():
        raise ImagingError(f"{p}: is not a file (allowed: {FORMATS})")
    if p.stat().st_size == 0:
        raise ImagingError(f"{p}: mask file is empty")
    return p


def one_line(exc: BaseException) -> str:
    """A library's message on one line (they can span several), without the exception's
    class name: refusals reach clinicians (the web app's mask upload), whose words name
    no Python objects."""
    text = " ".join(str(exc).split()).strip("'\"")
    return text[:300] or "no detail given by the reader"


def check_voxel_budget(
    where: object, shape: Sequence[int], itemsize: int, *, max_voxels: int | None = None
) -> None:
    """Refuse a declared image size before anything of that size is allocated.

    Parameters
    ----------
    where : path or str
        Named in the message.
    shape : sequence of int
        Dimensions as the header declares them (every axis, singleton ones included).
    itemsize : int
        Bytes per voxel of the array that would be built.
    max_voxels : int, optional
        Limit in voxels (default :data:`MAX_MASK_VOXELS`); the byte limit
        :data:`MAX_MASK_BYTES` scales with it.
    """
    limit = MAX_MASK_VOXELS if max_voxels is None else int(max_voxels)
    dims = [int(n) for n in shape]
    if any(n < 0 for n in dims):
        raise ImagingError(f"{where}: image dimensions {dims} include a negative size")
    n = math.prod(dims)
    byte_limit = MAX_MASK_BYTES * limit // MAX_MASK_VOXELS
    if n > limit or n * max(int(itemsize), 1) > byte_limit:
        raise ImagingError(
            f"{where}: image dimensions {' x '.join(map(str, dims))} "
            f"({n:,} voxels of {itemsize} bytes) exceed the mask limit of "
            f"{limit:,} voxels ({byte_limit >> 20} MiB); allowed: a label "
            "image of one MRI"
        )
