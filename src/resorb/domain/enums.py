"""Classification scales used to describe a lumbar disc herniation.

Each enum is named after the scale that defines it and cites its source. Where
the reference notes could not verify a definition, the member docstring says
so: such scales are stored as ordinal codes with the published wording we could
source, never with invented cut-points.

Strings from files, the CLI and the web are turned into members with
:func:`parse_enum`, which raises :class:`~resorb.errors.InvalidFindingError`
naming the field and the allowed values.
"""

from __future__ import annotations

import re
from enum import Enum, IntEnum
from typing import Self, TypeVar

from resorb.errors import InvalidFindingError

__all__ = [
    "AxialZone",
    "CanalCompromise",
    "Containment",
    "HerniationMorphology",
    "IwabuchiType",
    "KomoriType",
    "MSUSize",
    "MSUZone",
    "Migration",
    "ModicType",
    "PLLIntegrity",
    "PfirrmannGrade",
    "RedFlag",
    "RedFlagGroup",
    "RimEnhancement",
    "SchizasGrade",
    "Sex",
    "SpinalLevel",
    "T2Signal",
    "allowed_values",
    "parse_enum",
]

E = TypeVar("E", bound=Enum)


class _Documented(Enum):
    """Enum whose members carry a definition (``member.definition``)."""

    definition: str

    def __new__(cls, value: object, definition: str = "") -> Self:
        obj = object.__new__(cls)
        obj._value_ = value
        obj.definition = definition
        return obj


class _DocumentedInt(IntEnum):
    definition: str

    def __new__(cls, value: int, definition: str = "") -> Self:
        obj = int.__new__(cls, value)
        obj._value_ = value
        obj.definition = definition
        return obj


class SpinalLevel(_Documented):
    """Lumbar disc level, named by the two vertebrae around the disc."""

    L1_L2 = ("L1-L2", "disc between the first and second lumbar vertebrae")
    L2_L3 = ("L2-L3", "disc between the second and third lumbar vertebrae")
    L3_L4 = ("L3-L4", "disc between the third and fourth lumbar vertebrae")
    L4_L5 = ("L4-L5", "disc between the fourth and fifth lumbar vertebrae")
    L5_S1 = ("L5-S1", "lumbosacral disc")


class HerniationMorphology(_Documented):
    """Disc displacement type after the Lumbar Disc Nomenclature 2.0.

    Fardon DF, Williams AL, Dohring EJ, Murtagh FR, Rothman SLG, Sze GK.
    Lumbar disc nomenclature: version 2.0. Spine J 2014;14(11):2525-45,
    doi:10.1016/j.spinee.2014.04.022. A bulge is not a herniation in 2.0; it is
    kept here because the resorption meta-analyses report it as a category.
    """

    BULGE = (
        "bulge",
        "disc tissue beyond the vertebral margins over more than 25% (90 degrees) "
        "of the circumference; not a herniation",
    )
    PROTRUSION = (
        "protrusion",
        "localised herniation whose base against the parent disc is wider than any "
        "dimension of the displaced material in the same plane",
    )
    EXTRUSION = (
        "extrusion",
        "in at least one plane the displaced material is wider than its base, or it "
        "has no continuity with the parent disc",
    )
    SEQUESTRATION = (
        "sequestration",
        "extrusion whose fragment has lost all continuity with the parent disc (free fragment)",
    )


class Containment(_Documented):
    """Whether displaced disc material is covered by outer annulus and/or PLL (Fardon 2014)."""

    CONTAINED = ("contained", "covered by outer annulus fibres and/or the PLL")
    UNCONTAINED = ("uncontained", "not covered by outer annulus or PLL")


class PLLIntegrity(_Documented):
    """Posterior longitudinal ligament over the herniation.

    Subligamentous (intact) vs transligamentous (ruptured) extrusion; Ahn SH,
    Ahn MW, Byun WM. Spine 2000;25(4):475-80.
    """

    INTACT = ("intact", "fragment beneath an intact PLL (subligamentous)")
    RUPTURED = ("ruptured", "PLL torn; fragment exposed to the epidural space (transligamentous)")


