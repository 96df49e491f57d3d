"""DICOM de-identification after PS3.15 Annex E (Basic Application Level Confidentiality Profile).

The profile's actions are applied to the attributes of Table E.1-1, which is
kept as data in ``data/ps3_15_basic_profile.yaml`` (tag, keyword, action),
together with one option, **Retain Longitudinal Temporal Information with
Modified Dates**: serial MRI are only useful for resorption with their
intervals, so every date (DA) and the date part of every date-time (DT) is
shifted by one secret per-patient offset instead of being emptied or removed.

What :func:`deidentify` does, recursively through sequences:

- ``X``: remove the attribute (compound ``X/Z``, ``X/D``, ``X/Z/D``: remove, the
  first action of the code); dates under a compound code are shifted;
- ``X/Z/U*`` (Referenced Image Sequence, Source Image Sequence): kept, with the
  UIDs inside replaced through the same map (the U* alternative), so that a
  de-identified SEG still points at its de-identified source images;
- ``Z``: empty it (``Z/D`` likewise); dates are shifted;
- ``D``: replace with a dummy of the VR (dates shifted, UIDs remapped);
- ``U``: replace the UID with a new ``2.25.`` UID, the same new UID for the same
  old UID everywhere in one :class:`UIDMap` (so references stay consistent);
- private attributes and the repeating curve/overlay groups: removed;
- dates and date-times outside the table are shifted as well (the option
  applies to all dates);
- a dataset whose ``BurnedInAnnotation`` is ``YES`` (or a secondary capture
  that does not say) is refused: identifiers in the pixels cannot be removed
  from the header (the Clean Pixel Data option is not implemented).

The result is marked ``PatientIdentityRemoved = YES`` with
``DeidentificationMethod`` and the CID 7050 codes of the profile and option
(``DeidentificationMethodCodeSequence``), and
``LongitudinalTemporalInformationModified = MODIFIED``.

References
----------
DICOM PS3.15 2023, Annex E "Attribute Confidentiality Profiles", Table E.1-1
and section E.3.6 (Retain Longitudinal Temporal Information Options).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from resorb.errors import ImagingError, InvalidInputError, require_extra

__all__ = [
    "DEIDENTIFICATION_CODES",
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

_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_DATE_VRS = ("DA", "DT")


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One row of Table E.1-1: the attribute and its Basic Profile action."""

    tag: int
    keyword: str
    action: str


@lru_cache(maxsize=1)
def _profile_data() -> tuple[dict[int, ProfileEntry], tuple[tuple[int, int, str], ...]]:
    import yaml

    text = resources.files("resorb.interop").joinpath("data/ps3_15_basic_profile.yaml") \
        .read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    table = {}
    for row in raw["attributes"]:
        tag = int(row["tag"], 16)
        table[tag] = ProfileEntry(tag=tag, keyword=row["keyword"], action=row["action"])
    masks = []
    for row in raw.get("repeating", []):
        pattern = row["mask"]
        value = int(pattern.replace("x", "0"), 16)
        mask = int("".join("0" if c == "x" else "F" for c in pattern), 16)
        masks.append((mask, value, row["action"]))
    return table, tuple(masks)


def basic_profile() -> dict[int, ProfileEntry]:
    """Table E.1-1 as ``{tag: ProfileEntry}`` (a copy; the table is cached)."""
    return dict(_profile_data()[0])


@dataclass
class UIDMap:
    """Old UID -> new UID, consistent within one de-identification run.

    New UIDs are ``2.25.`` followed by the decimal form of a random UUID
    (PS3.5 B.2), so they reveal nothing of the old ones.
    """

    mapping: dict[str, str] = field(default_factory=dict)

    def __call__(self, uid: str) -> str:
        uid = str(uid).strip()
        if not uid:
            return uid
        new = self.mapping.get(uid)
        if new is None:
            new = f"2.25.{uuid.uuid4().int}"
            self.mapping[uid] = new
        return new


def shift_da(value: str, offset_days: int) -> str:
    """Shift a DA value (``YYYYMMDD``) by ``offset_days``; unparseable values become empty."""
    text = str(value).strip()
    if not text:
        return ""
    try:
        d = dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (d + dt.timedelta(days=offset_days)).strftime("%Y%m%d")


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


_DUMMY_TEXT = "REMOVED"


