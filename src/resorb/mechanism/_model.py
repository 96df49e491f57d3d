"""The declarative model: states, parameters with units, priors and sources, rate laws.

The definition lives in data files (``data/model.yaml`` for the biology,
``data/therapies.yaml`` for therapy pharmacokinetics and pharmacodynamics) and
is turned here into one immutable :class:`Model`. Every simulator and the SBML
export are generated from a :class:`Model`; nothing else holds an equation.

Two variants of the same model are offered:

``"reduced"``
    fast mediators (cytokines, chemokine, MMPs, VEGF: relaxation rates 4-20 per
    day at the defaults; TIMPs about 2 per day; tissue monocytes about 1.2 per
    day, k_mat + d_0) are quasi-steady: each equals its target, evaluated in
    order. This removes the stiffness (mechanisms.md §1.2, §4.1) and is the
    default. The slowest of them (monocytes, TIMPs) are only a few times faster
    than macrophage turnover (0.15-0.2 per day), so the reduction is an
    approximation; a test bounds its error against the full model.
``"full"``
    each fast mediator is a state relaxing to its target,
    ``dm/dt = rate * (target - m)``; used to check the reduction.

Processes are declared once, as reactions (``reactions`` in ``model.yaml``);
each state's rate law is derived from them, and the SBML export writes them as
SBML reactions.

A herniation can grow: nucleus material left in the parent disc (state ``Q``)
keeps extruding into a herniation still connected to it (``k_ext``,
``q_ext``), while the immune machinery clears it. What the model does not
contain: age (the review and Autio 2006 report faster resorption at 41-50
years, mechanisms.md §3.4, but no parameter depends on age), early hydration
swelling of the fragment, and repeated dosing.

Parameter values: ``data/model.yaml`` holds the prior centres and the fixed
values; ``data/calibrated.yaml`` holds the posterior medians of the
preregistered fit (``resorb model calibrate --fit``), applied by
``load_model(calibrated=True)``; ``load_model(calibrated=False)`` gives the
values written in ``model.yaml``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from resorb.errors import InvalidInputError, ModelError
from resorb.mechanism._expr import Expression, parse_expression

__all__ = [
    "CONFIDENCE_TAGS",
    "VARIANTS",
    "Mediator",
    "Model",
    "Parameter",
    "Reaction",
    "State",
    "TherapySpec",
    "load_model",
]

#: exact (read in the source), approx (rounded, read off a range or derived),
#: assumption (our choice), fitted (set so the model matches calibration targets;
#: those targets are then not independent checks).
CONFIDENCE_TAGS = ("exact", "approx", "assumption", "fitted")
VARIANTS = ("reduced", "full")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One model parameter.

    Attributes
    ----------
    name, unit : str
        Identifier and unit (``"1/day"``, ``"1"`` for dimensionless, ``"day"``).
    value : float
        Population value (the calibrated set overrides the file's value).
    prior : tuple of float
        Plausible range ``(low, high)`` used by sensitivity analysis and fitting.
    confidence : str
        ``exact``, ``approx``, ``assumption`` or ``fitted`` (see ``data/model.yaml``).
    source : str
        Citation (DOI/PMID) or the reason for an assumption.
    family : str
        Mechanism family the parameter belongs to.
    """

    name: str
    value: float
    unit: str
    prior: tuple[float, float]
    confidence: str
    source: str
    family: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.confidence not in CONFIDENCE_TAGS:
            raise ModelError(
                f"parameter {self.name}: confidence {self.confidence!r} is not "
                f"one of {', '.join(CONFIDENCE_TAGS)}"
            )
        if not math.isfinite(self.value):
            raise ModelError(f"parameter {self.name}: value must be finite")
        if self.prior[0] > self.prior[1]:
            raise ModelError(f"parameter {self.name}: prior low > high")


@dataclass(frozen=True, slots=True)
class State:
    """A state variable: name, initial-value expression, unit, family.

    ``label`` is a short human name; ``annotation`` holds (qualifier, compact
    identifier) pairs such as ``("is", "CL:0000863")`` for the SBML export."""

    name: str
    initial: Expression
    unit: str
    family: str
    description: str = ""
    label: str = ""
    annotation: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Mediator:
    """A fast mediator: quasi-steady target and relaxation rate (per day, of parameters)."""

    name: str
    target: Expression
    rate: Expression
    family: str
    description: str = ""
    label: str = ""
    annotation: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Reaction:
    """A process: reactant and product states (stoichiometry 1) and its rate per day.

    ``sbo`` is the Systems Biology Ontology term number, ``go`` a Gene Ontology
    process id and ``uniprot`` an enzyme's UniProt accession (for the SBML export).
    """

    id: str
    name: str
    reactants: tuple[str, ...]
    products: tuple[str, ...]
    rate: Expression
    sbo: int
    go: str = ""
    uniprot: str = ""


