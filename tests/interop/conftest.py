"""Interoperability tests read and write DICOM, FHIR and the registry: without the
imaging extra (pydicom, highdicom) or the web extra (registry, fhir.resources)
they are skipped, with the reason, instead of failing at import."""

from __future__ import annotations

import pytest

for _module, _extra in (
    ("pydicom", "imaging"),
    ("highdicom", "imaging"),
    ("sqlalchemy", "web"),
    ("fhir.resources", "web"),
):
    pytest.importorskip(
        _module, reason=f"interoperability tests need the {_extra} extra ({_module})"
    )
