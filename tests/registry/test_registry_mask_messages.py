"""How a refused mask file is worded for the web form."""

from __future__ import annotations

import pytest

pytest.importorskip("nibabel", reason="the imaging extra is not installed")

from resorb.errors import InvalidInputError
from resorb.registry._masks import read_mask_file


def test_a_refused_mask_names_what_is_allowed_once(tmp_path):
    """A folder given as the mask: the reader says what it allows; the message for
    the form must not repeat '(allowed: ...)' (it read '... (allowed: X) (allowed: Y)')."""
    folder = tmp_path / "upload.nii.gz"
    folder.mkdir()
    with pytest.raises(InvalidInputError) as info:
        read_mask_file(folder)
    err = info.value
    assert err.field == "mask"
    assert "allowed" not in err.message
    assert ".nii" in (err.allowed or "")
    assert str(err).count("(allowed:") == 1