@dataclass(frozen=True, slots=True)
class TherapySpec:
    """PK/PD of one therapy id (from ``data/therapies.yaml``).

    ``evidence`` summarises what is known about the therapy's effect on
    resorption (``evidence_sources``: ids in :mod:`resorb.evidence`);
    ``extrapolation`` says what the simulator assumes beyond it.
    """

    id: str
    drug_class: str
    kind: str  # bolus | course | cells
    start_day: float
    duration_days: float
    amount: float
    half_life_days: float
    k_engraft: float
    sources: Mapping[str, str]
    catalogue_targets: tuple[str, ...] = ()
    evidence: str = ""
    evidence_sources: tuple[str, ...] = ()
    extrapolation: str = ""


@dataclass(frozen=True)
class Model:
    """An immutable model definition (see the module docstring).

    Build it with :func:`load_model`; do not construct it by hand.
    """

    name: str
    parameters: tuple[Parameter, ...]
    states: tuple[State, ...]
    forcings: tuple[tuple[str, Expression], ...]
    mediators: tuple[Mediator, ...]
    auxiliaries: tuple[tuple[str, Expression], ...]
    rates: Mapping[str, Expression]
    reactions: tuple[Reaction, ...]
    observables: tuple[tuple[str, Expression, str, str], ...]
    morphologies: Mapping[str, Mapping[str, float]]
    families: Mapping[str, Mapping[str, Any]]
    modules: Mapping[str, str]
    therapies: Mapping[str, TherapySpec]
    no_mechanism: Mapping[str, str]
    variability: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    digest: str = field(default="")

    # -- lookups --------------------------------------------------------------
    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(o[0] for o in self.observables)

    def state_names(self, variant: str = "reduced") -> tuple[str, ...]:
        """State names in vector order for ``variant``."""
        _check_variant(variant)
        names = tuple(s.name for s in self.states)
        if variant == "full":
            names += tuple(m.name for m in self.mediators)
        return names

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise InvalidInputError(
            "parameter",
            f"{name!r} is not a model parameter",
            allowed="see resorb.mechanism.load_model().parameter_names",
        )

    def default_values(self) -> dict[str, float]:
        return {p.name: p.value for p in self.parameters}

    def with_values(self, values: Mapping[str, float]) -> Model:
        """A copy whose parameter values are replaced by ``values``."""
        known = set(self.parameter_names)
        unknown = set(values) - known
        if unknown:
            raise InvalidInputError(
                "parameters",
                f"unknown name(s) {', '.join(sorted(unknown))}",
                allowed="model parameter names",
            )
        params = tuple(
            dataclasses.replace(p, value=float(values[p.name])) if p.name in values else p
            for p in self.parameters
        )
        return dataclasses.replace(self, parameters=params)

    def parameter_vector(self, overrides: Mapping[str, float] | None = None) -> list[float]:
        """Parameter values in vector order with ``overrides`` applied."""
        values = self.default_values()
        if overrides:
            unknown = set(overrides) - set(values)
            if unknown:
                raise InvalidInputError(
                    "parameters",
                    f"unknown name(s) {', '.join(sorted(unknown))}",
                    allowed="model parameter names",
                )
            values.update({k: float(v) for k, v in overrides.items()})
        return [values[n] for n in self.parameter_names]


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise InvalidInputError(
            "variant", f"{variant!r} is not a model variant", allowed=", ".join(VARIANTS)
        )


def _read_yaml(name: str) -> dict[str, Any]:
    text = resources.files("resorb.mechanism").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text)