def _dummy(elem, uid_map: UIDMap, offset_days: int) -> None:
    vr = elem.VR
    if vr in _DATE_VRS:
        _shift(elem, offset_days)
    elif vr == "UI":
        _remap_uid(elem, uid_map)
    elif vr == "SQ":
        elem.value = []
    elif vr == "PN":
        elem.value = "ANONYMOUS"
    elif vr == "TM":
        elem.value = "000000"
    elif vr in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
        elem.value = 0
    elif vr in ("IS", "DS"):
        elem.value = "0"
    elif vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        elem.value = b"\x00\x00"
    elif vr == "AS":
        elem.value = "000Y"
    elif vr == "AE":
        elem.value = "REMOVED"
    else:
        elem.value = _DUMMY_TEXT


def _remap_uid(elem, uid_map: UIDMap) -> None:
    if elem.value in (None, ""):
        return
    if elem.VM > 1:
        elem.value = [uid_map(v) for v in elem.value]
    else:
        elem.value = uid_map(elem.value)


def _repeating_action(tag: int) -> str | None:
    for mask, value, action in _profile_data()[1]:
        if tag & mask == value and (tag >> 16) % 2 == 0:
            return action
    return None


def _clean(ds, uid_map: UIDMap, offset_days: int) -> None:
    table = _profile_data()[0]
    ds.remove_private_tags()
    for elem in list(ds):
        tag = int(elem.tag)
        if _repeating_action(tag) == "X":
            del ds[elem.tag]
            continue
        entry = table.get(tag)
        action = entry.action if entry else "K"
        first = action.split("/")[0]
        if elem.VR in _DATE_VRS and action != "X":  # Modified Dates option
            _shift(elem, offset_days)
        elif action == "X/Z/U*" and elem.VR == "SQ":
            # U*: keep the references, with the UIDs of the referenced instances replaced
            # (the same map as the instances themselves), so a SEG stays linked to its images.
            for item in elem.value:
                _clean(item, uid_map, offset_days)
        elif first == "X":
            del ds[elem.tag]
        elif first == "Z":
            _empty(elem)
        elif first == "D":
            _dummy(elem, uid_map, offset_days)
        elif first == "U":
            _remap_uid(elem, uid_map)
        elif elem.VR == "SQ":
            for item in elem.value:
                _clean(item, uid_map, offset_days)


def _check_burned_in(ds) -> None:
    flag = str(getattr(ds, "BurnedInAnnotation", "")).strip().upper()
    sop = str(getattr(ds, "SOPClassUID", ""))
    if flag == "YES":
        raise ImagingError("BurnedInAnnotation is YES: identifiers may be burned into the "
                           "pixels, which header de-identification cannot remove; "
                           "allowed: images without burned-in annotation")
    if not flag and sop.startswith(_SECONDARY_CAPTURE_PREFIX):
        raise ImagingError("a secondary capture without BurnedInAnnotation may carry "
                           "burned-in identifiers; allowed: images whose BurnedInAnnotation "
                           "is NO")


def deidentify(ds: Any, *, offset_days: int, uid_map: UIDMap | None = None,
               method_text: str | None = None) -> Any:
    """A de-identified copy of a pydicom ``Dataset`` (the input is not changed).

    Parameters
    ----------
    ds : pydicom.Dataset
        The dataset (with or without ``file_meta``).
    offset_days : int, keyword-only
        The patient's date shift in days (non-zero; the same for every study
        of a patient so that intervals are kept).
    uid_map : UIDMap, keyword-only, optional
        Share one map across the files of an import to keep UIDs consistent
        (a SEG's references to its source series stay valid).
    method_text : str, keyword-only, optional
        Text for ``DeidentificationMethod``.

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
        raise InvalidInputError("offset_days", f"{offset_days!r}",
                                allowed="a non-zero whole number of days")
    _check_burned_in(ds)
    uid_map = uid_map if uid_map is not None else UIDMap()
    out = copy.deepcopy(ds)
    _clean(out, uid_map, offset_days)
    meta = getattr(out, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = uid_map(meta.MediaStorageSOPInstanceUID)
    out.PatientIdentityRemoved = "YES"
    # LO: at most 64 characters; the codes below carry the full names.
    out.DeidentificationMethod = method_text or "resorb: PS3.15 E Basic Profile, Modified Dates"
    codes = []
    for value, meaning in DEIDENTIFICATION_CODES:
        item = pydicom.Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        codes.append(item)
    out.DeidentificationMethodCodeSequence = pydicom.Sequence(codes)
    out.LongitudinalTemporalInformationModified = "MODIFIED"
    return out


_UID_RE = re.compile(r"^[0-9.]+$")


def is_new_uid(uid: str) -> bool:
    """True for a UID made by :class:`UIDMap` (``2.25.<decimal>``)."""
    return bool(_UID_RE.match(uid)) and uid.startswith("2.25.")
