"""The DICOMweb wire format of :mod:`resorb.interop.dicomweb`: values in, values out.

What the PACS client sends and reads besides the HTTP calls themselves: UID and
date-range checks of query values, DICOM JSON attributes as text, integers and
dates, a requests session that keeps QIDO wildcards unencoded for Orthanc, and a
dataset made to encode as a PS3.10 file before it is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from resorb.errors import InvalidInputError, require_extra

__all__ = [
    "check_uid",
    "dataset_from_json",
    "date_filter",
    "ensure_file_meta",
    "int_of",
    "invalid_dicom_error",
    "parse_da",
    "text_of",
    "wildcard_session_class",
]

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def check_uid(value: str, field: str) -> str:
    """``value`` stripped if it is a DICOM UID, else InvalidInputError naming ``field``."""
    text = str(value).strip()
    if not (_UID_RE.match(text) and len(text) <= 64):
        raise InvalidInputError(
            field, "is not a DICOM UID", allowed="digits and dots, at most 64 characters"
        )
    return text


def text_of(ds: Any, keyword: str) -> str:
    """An attribute of a QIDO-RS answer as stripped text ('' when absent)."""
    value = ds.get(keyword, "")
    value = getattr(value, "value", value)
    return "" if value is None else str(value).strip()


def int_of(ds: Any, keyword: str) -> int | None:
    """An attribute of a QIDO-RS answer as an integer (None when absent or not one)."""
    text = text_of(ds, keyword)
    try:
        return int(text) if text else None
    except ValueError:
        return None


def parse_da(text: str) -> dt.date | None:
    """A DA value (``YYYYMMDD``...) as a date; None when it is not one."""
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


def dataset_from_json(item: Mapping[str, Any]):
    """A pydicom Dataset of one DICOM JSON object (PS3.18 F.2) of a QIDO-RS answer."""
    pydicom = require_extra("pydicom", "imaging")
    # Bulk data are never requested in a search; a server that sends a BulkDataURI
    # anyway gets an empty value rather than a second request.
    return pydicom.Dataset.from_json(dict(item), bulk_data_uri_handler=lambda *_a: b"")


def wildcard_session_class(requests: Any) -> type:
    """A requests Session class that keeps QIDO wildcards unencoded."""

    class _Session(requests.Session):
        """Sends QIDO wildcards as ``*`` (legal in a query, RFC 3986 sub-delims).

        dicomweb-client percent-encodes them as ``%2A``, which Orthanc's DICOMweb
        plugin (1.x) then matches literally instead of as a wildcard.
        """

        def send(self, request, **kwargs):
            head, sep, query = (request.url or "").partition("?")
            if sep:
                request.url = head + sep + query.replace("%2A", "*").replace("%3F", "?")
            return super().send(request, **kwargs)

    return _Session


def invalid_dicom_error() -> type[Exception]:
    """pydicom's exception for bytes that are not a DICOM file (imported when needed)."""
    from pydicom.errors import InvalidDicomError

    return InvalidDicomError


def ensure_file_meta(ds: Any) -> None:
    """Make ``ds`` encode as a DICOM file (PS3.10: preamble, ``DICM``, file meta).

    dicomweb-client encodes with ``dcmwrite(..., enforce_file_format=False)``,
    which leaves the preamble out of a dataset built in memory; a server may
    store such bytes as they are and serve them back as a non-conformant
    ``application/dicom`` part that readers refuse.
    """
    pydicom = require_extra("pydicom", "imaging")
    from pydicom.uid import ExplicitVRLittleEndian

    if getattr(ds, "preamble", None) is None:
        ds.preamble = b"\x00" * 128
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta = meta
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def date_filter(value: str | dt.date) -> str:
    """A study-date query value (a date, ``YYYYMMDD``, ``YYYY-MM-DD`` or a DICOM range)."""
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    text = (
        str(value).strip().replace("-", "") if len(str(value).strip()) == 10 else str(value).strip()
    )
    if re.fullmatch(r"\d{8}(-\d{8})?|\d{8}-|-\d{8}", text) is None:
        raise InvalidInputError(
            "study_date", f"{value!r}", allowed="YYYYMMDD, YYYY-MM-DD or a range YYYYMMDD-YYYYMMDD"
        )
    for part in text.split("-"):
        if part and parse_da(part) is None:
            raise InvalidInputError(
                "study_date", f"{value!r} is not a date", allowed="a real calendar date"
            )
    return text