class AxialZone(_Documented):
    """Axial location of the herniation (Fardon 2014 anatomic zones)."""

    CENTRAL = ("central", "central zone of the canal (includes right/left central)")
    SUBARTICULAR = ("subarticular", "lateral recess; usually affects the traversing root")
    FORAMINAL = ("foraminal", "within the foramen; affects the exiting root")
    EXTRAFORAMINAL = ("extraforaminal", "beyond the foramen (far lateral)")


class Migration(_Documented):
    """Direction of displacement away from the site of extrusion (Fardon 2014).

    Migration describes position, regardless of continuity with the parent disc.
    """

    NONE = ("none", "no migration beyond the disc level")
    CRANIAL = ("cranial", "migrated upward from the disc level")
    CAUDAL = ("caudal", "migrated downward from the disc level")


class KomoriType(_DocumentedInt):
    """Komori migration type 1-3.

    Komori H, Shinomiya K, Nakai O, et al. The natural history of herniated
    nucleus pulposus with radiculopathy. Spine 1996;21(2):225-9, PMID 8720408.
    Three types by the degree of migration on sagittal T1 MRI; the further the
    migration, the greater the shrinkage. The published cut-points could not be
    verified (reference notes, addendum item 1), so no fraction of vertebral
    height is encoded; Chinese papers write the types as A/B/C.
    """

    TYPE_1 = (1, "least migration (Chinese papers: A); cut-point unverified")
    TYPE_2 = (2, "intermediate migration (Chinese papers: B); cut-point unverified")
    TYPE_3 = (3, "most migration (Chinese papers: C); cut-point unverified")


class MSUSize(_DocumentedInt):
    """MSU classification, size component.

    Mysliwiec LW, Cholewicki J, Winkelpleck MD, Eis GP. MSU classification for
    herniated lumbar discs on MRI. Eur Spine J 2010;19(7):1087-93,
    doi:10.1007/s00586-009-1274-4, PMID 20084410. Measured on the axial T2 slice
    of largest herniation against the intra-facet line (definitions read via a
    verbatim secondary quotation of the paper).
    """

    SIZE_1 = (1, "reaches no more than 50% of the distance to the intra-facet line")
    SIZE_2 = (2, "more than 50% of that distance but not past the intra-facet line")
    SIZE_3 = (3, "lies entirely beyond the intra-facet line")


class MSUZone(_Documented):
    """MSU classification, location component (Mysliwiec 2010, PMID 20084410).

    AB is the published straddling code; BC was not seen in the sources read and
    is accepted as a straddling code by analogy.
    """

    A = ("A", "two central quadrants of the intra-facet line")
    B = ("B", "two lateral quadrants of the intra-facet line")
    C = ("C", "beyond the medial margin of the facet joint (foraminal/far lateral)")
    AB = ("AB", "on the A/B boundary")
    BC = ("BC", "on the B/C boundary (by analogy with AB; not seen in the source)")


class RimEnhancement(_Documented):
    """Peripheral (rim) gadolinium enhancement of the fragment.

    Granulation tissue and neovascularisation around the fragment; complete rim
    = "bull's-eye" sign. Autio RA et al. Spine 2006; bull's-eye typing from the
    2025 prospective study registered as ChiCTR2400094586 (type I complete /
    II partial / III none).
    """

    NONE = ("none", "no peripheral enhancement (bull's-eye type III)")
    PARTIAL = ("partial", "enhancement over part of the rim (bull's-eye type II)")
    COMPLETE = ("complete", "enhancement around the whole fragment (bull's-eye type I)")


class IwabuchiType(_DocumentedInt):
    """Iwabuchi type 1-5 of the herniated fragment on plain MRI.

    Candidate source: Iwabuchi M et al., Fukushima J Med Sci 2010;56(2):91-97
    (not read). Types 1 and 5 favoured resorption in the Suzhou cohorts. The
    five type definitions are UNVERIFIED in the sources read, so only the
    ordinal code is stored.
    """

    TYPE_1 = (1, "Iwabuchi type 1 (definition unverified; favourable in Suzhou cohorts)")
    TYPE_2 = (2, "Iwabuchi type 2 (definition unverified)")
    TYPE_3 = (3, "Iwabuchi type 3 (definition unverified)")
    TYPE_4 = (4, "Iwabuchi type 4 (definition unverified)")
    TYPE_5 = (5, "Iwabuchi type 5 (definition unverified; favourable in Suzhou cohorts)")


