"""DICOM de-identification after PS3.15 Annex E that keeps the objects valid.

The Basic Application Level Confidentiality Profile is applied to the
attributes of Table E.1-1 (edition in :data:`TABLE_EDITION`, kept as data in
``data/ps3_15_basic_profile.yaml``) with two options:

- **Retain Longitudinal Temporal Information with Modified Dates** (E.3.6):
  serial MRI are only useful for resorption with their intervals, so every
  date (DA) and the date part of every date-time (DT) is shifted by one secret
  per-patient offset instead of being emptied or removed. The patient's birth
  date is not a date of the care being followed: it is emptied (Z), never
  shifted.
- **Clean Descriptors** (E.3.5, on by default): free-text labels and
  descriptions that may name the patient or the reader are replaced by coded
  values or removed (segment label -> the meaning of the segmented property
  type; content label -> a fixed label; segment, series and study
  descriptions, image comments removed); overlays are removed whole.

What :func:`deidentify` does, recursively through sequences:

- a **compound action** (Z/D, X/Z, X/D, X/Z/D) takes the option that keeps the
  object valid: D for an attribute of Type 1 in the object's IOD, Z for Type 2,
  X otherwise (``data/deid_iod_types.yaml``; PS3.15 E.3.1);
- ``X/Z/U*`` (Referenced Image Sequence, Source Image Sequence): kept, with the
  UIDs inside replaced through the same map (the U* alternative), so that a
  de-identified SEG still points at its de-identified source images;
- ``D`` on the SR **Content Sequence** (and the Verifying Observer Sequence)
  keeps the items and cleans them: codes, numbers, spatial coordinates and the
  tree structure stay, text values (TEXT) and person names (PNAME) are
  replaced by dummies, dates shifted, UIDs (UIDREF, image and composite
  references) remapped; other sequences with D are emptied;
- ``U``: the UID is replaced by ``2.25.<decimal>`` derived from a keyed hash
  (HMAC-SHA-256) of the old UID with the map's secret key, so the same key
  (one per registry) gives the same new UID in every import, and objects
  imported separately still reference each other;
- private attributes, curves (50xx) and overlays (60xx) are removed; in the
  file meta the application entity titles and private information
  (Source/Sending/Receiving Application Entity Title, Private Information
  Creator UID, Private Information) are removed;
- a dataset whose ``BurnedInAnnotation`` is anything but ``NO`` (``YES``,
  ``Y``, ``TRUE``, lower case ...), or a secondary capture that does not say,
  is refused: identifiers in the pixels cannot be removed from the header
  (the Clean Pixel Data option is not implemented).

The result is marked ``PatientIdentityRemoved = YES`` with
``DeidentificationMethod``, the CID 7050 codes of the profile and options
(``DeidentificationMethodCodeSequence``) and
``LongitudinalTemporalInformationModified = MODIFIED``. pydicom's warnings
about odd values (which quote the values) are suppressed; refusals name the
attribute, never its value.

References
----------
DICOM PS3.15 Annex E "Attribute Confidentiality Profiles", Table E.1-1,
E.3.1 (compound actions), E.3.5 (Clean Descriptors Option) and E.3.6 (Retain
Longitudinal Temporal Information Options); PS3.16 CID 7050.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from resorb._quiet import silenced_libraries
from resorb.errors import ImagingError, InvalidInputError, require_extra
from resorb.interop._deid_rules import (
    CLEAN_DESCRIPTORS,
    FILE_META_REMOVED,
    ProfileEntry,
    profile_table,
    repeating_action,
    resolve_action,
    table_edition,
)

__all__ = [
    "DEIDENTIFICATION_CODES",
    "TABLE_EDITION",
    "ProfileEntry",
    "UIDMap",
    "basic_profile",
    "deidentify",
    "is_new_uid",
    "shift_da",
    "shift_dt",
]

#: CID 7050 "De-identification Method" codes written into the result (scheme DCM).
DEIDENTIFICATION_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)
_CLEAN_DESCRIPTORS_CODE = ("113105", "Clean Descriptors Option")
#: Edition of DICOM PS3.15 whose Table E.1-1 is applied.
TABLE_EDITION = table_edition()

_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_DATE_VRS = ("DA", "DT")
_PATIENT_BIRTH_DATE = 0x00100030
_TEXT_VALUE = 0x0040A160
_DUMMY_TEXT = "REMOVED"
#: Sequences with action D whose items are kept and cleaned rather than dropped: the SR
#: Content Sequence (TEXT, PNAME, DATE, UIDREF items are handled by their own rows) and
#: the Verifying Observer Sequence (every attribute of its items is in the table).
_CLEANED_SEQUENCES = (0x0040A730, 0x0040A073)
#: Type 1C attributes kept (D) whose condition is an attribute the profile removes: they
#: go with it, or the object is invalid (Clinical Trial Subject module: the ethics
#: committee's name is required only if its approval number is present).
_REMOVED_WITH = {0x00120081: 0x00120082}


def basic_profile() -> dict[int, ProfileEntry]:
    """Table E.1-1 as ``{tag: ProfileEntry}`` (a copy; the table is cached)."""
    return dict(profile_table())


@dataclass
class UIDMap:
    """Old UID -> new UID: a keyed hash, the same for the same key in every run.

    New UIDs are ``2.25.`` followed by the decimal form of a UUID whose 128
    bits come from HMAC-SHA-256 of the old UID under ``key`` (PS3.5 B.2), so
    they reveal nothing of the old ones without the key. Without a key a
    random one is drawn: UIDs are then consistent within this map only.
    """

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    mapping: dict[str, str] = field(default_factory=dict, repr=False)

    def __call__(self, uid: str) -> str:
        uid = str(uid).strip().rstrip("\0")
        if not uid:
            return uid
        new = self.mapping.get(uid)
        if new is None:
            digest = hmac.new(self.key, uid.encode("ascii", "replace"), hashlib.sha256).digest()
            new = f"2.25.{uuid.UUID(bytes=digest[:16], version=4).int}"
            self.mapping[uid] = new
        return new


def shift_da(value: str, offset_days: int) -> str:
    """Shift a DA value (``YYYYMMDD``) by ``offset_days``; unparseable values become empty."""
    text = str(value).strip()
    if not text:
        return ""
    try:
        d = dt.datetime.strptime(text[:8], "%Y%m%d").date()
        return (d + dt.timedelta(days=offset_days)).strftime("%Y%m%d")
    except (ValueError, OverflowError):
        return ""


def shift_dt(value: str, offset_days: int) -> str:
    """Shift the date part of a DT value; the time and zone parts are kept."""
    text = str(value).strip()
    if len(text) < 8:
        return ""
    date = shift_da(text[:8], offset_days)
    return date + text[8:] if date else ""


def _shift(elem, offset_days: int) -> None:
    fn = shift_da if elem.VR == "DA" else shift_dt
    if elem.VM > 1:
        elem.value = [fn(v, offset_days) for v in elem.value]
    elif elem.value not in (None, ""):
        elem.value = fn(elem.value, offset_days)


def _empty(elem) -> None:
    if elem.VR == "SQ":
        elem.value = []
    else:
        elem.value = None if elem.VR not in ("PN",) else ""


_DUMMIES = {
    "PN": "ANONYMOUS",
    "TM": "000000",
    "AS": "000Y",
    "AE": "REMOVED",
    "IS": "0",
    "DS": "0",
    "CS": "REMOVED",
}


def _dummy(elem, uid_map: UIDMap, offset_days: int) -> None:
    vr = elem.VR
    if vr in _DATE_VRS:
        _shift(elem, offset_days)
    elif vr == "UI":
        _remap_uid(elem, uid_map)
    elif vr in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
        elem.value = 0
    elif vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        elem.value = b"\x00\x00"
    else:
        elem.value = _DUMMIES.get(vr, _DUMMY_TEXT)


def _remap_uid(elem, uid_map: UIDMap) -> None:
    if elem.value in (None, ""):
        return
    if elem.VM > 1:
        elem.value = [uid_map(v) for v in elem.value]
    else:
        elem.value = uid_map(elem.value)


def _is_curve_or_overlay(tag: int) -> bool:
    group = tag >> 16
    return group % 2 == 0 and (group & 0xFF00) in (0x5000, 0x6000)


def _clean_descriptor(ds, elem, how: str) -> None:
    if how == "X":
        del ds[elem.tag]
    elif how == "Z":
        _empty(elem)
    elif how == "SegmentLabel":
        prop = ds.get("SegmentedPropertyTypeCodeSequence")
        meaning = str(prop[0].CodeMeaning) if prop and "CodeMeaning" in prop[0] else ""
        elem.value = meaning[:64] or "segment"
    elif how == "ContentLabel":
        elem.value = "DEIDENTIFIED"


def _apply(ds, elem, action: str, ctx: _Context) -> None:
    if action == "X":
        del ds[elem.tag]
    elif action == "Z":
        _empty(elem)
    elif elem.VR == "SQ" and (action == "X/Z/U*" or int(elem.tag) in _CLEANED_SEQUENCES):
        # U*: keep the references with the UIDs of the referenced instances replaced.
        # D on the SR content tree or the verifying observer: keep the items, cleaned.
        for item in elem.value:
            _clean(item, ctx, sop_class=None)
    elif elem.VR == "SQ" and action == "D":
        elem.value = []
    elif action == "D":
        _dummy(elem, ctx.uid_map, ctx.offset_days)
    elif action in ("U", "X/Z/U*"):
        _remap_uid(elem, ctx.uid_map)


@dataclass
class _Context:
    uid_map: UIDMap
    offset_days: int
    clean_descriptors: bool


def _clean(ds, ctx: _Context, *, sop_class: str | None) -> None:
    table = profile_table()
    ds.remove_private_tags()
    for elem in list(ds):
        tag = int(elem.tag)
        if _is_curve_or_overlay(tag) or repeating_action(tag) == "X":
            del ds[elem.tag]
            continue
        try:
            if ctx.clean_descriptors and tag in CLEAN_DESCRIPTORS:
                _clean_descriptor(ds, elem, CLEAN_DESCRIPTORS[tag])
                continue
            if tag == _PATIENT_BIRTH_DATE:
                _empty(elem)  # Z: emptied, not shifted (not a date of the care followed)
                continue
            if tag == _TEXT_VALUE:  # an SR TEXT content item: the value goes, the item stays
                elem.value = _DUMMY_TEXT
                continue
            entry = table.get(tag)
            if entry is None:
                if elem.VR in _DATE_VRS:  # the Modified Dates option applies to all dates
                    _shift(elem, ctx.offset_days)
                elif elem.VR == "SQ":
                    for item in elem.value:
                        _clean(item, ctx, sop_class=None)
                continue
            if elem.VR in _DATE_VRS and entry.action != "X":  # Modified Dates option
                _shift(elem, ctx.offset_days)
                continue
            _apply(ds, elem, resolve_action(entry.action, entry.keyword, sop_class), ctx)
        except (ValueError, TypeError, AttributeError, OverflowError):
            # A value pydicom cannot parse: removed rather than kept (never quoted).
            if elem.tag in ds:
                del ds[elem.tag]
    for tag, condition in _REMOVED_WITH.items():
        if tag in ds and condition not in ds:
            del ds[tag]


def _check_burned_in(ds) -> None:
    flag = str(getattr(ds, "BurnedInAnnotation", "") or "").strip().upper()
    sop = str(getattr(ds, "SOPClassUID", ""))
    if flag and flag != "NO":
        raise ImagingError(
            "BurnedInAnnotation is not NO: identifiers may be burned into the "
            "pixels, which header de-identification cannot remove; allowed: "
            "images whose BurnedInAnnotation is NO"
        )
    if not flag and sop.startswith(_SECONDARY_CAPTURE_PREFIX):
        raise ImagingError(
            "a secondary capture without BurnedInAnnotation may carry "
            "burned-in identifiers; allowed: images whose BurnedInAnnotation "
            "is NO"
        )


def deidentify(
    ds: Any,
    *,
    offset_days: int,
    uid_map: UIDMap | None = None,
    method_text: str | None = None,
    clean_descriptors: bool = True,
) -> Any:
    """A de-identified copy of a pydicom ``Dataset`` (the input is not changed).

    Parameters
    ----------
    ds : pydicom.Dataset
        The dataset (with or without ``file_meta``).
    offset_days : int, keyword-only
        The patient's date shift in days (non-zero; the same for every study
        of a patient so that intervals are kept).
    uid_map : UIDMap, keyword-only, optional
        The UID map; give one made with the registry's key so that objects
        de-identified in separate runs keep referencing each other.
    method_text : str, keyword-only, optional
        Text for ``DeidentificationMethod``.
    clean_descriptors : bool, keyword-only
        Apply the Clean Descriptors Option (default True).

    Returns
    -------
    pydicom.Dataset

    Raises
    ------
    ImagingError
        For burned-in annotation (see the module notes).
    InvalidInputError
        For an offset of 0 (dates would keep their original values).
    """
    pydicom = require_extra("pydicom", "imaging")
    if isinstance(offset_days, bool) or not isinstance(offset_days, int) or offset_days == 0:
        raise InvalidInputError(
            "offset_days", f"{offset_days!r}", allowed="a non-zero whole number of days"
        )
    _check_burned_in(ds)
    ctx = _Context(
        uid_map=uid_map if uid_map is not None else UIDMap(),
        offset_days=offset_days,
        clean_descriptors=clean_descriptors,
    )
    with silenced_libraries():  # pydicom's value warnings and log messages quote values
        out = copy.deepcopy(ds)
        _clean(out, ctx, sop_class=str(getattr(out, "SOPClassUID", "") or "") or None)
        meta = getattr(out, "file_meta", None)
        if meta is not None:
            for tag in FILE_META_REMOVED:
                if tag in meta:
                    del meta[tag]
            if "MediaStorageSOPInstanceUID" in meta:
                meta.MediaStorageSOPInstanceUID = ctx.uid_map(meta.MediaStorageSOPInstanceUID)
        out.PatientIdentityRemoved = "YES"
        codes = [*DEIDENTIFICATION_CODES, *([_CLEAN_DESCRIPTORS_CODE] if clean_descriptors else [])]
        # LO: at most 64 characters; the codes below carry the full names.
        out.DeidentificationMethod = method_text or (
            "resorb: PS3.15 Basic Profile, Modified Dates"
            + (", Clean Descriptors" if clean_descriptors else "")
        )
        items = []
        for value, meaning in codes:
            item = pydicom.Dataset()
            item.CodeValue = value
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        out.DeidentificationMethodCodeSequence = pydicom.Sequence(items)
        out.LongitudinalTemporalInformationModified = "MODIFIED"
    return out


_UID_RE = re.compile(r"^[0-9.]+$")


def is_new_uid(uid: str) -> bool:
    """True for a UID made by :class:`UIDMap` (``2.25.<decimal>``)."""
    return bool(_UID_RE.match(uid)) and uid.startswith("2.25.")