def _therapy_layer(
    spec: dict[str, Any],
) -> tuple[list[Parameter], list[tuple[str, str]], dict[str, TherapySpec], dict[str, str]]:
    """Parameters and forcing expressions generated from ``therapies.yaml``."""
    params: list[Parameter] = []
    forcings: list[tuple[str, str]] = []
    therapies: dict[str, TherapySpec] = {}
    members: dict[str, list[str]] = {c: [] for c in spec["classes"]}
    for tid, t in spec["therapies"].items():
        reg = t["regimen"]
        hl = t["half_life_days"]
        kel = math.log(2.0) / float(hl["value"])
        th = TherapySpec(
            id=tid,
            drug_class=t["class"],
            kind=reg["kind"],
            start_day=float(reg.get("start_day", 0.0)),
            duration_days=float(reg.get("duration_days", 0.0)),
            amount=float(reg["amount"]),
            half_life_days=float(hl["value"]),
            k_engraft=float(reg.get("k_engraft", kel)),
            sources={"half_life": hl["source"], "regimen": t.get("regimen_source", "")},
            evidence=str((t.get("evidence") or {}).get("summary", "")),
            evidence_sources=tuple((t.get("evidence") or {}).get("sources", ())),
            extrapolation=str(t.get("extrapolation", "")),
        )
        if not (th.evidence and th.extrapolation):
            raise ModelError(f"therapy {tid}: needs `evidence` and `extrapolation`")
        if th.drug_class not in members:
            raise ModelError(f"therapy {tid}: unknown class {th.drug_class!r}")
        cls = spec["classes"][th.drug_class]
        targets = {e["catalogue_target"] for e in cls["effects"].values()}
        if cls.get("catalogue_target"):
            targets.add(cls["catalogue_target"])
        th = dataclasses.replace(th, catalogue_targets=tuple(sorted(targets)))
        therapies[tid] = th
        members[th.drug_class].append(tid)
        src = f"{tid}: {t.get('regimen_source', '')}"
        params += [
            Parameter(
                f"{tid}_amount",
                0.0,
                "1",
                (0.0, 10.0),
                "assumption",
                src + " (0 = not given; set by the simulator)",
                "therapy",
                "peak/steady effect-site exposure in EC50 multiples (cells: model units)",
            ),
            Parameter(
                f"{tid}_start_day",
                th.start_day,
                "day",
                (0.0, 730.0),
                "assumption",
                src,
                "therapy",
                "first day of the regimen",
            ),
        ]
        a, s = f"{tid}_amount", f"{tid}_start_day"
        if th.kind == "bolus":
            params.append(
                Parameter(
                    f"{tid}_kel",
                    kel,
                    "1/day",
                    (kel / 2, kel * 2),
                    hl["confidence"],
                    hl["source"],
                    "therapy",
                    "elimination rate constant (ln 2 / half-life)",
                )
            )
            k = f"{tid}_kel"
            forcings.append(
                (
                    f"x_{tid}",
                    f"({a} * exp(-{k} * (t - {s})) if t >= {s} else 0.0) if {a} > 0.0 else 0.0",
                )
            )
        elif th.kind == "course":
            params += [
                Parameter(
                    f"{tid}_end_day",
                    th.start_day + th.duration_days,
                    "day",
                    (0.0, 730.0),
                    "assumption",
                    src,
                    "therapy",
                    "end of the course",
                ),
                Parameter(
                    f"{tid}_kel",
                    kel,
                    "1/day",
                    (kel / 2, kel * 2),
                    hl["confidence"],
                    hl["source"],
                    "therapy",
                    "elimination rate constant (ln 2 / half-life)",
                ),
            ]
            e, k = f"{tid}_end_day", f"{tid}_kel"
            forcings.append(
                (
                    f"x_{tid}",
                    f"(0.0 if t < {s} else ({a} * (1 - exp(-{k} * (t - {s}))) if t < {e} else "
                    f"{a} * (1 - exp(-{k} * ({e} - {s}))) * exp(-{k} * (t - {e}))))"
                    f" if {a} > 0.0 else 0.0",
                )
            )
        elif th.kind == "cells":
            params.append(
                Parameter(
                    f"{tid}_k_engraft",
                    th.k_engraft,
                    "1/day",
                    (th.k_engraft / 2, th.k_engraft * 2),
                    hl["confidence"],
                    hl["source"],
                    "therapy",
                    "engraftment rate of injected cells",
                )
            )
            k = f"{tid}_k_engraft"
            # the rate constant outside the switches: every branch is then
            # dimensionless and the forcing has units 1/day (SBML unit check)
            forcings.append(
                (
                    f"x_{tid}",
                    f"{k} * (({a} * exp(-{k} * (t - {s})) if t >= {s} else 0.0)"
                    f" if {a} > 0.0 else 0.0)",
                )
            )
        else:
            raise ModelError(f"therapy {tid}: unknown regimen kind {th.kind!r}")
    # class exposures and PD effects
    for cname, c in spec["classes"].items():
        xs = " + ".join(f"x_{m}" for m in members[cname]) or "0.0"
        if cname == "macrophage":
            forcings.append(("macrophage_input", xs))
            continue
        forcings.append((f"exposure_{cname}", xs))
        for ename, e in c["effects"].items():
            params.append(
                Parameter(
                    f"emax_{ename}",
                    float(e["emax"]),
                    "1",
                    tuple(map(float, e["prior"])),
                    e["confidence"],
                    e["source"],
                    "therapy",
                    e.get("description", ""),
                )
            )
            forcings.append(
                (
                    ename,
                    f"(emax_{ename} * exposure_{cname} / "
                    f"(1 + exposure_{cname}) if exposure_{cname} > 0.0 "
                    "else 0.0)",
                )
            )
    return params, forcings, therapies, dict(spec.get("no_mechanism", {}))