class T2Signal(_Documented):
    """T2 signal of the herniated fragment relative to the parent disc/nucleus.

    High T2 signal favoured resorption (Splendiani A et al. 2004; Suzhou 2022).
    """

    LOW = ("low", "hypointense fragment")
    ISO = ("iso", "isointense fragment")
    HIGH = ("high", "hyperintense fragment")


class ModicType(_DocumentedInt):
    """Modic vertebral endplate change.

    Modic MT, Steinberg PM, Ross JS, Masaryk TJ, Carter JR. Degenerative disk
    disease: assessment of changes in vertebral body marrow with MR imaging.
    Radiology 1988;166(1 Pt 1):193-9 (citation not opened; definitions read in
    secondary sources).
    """

    TYPE_0 = (0, "no endplate signal change")
    TYPE_1 = (1, "T1 hypointense, T2 hyperintense: oedema, active inflammation")
    TYPE_2 = (2, "T1 hyperintense, T2 iso/hyperintense: fatty marrow replacement")
    TYPE_3 = (3, "T1 and T2 hypointense: subchondral sclerosis")


class PfirrmannGrade(_DocumentedInt):
    """Disc degeneration grade on sagittal T2.

    Pfirrmann CW, Metzdorf A, Zanetti M, Hodler J, Boos N. Magnetic resonance
    classification of lumbar intervertebral disc degeneration. Spine
    2001;26(17):1873-8.
    """

    I = (1, "homogeneous, bright white, normal height")  # noqa: E741
    II = (2, "inhomogeneous, hyperintense, clear nucleus-annulus distinction, normal height")
    III = (3, "inhomogeneous, grey, unclear distinction, normal to slightly reduced height")
    IV = (4, "inhomogeneous, dark grey, no distinction, normal to moderately reduced height")
    V = (5, "inhomogeneous, black, collapsed disc space")


class SchizasGrade(_Documented):
    """Dural sac morphology grade on axial T2.

    Schizas C, Theumann N, Burn A, et al. Qualitative grading of severity of
    lumbar spinal stenosis based on the morphology of the dural sac on magnetic
    resonance images. Spine 2010;35(21):1919-24. A and B: CSF visible; C and D:
    no CSF visible.
    """

    A1 = ("A1", "no or minor stenosis; rootlets dorsal, occupying less than half of the sac")
    A2 = ("A2", "no or minor stenosis; rootlets dorsal in a horseshoe")
    A3 = ("A3", "no or minor stenosis; rootlets dorsal, occupying more than half")
    A4 = ("A4", "no or minor stenosis; rootlets central, occupying most of the sac")
    B = ("B", "moderate stenosis; rootlets occupy the whole sac but are distinguishable")
    C = ("C", "severe stenosis; no rootlets recognisable, epidural fat posterior")
    D = ("D", "extreme stenosis; no rootlets and no epidural fat")


class CanalCompromise(_Documented):
    """Canal compromise at the worst axial section, in thirds.

    Mild < 1/3, moderate 1/3-2/3, severe > 2/3 of the canal. Read in an
    ASNR-derived summary of the 2001 combined-task-force nomenclature (Fardon &
    Milette, Spine 2001;26:E93-E113); not checked in the 2.0 text.
    """

    MILD = ("mild", "less than one third of the canal")
    MODERATE = ("moderate", "one third to two thirds of the canal")
    SEVERE = ("severe", "more than two thirds of the canal")

    @classmethod
    def from_percent(cls, percent: float) -> CanalCompromise:
        """Grade a canal compromise given in percent of the canal (0-100)."""
        if not 0 <= percent <= 100:
            raise InvalidFindingError(
                "canal_compromise_percent", f"{percent} is out of range", allowed="0-100"
            )
        if percent < 100 / 3:
            return cls.MILD
        if percent <= 200 / 3:
            return cls.MODERATE
        return cls.SEVERE


class Sex(_Documented):
    """Sex as recorded for the patient."""

    FEMALE = ("female", "female")
    MALE = ("male", "male")
    OTHER = ("other", "other or not stated")


class RedFlagGroup(_Documented):
    """What a red flag points to, which decides the triage pathway."""

    CAUDA_EQUINA_LATE = (
        "cauda_equina_late",
        "late sign of cauda equina syndrome (worse prognosis): emergency",
    )
    CAUDA_EQUINA_EARLY = ("cauda_equina_early", "early sign of cauda equina syndrome: emergency")
    NEUROLOGICAL = ("neurological", "deteriorating neurology: urgent surgical assessment")
    SERIOUS_PATHOLOGY = (
        "serious_pathology",
        "possible cancer, infection or fracture: investigate first",
    )


