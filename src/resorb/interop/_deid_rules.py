"""The rules of :mod:`resorb.interop.deid` as data: Table E.1-1 and the IOD types.

``data/ps3_15_basic_profile.yaml`` holds the Basic Profile action of each
attribute (PS3.15 Table E.1-1); ``data/deid_iod_types.yaml`` the attributes with a
compound action that are Type 1 or 2 in the IODs resorb handles, which decide
the option of a compound action. :func:`resolve_action` turns both into the one
action applied to an attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = [
    "CLEAN_DESCRIPTORS",
    "FILE_META_REMOVED",
    "ProfileEntry",
    "profile_table",
    "repeating_action",
    "resolve_action",
    "table_edition",
]


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One row of Table E.1-1: the attribute and its Basic Profile action."""

    tag: int
    keyword: str
    action: str


#: File meta attributes removed (PS3.10 7.1: they name the sending and receiving
#: application entities, or carry private information, none of it needed to read the file).
FILE_META_REMOVED = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)

#: Free-text descriptors handled by the Clean Descriptors Option (PS3.15 E.3.5) in the
#: objects resorb stores, with what replaces each: "X" remove, "Z" empty, or a
#: keyword-specific coded value (see resorb.interop.deid).
CLEAN_DESCRIPTORS = {
    0x00620005: "SegmentLabel",  # Type 1: the segmented property type's meaning
    0x00620006: "X",  # Segment Description (Type 3)
    0x00700080: "ContentLabel",  # Type 1 (CS): a fixed label
    0x00700081: "Z",  # Content Description (Type 2)
    0x0008103E: "X",  # Series Description
    0x00081030: "X",  # Study Description
    0x00204000: "X",  # Image Comments
    0x00189424: "X",  # Acquisition Protocol Description
}


def _read_yaml(name: str):
    import yaml

    text = resources.files("resorb.interop").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def _profile() -> tuple[dict[int, ProfileEntry], tuple[tuple[int, int, str], ...], str]:
    raw = _read_yaml("ps3_15_basic_profile.yaml")
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
    return table, tuple(masks), str(raw["edition"])


@lru_cache(maxsize=1)
def _iod_types() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for iod in _read_yaml("deid_iod_types.yaml")["iods"]:
        types = {kw: 1 for kw in iod.get("type1") or []}
        types.update({kw: 2 for kw in iod.get("type2") or []})
        for sop in iod["sop_classes"]:
            out[str(sop)] = types
    return out


def profile_table() -> dict[int, ProfileEntry]:
    """Table E.1-1 as ``{tag: ProfileEntry}`` (the cached table itself: do not modify)."""
    return _profile()[0]


def table_edition() -> str:
    """Edition of the DICOM standard the table was taken from (e.g. ``"2024b"``)."""
    return _profile()[2]


def repeating_action(tag: int) -> str | None:
    """Action of a repeating-group attribute (curves 50xx, overlays 60xx), else None."""
    for mask, value, action in _profile()[1]:
        if tag & mask == value and (tag >> 16) % 2 == 0:
            return action
    return None


def resolve_action(action: str, keyword: str, sop_class: str | None) -> str:
    """The single action (D, Z, X, U or X/Z/U*) applied for a table action.

    A compound action takes D when the attribute is Type 1 in the object's IOD,
    Z when Type 2 and X otherwise (Z for Z/D, which has no X). ``sop_class`` is
    None inside sequences, where the IOD types of the top level do not apply.
    """
    if "/" not in action or action == "X/Z/U*":
        return action
    options = action.split("/")
    kind = _iod_types().get(sop_class or "", {}).get(keyword) if sop_class else None
    if kind == 1:
        return "D" if "D" in options else "Z"
    if kind == 2:
        return "Z" if "Z" in options else "D"
    return "X" if "X" in options else options[0]
