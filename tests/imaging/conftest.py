"""Fixtures of the imaging tests: synthetic phantoms written as NIfTI, NRRD and DICOM SEG.

The writers are those of ``examples/make_masks.py`` (loaded from the file),
so the tests also check the script that makes the example masks.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_make_masks():
    name = "resorb_examples_make_masks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "make_masks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_masks():
    """The ``examples/make_masks.py`` module."""
    return _load_make_masks()


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return ROOT / "examples" / "masks"


@pytest.fixture(scope="session")
def oblique_phantom(make_masks):
    """(labels, affine): disc (1) and herniation (2) on a rotated 0.6 x 0.6 x 4 mm grid."""
    affine = make_masks.oblique_affine()
    return make_masks.phantom_labels("baseline", affine=affine), affine


@pytest.fixture(scope="session")
def phantom_files(tmp_path_factory, make_masks, oblique_phantom) -> dict[str, Path]:
    """The oblique phantom written in every supported format."""
    labels, affine = oblique_phantom
    d = tmp_path_factory.mktemp("phantom")
    files = {
        "nii": d / "p.nii",
        "nii.gz": d / "p.nii.gz",
        "nrrd": d / "p.nrrd",
        "seg": d / "p_seg.dcm",
    }
    make_masks.write_nifti(labels, affine, files["nii"])
    make_masks.write_nifti(labels, affine, files["nii.gz"])
    make_masks.write_nrrd(labels, affine, files["nrrd"])
    make_masks.write_dicom_seg(labels, affine, files["seg"], tag="test")
    return files


def _labelled_world_points(mask, label: int) -> np.ndarray:
    """World coordinates (mm) of the voxel centres carrying ``label``, sorted."""
    idx = np.argwhere(mask.labels == label)
    pts = idx @ mask.affine[:3, :3].T + mask.affine[:3, 3]
    return pts[np.lexsort(np.round(pts, 2).T[::-1])]


@pytest.fixture(scope="session")
def labelled_world_points():
    """Function (mask, label) -> sorted world coordinates of that label's voxel centres."""
    return _labelled_world_points
