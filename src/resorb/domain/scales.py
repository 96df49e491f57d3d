"""The herniation findings: which scale each is read on and what clinicians call it.

One table, used wherever findings are read, stored, coded or shown: case
files (:mod:`resorb.domain`), the registry's input schemas, cohort coding,
the web forms and the assessment report. The keys are the attributes of
:class:`~resorb.domain.HerniationFindings` (and the case-file keys, except
that a case file writes MSU size and zone together as ``msu: "2-AB"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from resorb.domain.enums import (
    AxialZone,
    Containment,
    HerniationMorphology,
    IwabuchiType,
    KomoriType,
    Migration,
    ModicType,
    MSUSize,
    MSUZone,
    PfirrmannGrade,
    PLLIntegrity,
    RimEnhancement,
    SchizasGrade,
    SpinalLevel,
    T2Signal,
)

__all__ = ["FINDING_ENUMS", "FINDING_LABELS", "FINDING_SCALES", "FindingScale", "finding_scale"]


@dataclass(frozen=True, slots=True)
class FindingScale:
    """One finding: its key, the label shown to clinicians, its scale, whether required."""

    key: str
    label: str
    scale: type[Enum]
    required: bool = False


#: Every herniation finding with its scale, in the order forms and reports list them.
FINDING_SCALES: tuple[FindingScale, ...] = (
    FindingScale("level", "Level", SpinalLevel, required=True),
    FindingScale("morphology", "Morphology (Fardon 2014)", HerniationMorphology, required=True),
    FindingScale("containment", "Containment", Containment),
    FindingScale("pll", "Posterior longitudinal ligament", PLLIntegrity),
    FindingScale("zone", "Axial zone", AxialZone),
    FindingScale("migration", "Migration", Migration),
    FindingScale("komori", "Komori type", KomoriType),
    FindingScale("msu_size", "MSU size", MSUSize),
    FindingScale("msu_zone", "MSU zone", MSUZone),
    FindingScale("rim_enhancement", "Rim enhancement", RimEnhancement),
    FindingScale("iwabuchi", "Iwabuchi type", IwabuchiType),
    FindingScale("t2_signal", "T2 signal of the fragment", T2Signal),
    FindingScale("modic", "Modic change", ModicType),
    FindingScale("pfirrmann", "Pfirrmann grade", PfirrmannGrade),
    FindingScale("schizas", "Schizas grade", SchizasGrade),
)

#: Finding key -> scale (enum class).
FINDING_ENUMS: Mapping[str, type[Enum]] = MappingProxyType({f.key: f.scale for f in FINDING_SCALES})

#: Finding key -> label shown to clinicians.
FINDING_LABELS: Mapping[str, str] = MappingProxyType({f.key: f.label for f in FINDING_SCALES})


def finding_scale(key: str) -> FindingScale:
    """The entry of :data:`FINDING_SCALES` for ``key`` (``KeyError`` if there is none)."""
    for f in FINDING_SCALES:
        if f.key == key:
            return f
    raise KeyError(key)