class RedFlag(Enum):
    """Findings that call for emergency or urgent assessment instead of a conservative trial.

    Cauda equina syndrome, late signs (retention, incontinence, complete saddle
    anaesthesia) and early signs (hesitancy, reduced bladder sensation,
    symptoms in both legs, sexual dysfunction, reduced anal tone): Eur Spine J
    2011;20:690-7 and the GIRFT National Suspected Cauda Equina Syndrome
    Pathway (2023). Progressive motor deficit: Acta Neurochir 2020. Serious
    spinal pathology (cancer, infection, fracture), which NICE NG59 asks to
    exclude first: Finucane et al., J Orthop Sports Phys Ther 2020;50:350-72,
    doi:10.2519/jospt.2020.9971. Each member has ``definition`` and ``group``
    (:class:`RedFlagGroup`); British spellings are accepted on input
    (``saddle_anaesthesia``, ``faecal_incontinence``).
    """

    definition: str
    group: RedFlagGroup

    def __new__(cls, value: str, definition: str, group: RedFlagGroup) -> Self:
        obj = object.__new__(cls)
        obj._value_ = value
        obj.definition = definition
        obj.group = group
        return obj

    SADDLE_ANESTHESIA = (
        "saddle_anesthesia",
        "perineal, perianal or genital (saddle) numbness",
        RedFlagGroup.CAUDA_EQUINA_LATE,
    )
    URINARY_RETENTION = (
        "urinary_retention",
        "painless retention or inability to void",
        RedFlagGroup.CAUDA_EQUINA_LATE,
    )
    FECAL_INCONTINENCE = (
        "fecal_incontinence",
        "loss of bowel control",
        RedFlagGroup.CAUDA_EQUINA_LATE,
    )
    BILATERAL_RADICULAR_SYMPTOMS = (
        "bilateral_radicular_symptoms",
        "sciatica or neurological symptoms in both legs",
        RedFlagGroup.CAUDA_EQUINA_EARLY,
    )
    URINARY_HESITANCY = (
        "urinary_hesitancy",
        "new difficulty starting to pass urine, or a poor stream",
        RedFlagGroup.CAUDA_EQUINA_EARLY,
    )
    REDUCED_BLADDER_SENSATION = (
        "reduced_bladder_sensation",
        "reduced sensation of bladder filling or of urinary flow",
        RedFlagGroup.CAUDA_EQUINA_EARLY,
    )
    SEXUAL_DYSFUNCTION = (
        "sexual_dysfunction",
        "new loss of genital sensation, erection or ejaculation",
        RedFlagGroup.CAUDA_EQUINA_EARLY,
    )
    REDUCED_ANAL_TONE = (
        "reduced_anal_tone",
        "reduced anal tone on examination",
        RedFlagGroup.CAUDA_EQUINA_EARLY,
    )
    PROGRESSIVE_MOTOR_DEFICIT = (
        "progressive_motor_deficit",
        "weakness that is getting worse",
        RedFlagGroup.NEUROLOGICAL,
    )
    CANCER_HISTORY = (
        "cancer_history",
        "current or previous cancer",
        RedFlagGroup.SERIOUS_PATHOLOGY,
    )
    UNEXPLAINED_WEIGHT_LOSS = (
        "unexplained_weight_loss",
        "weight loss without a known cause",
        RedFlagGroup.SERIOUS_PATHOLOGY,
    )
    FEVER = ("fever", "fever or feeling systemically unwell", RedFlagGroup.SERIOUS_PATHOLOGY)
    IMMUNOSUPPRESSION = (
        "immunosuppression",
        "immunosuppressed by disease or treatment",
        RedFlagGroup.SERIOUS_PATHOLOGY,
    )
    IV_DRUG_USE = ("iv_drug_use", "intravenous drug use", RedFlagGroup.SERIOUS_PATHOLOGY)
    SIGNIFICANT_TRAUMA = (
        "significant_trauma",
        "recent significant trauma (fall, accident)",
        RedFlagGroup.SERIOUS_PATHOLOGY,
    )
    OSTEOPOROSIS_OR_LONG_TERM_STEROIDS = (
        "osteoporosis_or_long_term_steroids",
        "osteoporosis or long-term corticosteroid use (fracture risk)",
        RedFlagGroup.SERIOUS_PATHOLOGY,
    )

    @property
    def cauda_equina(self) -> bool:
        """True for the early and late signs of cauda equina syndrome."""
        return self.group in (RedFlagGroup.CAUDA_EQUINA_LATE, RedFlagGroup.CAUDA_EQUINA_EARLY)