def _build(
    model_spec: dict[str, Any], therapy_spec: dict[str, Any], calibrated: Mapping[str, float] | None
) -> Model:
    params = []
    for name, p in model_spec["parameters"].items():
        params.append(
            Parameter(
                name=name,
                value=float(p["value"]),
                unit=str(p["unit"]),
                prior=tuple(float(v) for v in p["prior"]),
                confidence=p["confidence"],
                source=p["source"],
                family=p["family"],
                description=p.get("description", ""),
            )
        )
    tparams, tforcings, therapies, no_mech = _therapy_layer(therapy_spec)
    params += tparams
    families = model_spec["families"]
    for p in params:
        if p.family not in families and p.family != "therapy":
            raise ModelError(f"parameter {p.name}: unknown family {p.family!r}")
    pnames = [p.name for p in params]
    if len(set(pnames)) != len(pnames):
        raise ModelError("duplicate parameter names in the model definition")
    if calibrated:
        unknown = set(calibrated) - set(pnames)
        if unknown:
            raise ModelError(f"calibrated set names unknown parameters: {sorted(unknown)}")
        params = [
            dataclasses.replace(p, value=float(calibrated[p.name])) if p.name in calibrated else p
            for p in params
        ]

    snames = [s["name"] for s in model_spec["states"]]
    known = set(pnames) | {"t"}
    states = tuple(
        State(
            s["name"],
            parse_expression(
                s["initial"], known=set(pnames), where=f"initial value of {s['name']}"
            ),
            s["unit"],
            s["family"],
            s.get("description", ""),
            s.get("label", ""),
            _annotation(s),
        )
        for s in model_spec["states"]
    )
    # forcings: t and parameters, plus earlier forcings
    forcings = []
    for name, text in [
        *tforcings,
        *((f["name"], f["expr"]) for f in model_spec.get("forcings", [])),
    ]:
        forcings.append((name, parse_expression(text, known=known, where=f"forcing {name}")))
        known.add(name)
    known |= set(snames)
    mediators = []
    for m in model_spec["mediators"]:
        target = parse_expression(m["target"], known=known, where=f"mediator {m['name']}")
        rate = parse_expression(
            str(m["rate"]), known=set(pnames), where=f"relaxation rate of {m['name']}"
        )
        mediators.append(
            Mediator(
                m["name"],
                target,
                rate,
                m["family"],
                m.get("description", ""),
                m.get("label", ""),
                _annotation(m),
            )
        )
        known.add(m["name"])  # later mediators may read earlier ones (triangular order)
    aux = []
    for a in model_spec.get("auxiliaries", []):
        aux.append(
            (a["name"], parse_expression(a["expr"], known=known, where=f"auxiliary {a['name']}"))
        )
        known.add(a["name"])
    reactions = tuple(_reaction(r, known, snames) for r in model_spec.get("reactions", []))
    if reactions and "rates" in model_spec:
        raise ModelError("give either `reactions` or `rates`, not both")
    rate_text = model_spec.get("rates") or _rates_from_reactions(reactions, snames)
    rates = {}
    for s in snames:
        if s not in rate_text:
            raise ModelError(f"state {s} has no rate law")
        rates[s] = parse_expression(rate_text[s], known=known, where=f"rate of {s}")
    extra = set(rate_text) - set(snames)
    if extra:
        raise ModelError(f"rate laws for undeclared states: {sorted(extra)}")
    observables = tuple(
        (
            o["name"],
            parse_expression(o["expr"], known=known, where=f"observable {o['name']}"),
            o["unit"],
            o.get("description", ""),
        )
        for o in model_spec["observables"]
    )
    clash = {r.id for r in reactions} & (known | {o[0] for o in observables})
    if clash:
        raise ModelError(f"reaction ids clash with other model names: {sorted(clash)}")
    if observables[0][0] != "volume_fraction":
        raise ModelError("the first observable must be volume_fraction")
    variability = {k: dict(v) for k, v in (model_spec.get("variability") or {}).items()}
    for k, v in variability.items():
        for pn in v["parameters"]:
            if pn not in pnames:
                raise ModelError(f"variability {k}: unknown parameter {pn!r}")
        if v["confidence"] not in CONFIDENCE_TAGS or not float(v["cv"]) >= 0:
            raise ModelError(f"variability {k}: needs cv >= 0 and a confidence tag")
    modules = {name: m["switch"] for name, m in model_spec.get("modules", {}).items()}
    model = Model(
        name=model_spec["name"],
        parameters=tuple(params),
        states=states,
        forcings=tuple(forcings),
        mediators=tuple(mediators),
        auxiliaries=tuple(aux),
        rates=rates,
        reactions=reactions,
        observables=observables,
        morphologies={k: dict(v) for k, v in model_spec["morphologies"].items()},
        families=families,
        modules=modules,
        therapies=therapies,
        no_mechanism=no_mech,
        variability=variability,
    )
    return dataclasses.replace(model, digest=structure_digest(model))


