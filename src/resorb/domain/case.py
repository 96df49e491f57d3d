"""Frozen domain objects of a clinical case: patient, symptoms, findings, MRI, therapies.

Objects are valid once built: every ``__post_init__`` checks its invariants and
raises :class:`~resorb.errors.InvalidInputError` naming the field. Untrusted
input (YAML/JSON case files) goes through :mod:`resorb.domain._schema` first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from resorb.domain.bounds import (
    check_age_years,
    check_clinical_date,
    check_diameters_mm,
    check_volume_mm3,
)
from resorb.domain.enums import (
    AxialZone,
    CanalCompromise,
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
    RedFlag,
    RimEnhancement,
    SchizasGrade,
    Sex,
    SpinalLevel,
    T2Signal,
)
from resorb.domain.instruments import (
    JoaItems,
    check_odi_answers,
    validate_nrs,
    validate_vas_mm,
)
from resorb.errors import InvalidFindingError, InvalidInputError

__all__ = [
    "Case",
    "HerniationFindings",
    "MRIStudy",
    "Patient",
    "Symptoms",
    "TherapyCourse",
]


@dataclass(frozen=True, slots=True)
class Patient:
    """Patient facts used by the models (no identifiers are stored here)."""

    age_years: int | None = None
    sex: Sex | None = None

    def __post_init__(self) -> None:
        if self.age_years is not None:
            check_age_years(self.age_years, field="patient.age_years")


@dataclass(frozen=True, slots=True)
class Symptoms:
    """Symptoms and examination findings at presentation.

    ``red_flags_recorded`` is False when the red flags were left out (a case file
    without ``symptoms.red_flags``): an empty set then means "not asked", not "none".
    """

    onset_date: dt.date | None = None
    leg_pain_nrs: float | None = None
    back_pain_nrs: float | None = None
    vas_mm: float | None = None
    odi_answers: tuple[int | None, ...] | None = None
    joa_items: JoaItems | None = None
    slr_degrees: float | None = None
    motor_mrc: int | None = None
    red_flags: frozenset[RedFlag] = frozenset()
    red_flags_recorded: bool = True

    def __post_init__(self) -> None:
        if self.onset_date is not None:
            check_clinical_date(self.onset_date, field="symptoms.onset_date", allow_future=True)
        for name in ("leg_pain_nrs", "back_pain_nrs"):
            value = getattr(self, name)
            if value is not None:
                validate_nrs(value, field=f"symptoms.{name}")
        if self.vas_mm is not None:
            validate_vas_mm(self.vas_mm, field="symptoms.vas_mm")
        if self.odi_answers is not None:
            check_odi_answers(self.odi_answers)
        if self.slr_degrees is not None and not 0 <= self.slr_degrees <= 90:
            raise InvalidInputError(
                "symptoms.slr_degrees",
                f"{self.slr_degrees} is out of range",
                allowed="0-90 degrees of hip flexion",
            )
        if self.motor_mrc is not None and self.motor_mrc not in range(6):
            raise InvalidInputError(
                "symptoms.motor_mrc", f"{self.motor_mrc} is out of range", allowed="MRC grade 0-5"
            )


@dataclass(frozen=True, slots=True)
class HerniationFindings:
    """Structured MRI findings of one herniation; only level and morphology are required."""

    level: SpinalLevel
    morphology: HerniationMorphology
    containment: Containment | None = None
    pll: PLLIntegrity | None = None
    zone: AxialZone | None = None
    migration: Migration | None = None
    komori: KomoriType | None = None
    msu_size: MSUSize | None = None
    msu_zone: MSUZone | None = None
    rim_enhancement: RimEnhancement | None = None
    iwabuchi: IwabuchiType | None = None
    t2_signal: T2Signal | None = None
    modic: ModicType | None = None
    pfirrmann: PfirrmannGrade | None = None
    schizas: SchizasGrade | None = None
    canal_compromise_percent: float | None = None

    def __post_init__(self) -> None:
        if self.canal_compromise_percent is not None:
            CanalCompromise.from_percent(self.canal_compromise_percent)
        # Fardon 2014: a sequestered fragment has lost continuity, so it cannot be contained.
        if (
            self.morphology is HerniationMorphology.SEQUESTRATION
            and self.containment is Containment.CONTAINED
        ):
            raise InvalidFindingError(
                "herniation.containment",
                "a sequestration cannot be contained",
                allowed="uncontained (or leave it out)",
            )

    @property
    def msu(self) -> str | None:
        """MSU code as written in the literature (``"2-AB"``)."""
        if self.msu_size is None:
            return None
        size = str(int(self.msu_size))
        return f"{size}-{self.msu_zone.value}" if self.msu_zone else size

    @property
    def canal_compromise(self) -> CanalCompromise | None:
        if self.canal_compromise_percent is None:
            return None
        return CanalCompromise.from_percent(self.canal_compromise_percent)


@dataclass(frozen=True, slots=True)
class MRIStudy:
    """One MRI examination and how the herniation was measured on it.

    Exactly one of ``volume_mm3``, ``mask`` or ``diameters_mm`` is given.
    ``mask`` is a path (resolved against the case file's folder) to a label
    image measured by :mod:`resorb.imaging`.
    """

    date: dt.date
    volume_mm3: float | None = None
    mask: Path | None = None
    label: int | None = None
    diameters_mm: tuple[float, float, float] | None = None
    index: int = 0

    def __post_init__(self) -> None:
        where = f"mri[{self.index}]"
        given = [n for n in ("volume_mm3", "mask", "diameters_mm") if getattr(self, n) is not None]
        if len(given) != 1:
            raise InvalidInputError(
                where,
                f"gives {', '.join(given) or 'no measurement'}",
                allowed="exactly one of volume_mm3, mask, diameters_mm",
            )
        check_clinical_date(self.date, field=f"{where}.date", allow_future=True)
        if self.volume_mm3 is not None:
            check_volume_mm3(self.volume_mm3, field=f"{where}.volume_mm3")
        if self.diameters_mm is not None:
            check_diameters_mm(self.diameters_mm, field=f"{where}.diameters_mm")
        if self.label is not None and self.mask is None:
            raise InvalidInputError(
                f"{where}.label", "given without a mask", allowed="label only with mask"
            )
        if self.label is not None and self.label < 1:
            raise InvalidInputError(f"{where}.label", f"{self.label}", allowed="an integer >= 1")


@dataclass(frozen=True, slots=True)
class TherapyCourse:
    """A conservative therapy given to the patient, by catalogue name."""

    name: str
    start: dt.date | None = None
    end: dt.date | None = None
    index: int = 0

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                check_clinical_date(
                    value, field=f"therapies[{self.index}].{name}", allow_future=True
                )
        if self.start and self.end and self.end < self.start:
            raise InvalidInputError(
                f"therapies[{self.index}].end",
                f"{self.end} is before the start {self.start}",
                allowed="an end date on or after the start",
            )


@dataclass(frozen=True, slots=True)
class Case:
    """A clinical case: the unit ``resorb assess`` works on."""

    herniation: HerniationFindings
    patient: Patient = field(default_factory=Patient)
    symptoms: Symptoms = field(default_factory=Symptoms)
    mri: tuple[MRIStudy, ...] = ()
    therapies: tuple[TherapyCourse, ...] = ()
    base_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.mri:
            baseline = self.mri[0].date
            for i, study in enumerate(self.mri[1:], start=1):
                if study.date < baseline:
                    raise InvalidInputError(
                        f"mri[{i}].date",
                        f"{study.date} is before the baseline MRI {baseline}",
                        allowed="follow-up MRI dated on or after the first (baseline) MRI",
                    )
                if study.date < self.mri[i - 1].date:
                    raise InvalidInputError(
                        f"mri[{i}].date",
                        f"{study.date} is before mri[{i - 1}] ({self.mri[i - 1].date})",
                        allowed="MRI listed in date order",
                    )

    @classmethod
    def from_dict(
        cls, data: object, *, base_dir: Path | None = None, today: dt.date | None = None
    ) -> Case:
        """Validate a parsed case file (dict) and build the case."""
        from resorb.domain._schema import case_from_dict

        return case_from_dict(data, base_dir=base_dir, today=today)

    @classmethod
    def from_yaml(
        cls, text: str, *, base_dir: Path | None = None, today: dt.date | None = None
    ) -> Case:
        """Parse YAML (or JSON, which is YAML) text into a case."""
        from resorb.domain._schema import load_yaml_text

        return cls.from_dict(load_yaml_text(text), base_dir=base_dir, today=today)

    @classmethod
    def from_file(cls, path: str | Path, *, today: dt.date | None = None) -> Case:
        """Read a ``.yaml``, ``.yml`` or ``.json`` case file."""
        from resorb.domain._schema import read_case_file

        return read_case_file(Path(path), today=today)