#: Other spellings accepted on input, normalised to the member (lower case, "_" for
#: spaces and hyphens). British spellings of the red flags; F/M for sex.
_ALIASES: dict[type[Enum], dict[str, Enum]] = {
    RedFlag: {
        "saddle_anaesthesia": RedFlag.SADDLE_ANESTHESIA,
        "faecal_incontinence": RedFlag.FECAL_INCONTINENCE,
        "bowel_incontinence": RedFlag.FECAL_INCONTINENCE,
        "bilateral_sciatica": RedFlag.BILATERAL_RADICULAR_SYMPTOMS,
        "osteoporosis": RedFlag.OSTEOPOROSIS_OR_LONG_TERM_STEROIDS,
        "long_term_steroids": RedFlag.OSTEOPOROSIS_OR_LONG_TERM_STEROIDS,
        "intravenous_drug_use": RedFlag.IV_DRUG_USE,
        "history_of_cancer": RedFlag.CANCER_HISTORY,
        "trauma": RedFlag.SIGNIFICANT_TRAUMA,
    },
    Sex: {"f": Sex.FEMALE, "m": Sex.MALE},
}

#: L4-5, L4/5, L4-L5, L4L5, L5/S1, and the en or em dash of word processors (L4\u20135).
_LEVEL = re.compile(r"^L([1-5])\s*[-/\u2013\u2014]?\s*(?:L?([1-5])|(S1))$")


def _alias(enum: type[Enum], text: str) -> Enum | None:
    """Member for a common spelling (L4-5, L4/5, L5/S1, F, saddle_anaesthesia), or None."""
    if enum is SpinalLevel:
        m = _LEVEL.match(text.strip().upper().replace("_", "-"))
        if m is None:
            return None
        upper = int(m.group(1))
        lower = "S1" if m.group(3) else f"L{m.group(2)}"
        name = f"L{upper}-{lower}"
        return next((member for member in SpinalLevel if member.value == name), None)
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    if enum is RedFlag:
        # "urinary retention", "Saddle-anesthesia": spaces and hyphens count as underscores.
        member = next((m for m in RedFlag if m.value == key), None)
        if member is not None:
            return member
    return _ALIASES.get(enum, {}).get(key)


def allowed_values(enum: type[Enum]) -> str:
    """Comma-separated list of the values accepted for ``enum``."""
    return ", ".join(str(m.value) for m in enum)


def parse_enum(enum: type[E], value: object, *, field: str) -> E:
    """Turn a string, number or member into a member of ``enum``.

    Matching is case-insensitive for strings and accepts the member name as
    well as its value (``"L5_S1"`` and ``"L5-S1"``), and the common clinical
    spellings: ``L4-5``, ``L4/5``, ``L5/S1`` for a level, ``F``/``M`` for sex,
    British spellings of the red flags (``saddle_anaesthesia``). Roman numerals are accepted
    for :class:`PfirrmannGrade`.

    Raises
    ------
    InvalidFindingError
        If ``value`` is not on the scale; the message lists the allowed values.
    """
    if isinstance(value, enum):
        return value
    if isinstance(value, bool):
        raise _not_on_scale(enum, value, field)
    for member in enum:
        if value == member.value:
            return member
    if isinstance(value, str):
        text = value.strip()
        for member in enum:
            if text.lower() == str(member.value).lower() or text.upper() == member.name:
                return member
        alias = _alias(enum, text)
        if alias is not None:
            return alias  # type: ignore[return-value]
        if text.lstrip("+-").isdigit():
            return parse_enum(enum, int(text), field=field)
    raise _not_on_scale(enum, value, field)


def _not_on_scale(enum: type[Enum], value: object, field: str) -> InvalidFindingError:
    return InvalidFindingError(
        field, f"{value!r} is not a valid value", allowed=allowed_values(enum)
    )