_QUALIFIERS = ("is", "is_version_of", "has_part")


def _annotation(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for pair in spec.get("annotation") or ():
        qual, ident = pair
        if qual not in _QUALIFIERS or ":" not in ident:
            raise ModelError(
                f"{spec['name']}: annotation {pair!r} needs one of "
                f"{', '.join(_QUALIFIERS)} and a compact identifier"
            )
        out.append((str(qual), str(ident)))
    return tuple(out)


def _reaction(spec: Mapping[str, Any], known: set[str], states: list[str]) -> Reaction:
    rid = spec["id"]
    for s in (*spec["reactants"], *spec["products"]):
        if s not in states:
            raise ModelError(f"reaction {rid}: {s!r} is not a state")
    return Reaction(
        id=rid,
        name=spec["name"],
        reactants=tuple(spec["reactants"]),
        products=tuple(spec["products"]),
        rate=parse_expression(spec["rate"], known=known, where=f"reaction {rid}"),
        sbo=int(spec["sbo"]),
        go=str(spec.get("go", "")),
        uniprot=str(spec.get("uniprot", "")),
    )


def _rates_from_reactions(reactions: tuple[Reaction, ...], states: list[str]) -> dict[str, str]:
    """Each state's rate: the reactions producing it minus those consuming it."""
    terms: dict[str, list[str]] = {s: [] for s in states}
    for r in reactions:
        for s in r.products:
            terms[s].append(f" + ({r.rate.text})")
        for s in r.reactants:
            terms[s].append(f" - ({r.rate.text})")
    return {s: ("".join(t).strip().removeprefix("+ ") if t else "0.0") for s, t in terms.items()}


def structure_digest(model: Model) -> str:
    """Hash of the model's structure (equations and names, not parameter values)."""
    payload = {
        "p": model.parameter_names,
        "s": [(s.name, s.initial.text) for s in model.states],
        "f": [(n, e.text) for n, e in model.forcings],
        "m": [(m.name, m.target.text, m.rate.text) for m in model.mediators],
        "a": [(n, e.text) for n, e in model.auxiliaries],
        "r": {k: v.text for k, v in model.rates.items()},
        "o": [(o[0], o[1].text) for o in model.observables],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def calibrated_values() -> dict[str, float]:
    """The shipped calibrated population parameter set (``data/calibrated.yaml``)."""
    try:
        spec = _read_yaml("calibrated.yaml")
    except FileNotFoundError:
        return {}
    return {k: float(v) for k, v in (spec.get("values") or {}).items()}


@lru_cache(maxsize=4)
def _load(calibrated: bool) -> Model:
    return _build(
        _read_yaml("model.yaml"),
        _read_yaml("therapies.yaml"),
        calibrated_values() if calibrated else None,
    )


def load_model(*, calibrated: bool = True) -> Model:
    """Load the model definition.

    Parameters
    ----------
    calibrated : bool, default True
        Apply the shipped calibrated parameter set (``data/calibrated.yaml``,
        the posterior medians of the preregistered fit); ``False`` gives the
        values written in ``data/model.yaml`` (the prior centres).

    Returns
    -------
    Model
    """
    return _load(bool(calibrated))
