"""SBML Level 3 Version 2 export of the model (python-libsbml), for reuse.

The export is generated from the same :class:`~resorb.mechanism.Model` as the
simulators, for one condition (herniation type, therapies):

- the slow states are species in the compartment ``hernia`` (dimensionless,
  scaled to O(1)); every process that changes them is an SBML reaction with its
  kinetic law (``model.reactions``), an SBO term, and a Gene Ontology process
  (and UniProt enzyme) in a MIRIAM annotation;
- species and fast mediators carry metaids and MIRIAM annotations (UniProt,
  ChEBI, Cell Ontology, Uberon, GO) and short human names;
- parameters are constant SBML parameters with units (``per_day``, ``day``,
  ``cells_per_cm2``, dimensionless), SBO terms, names and, in the notes, their
  sources and confidence;
- therapy exposures, fast mediators (quasi-steady in the reduced variant),
  auxiliaries and observables are assignment rules whose units are derived by
  libsbml; ``volume_fraction`` (V/V0) is one of them;
- in the ``full`` variant the fast mediators are species with a production and a
  decay reaction each;
- every number carries units, so libsbml's unit consistency check runs on every
  expression; the model history and the main references are in the annotation.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable, Mapping
from pathlib import Path

from resorb.errors import ModelError, require_extra
from resorb.mechanism._conditions import TherapyRegimen, condition_overrides, parse_therapy
from resorb.mechanism._model import Model, _check_variant, load_model

__all__ = ["to_sbml", "write_sbml"]

_UNITS = {
    "1/day": ("per_day", [("second", -1, 86400.0)]),  # (86400 s)^-1
    "day": ("day", [("second", 1, 86400.0)]),
    "cells/cm2": ("cells_per_cm2", [("metre", -2, 0.01), ("item", 1, 1.0)]),
}

#: Main references of the model (MIRIAM bqmodel:isDescribedBy).
REFERENCES = (
    "pubmed:10642592",  # Haro 2000b, MMP-7 and TNF-alpha release
    "doi:10.1172/JCI7090",  # Haro 2000a, MMP-3 and the chemoattractant
    "doi:10.3390/mca24010012",  # Trejo 2019, macrophage kinetics (fracture healing)
    "pubmed:37429889",  # Ribeiro-Machado 2023, macrophage depletion/therapy
    "pubmed:37559207",  # Zou 2023, regression rates by morphology
    "pubmed:25253299",  # Seo 2016, 3D volumetry: growth
    "pubmed:31802274",  # Djuric 2020, CD68+ density
)
#: Date of the model structure in this version (history: created/modified).
MODEL_CREATED = "2026-11-20T00:00:00Z"

_SBO_PARAMETER = 2  # quantitative systems description parameter
_SBO_RATE_CONSTANT = 9  # kinetic constant
_SBO_HALF_SATURATION = 27  # Michaelis constant
_SBO_KINETIC_LAW = 1  # rate law
_SBO_MATERIAL = 285  # material entity of unspecified nature
_SBO_SIMPLE_CHEMICAL = 247
_SBO_COMPARTMENT = 290  # physical compartment
_SBO_CONTINUOUS = 62  # continuous framework
_SBO_MODIFIER = 19
_SBO_PRODUCTION = 393
_SBO_DEGRADATION = 179


def _uri(compact: str) -> str:
    return f"https://identifiers.org/{compact}"


def _cv(libsbml, element, qualifier: str, compact: str, model_level: bool = False) -> None:
    term = libsbml.CVTerm(libsbml.MODEL_QUALIFIER if model_level else libsbml.BIOLOGICAL_QUALIFIER)
    if model_level:
        term.setModelQualifierType(libsbml.BQM_IS_DESCRIBED_BY)
    else:
        term.setBiologicalQualifierType(
            {
                "is": libsbml.BQB_IS,
                "is_version_of": libsbml.BQB_IS_VERSION_OF,
                "has_part": libsbml.BQB_HAS_PART,
            }[qualifier]
        )
    term.addResource(_uri(compact))
    _check(libsbml, element.addCVTerm(term), f"annotate {element.getId()}")


def _number_units(libsbml, node) -> None:
    """Give every literal number the unit ``dimensionless`` (so that libsbml can
    check the units of every expression)."""
    if node.isNumber():
        node.setUnits("dimensionless")
    for i in range(node.getNumChildren()):
        _number_units(libsbml, node.getChild(i))


def _notes(text: str) -> str:
    return '<body xmlns="http://www.w3.org/1999/xhtml"><p>' + html.escape(text) + "</p></body>"


def _formula(libsbml, expr) -> object:
    text = expr.to_sbml()
    ast = libsbml.parseL3Formula(text)
    if ast is None:
        raise ModelError(f"libsbml cannot parse {text!r}: {libsbml.getLastParseL3Error()}")
    _rename_time(libsbml, ast)
    _number_units(libsbml, ast)
    return ast


def _rename_time(libsbml, node) -> None:
    """Turn the model's time variable ``t`` into SBML's time csymbol."""
    if node.getType() == libsbml.AST_NAME and node.getName() == "t":
        node.setType(libsbml.AST_NAME_TIME)
        node.setName("time")
    for i in range(node.getNumChildren()):
        _rename_time(libsbml, node.getChild(i))


def _check(libsbml, code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise ModelError(f"libsbml failed to {what}: {libsbml.OperationReturnValue_toString(code)}")


def to_sbml(
    morphology: object,
    *,
    therapies: Iterable[str | TherapyRegimen] = (),
    variant: str = "reduced",
    modules: Iterable[str] = (),
    parameters: Mapping[str, float] | None = None,
    model: Model | None = None,
) -> str:
    """SBML L3V2 text of the model for one herniation type and therapy set.

    Parameters
    ----------
    morphology : str
        Herniation type (sets ``exposure``).
    therapies : iterable of str
        Therapy ids (``ID`` or ``ID@DAY``).
    variant : {"reduced", "full"}
    modules : iterable of str
        Hypothesis modules switched on in the export (each warns, as in
        :func:`~resorb.mechanism.simulate`).
    parameters : mapping, optional
        Further parameter overrides.

    Returns
    -------
    str
        The SBML document; its observable ``volume_fraction`` is V/V0.
    """
    libsbml = require_extra("libsbml", "mechanism")
    from resorb import __version__

    model = model or load_model()
    _check_variant(variant)
    regimens = [parse_therapy(x) for x in therapies]
    modules = tuple(modules)
    over, _ = condition_overrides(
        model, morphology=morphology, therapies=regimens, modules=modules, parameters=parameters
    )
    values = dict(zip(model.parameter_names, model.parameter_vector(over), strict=True))

    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId(model.name)
    m.setMetaId(f"meta_{model.name}")
    m.setName(f"resorb lumbar disc herniation resorption ({variant}; {morphology})")
    m.setSBOTerm(_SBO_CONTINUOUS)
    _check(
        libsbml,
        m.setNotes(
            '<body xmlns="http://www.w3.org/1999/xhtml">'
            f"<p>Generated by resorb {html.escape(__version__)} from model {model.name} "
            f"(structure {model.digest}), variant {variant}.</p>"
            f"<p>Condition: morphology {html.escape(str(morphology))}; therapies "
            f"{html.escape(', '.join(r.id for r in regimens) or 'none')}; hypothesis modules "
            f"{html.escape(', '.join(sorted(modules)) or 'none')}.</p>"
            "<p>Time in days; states and mediators are dimensionless (scaled to O(1)). "
            "volume_fraction is the herniated volume V/V0. Research software, not a "
            "medical device; each parameter's notes give its source and confidence.</p>"
            "</body>"
        ),
        "set model notes",
    )
    history = libsbml.ModelHistory()
    creator = libsbml.ModelCreator()
    creator.setFamilyName("resorb")
    creator.setGivenName("contributors")
    creator.setOrganisation("resorb project")
    _check(libsbml, history.addCreator(creator), "add the model creator")
    history.setCreatedDate(libsbml.Date(MODEL_CREATED))
    history.setModifiedDate(libsbml.Date(_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
    _check(libsbml, m.setModelHistory(history), "set the model history")
    for ref in REFERENCES:
        _cv(libsbml, m, "", ref, model_level=True)

    for uid, parts in _UNITS.values():
        ud = m.createUnitDefinition()
        ud.setId(uid)
        for kind, exp, mult in parts:
            u = ud.createUnit()
            u.setKind(libsbml.UnitKind_forName(kind))
            u.setExponent(exp)
            u.setScale(0)
            u.setMultiplier(mult)
    m.setTimeUnits("day")
    m.setSubstanceUnits("dimensionless")
    m.setExtentUnits("dimensionless")
    m.setVolumeUnits("dimensionless")
    comp = m.createCompartment()
    comp.setId("hernia")
    comp.setName("herniated fragment")
    comp.setMetaId("meta_hernia")
    comp.setSBOTerm(_SBO_COMPARTMENT)
    _cv(libsbml, comp, "is_version_of", "UBERON:0002242")
    comp.setConstant(True)
    comp.setSize(1.0)
    comp.setSpatialDimensions(3)
    comp.setUnits("dimensionless")

    for p in model.parameters:
        q = m.createParameter()
        q.setId(p.name)
        q.setMetaId(f"meta_{p.name}")
        q.setName(p.description or p.name)
        q.setValue(float(values[p.name]))
        q.setConstant(True)
        q.setUnits(_UNITS[p.unit][0] if p.unit in _UNITS else "dimensionless")
        if p.unit == "1/day":
            q.setSBOTerm(_SBO_RATE_CONSTANT)
        elif p.name.startswith("K_"):
            q.setSBOTerm(_SBO_HALF_SATURATION)
        else:
            q.setSBOTerm(_SBO_PARAMETER)
        q.setNotes(_notes(f"{p.description} [{p.confidence}] {p.source}"))

    def species(sid: str, label: str, annotation, initial, sbo: int) -> None:
        sp = m.createSpecies()
        sp.setId(sid)
        sp.setMetaId(f"meta_{sid}")
        sp.setName(label or sid)
        sp.setSBOTerm(sbo)
        sp.setCompartment("hernia")
        sp.setHasOnlySubstanceUnits(False)
        sp.setBoundaryCondition(False)
        sp.setConstant(False)
        sp.setInitialConcentration(0.0)
        sp.setSubstanceUnits("dimensionless")
        for qual, ident in annotation:
            _cv(libsbml, sp, qual, ident)
        ia = m.createInitialAssignment()
        ia.setSymbol(sid)
        _check(libsbml, ia.setMath(_formula(libsbml, initial)), f"set initial {sid}")

    for s in model.states:
        species(
            s.name,
            s.label,
            s.annotation,
            s.initial,
            _SBO_SIMPLE_CHEMICAL
            if any(i.startswith("CHEBI:") for _, i in s.annotation)
            else _SBO_MATERIAL,
        )

    known_units = ["dimensionless", *(u for u, _ in _UNITS.values())]

    def assignment(name: str, expr, label: str = "", annotation=()) -> None:
        q = m.createParameter()
        q.setId(name)
        q.setMetaId(f"meta_{name}")
        if label:
            q.setName(label)
        q.setConstant(False)
        q.setSBOTerm(_SBO_PARAMETER)
        for qual, ident in annotation:
            _cv(libsbml, q, qual, ident)
        rule = m.createAssignmentRule()
        rule.setVariable(name)
        _check(libsbml, rule.setMath(_formula(libsbml, expr)), f"set rule {name}")
        # the variable's units are those libsbml derives for its formula
        m.populateListFormulaUnitsData()
        derived = rule.getDerivedUnitDefinition()
        for uid in known_units:
            ud = (
                libsbml.UnitDefinition(3, 2) if uid == "dimensionless" else m.getUnitDefinition(uid)
            )
            if uid == "dimensionless":
                ud.createUnit().setKind(libsbml.UNIT_KIND_DIMENSIONLESS)
                ud.getUnit(0).setExponent(1)
                ud.getUnit(0).setScale(0)
                ud.getUnit(0).setMultiplier(1.0)
            if derived is not None and libsbml.UnitDefinition.areEquivalent(derived, ud):
                q.setUnits(uid)
                break
        else:
            raise ModelError(f"SBML export: cannot name the units of {name}")

    for name, expr in model.forcings:
        assignment(name, expr)
    for med in model.mediators:
        if variant == "reduced":
            assignment(med.name, med.target, med.label, med.annotation)
        else:
            species(med.name, med.label, med.annotation, med.target, _SBO_MATERIAL)
    for name, expr in model.auxiliaries:
        assignment(name, expr)

    species_ids = {m.getSpecies(i).getId() for i in range(m.getNumSpecies())}

    def reaction(
        rid: str, name: str, reactants, products, rate, sbo: int, go: str = "", uniprot: str = ""
    ) -> None:
        r = m.createReaction()
        r.setId(rid)
        r.setMetaId(f"meta_{rid}")
        r.setName(name)
        r.setReversible(False)
        r.setSBOTerm(sbo)
        if go:
            _cv(libsbml, r, "is_version_of", go)
        if uniprot:
            _cv(libsbml, r, "has_part", f"uniprot:{uniprot}")
        for sid in reactants:
            ref = r.createReactant()
            ref.setSpecies(sid)
            ref.setStoichiometry(1.0)
            ref.setConstant(True)
        for sid in products:
            ref = r.createProduct()
            ref.setSpecies(sid)
            ref.setStoichiometry(1.0)
            ref.setConstant(True)
        law = r.createKineticLaw()
        law.setSBOTerm(_SBO_KINETIC_LAW)
        math = _formula(libsbml, rate)
        _check(libsbml, law.setMath(math), f"kinetic law of {rid}")
        for sid in sorted(rate.names & species_ids - set(reactants) - set(products)):
            mod = r.createModifier()
            mod.setSpecies(sid)
            mod.setSBOTerm(_SBO_MODIFIER)

    for rx in model.reactions:
        reaction(rx.id, rx.name, rx.reactants, rx.products, rx.rate, rx.sbo, rx.go, rx.uniprot)
    if not model.reactions:
        for s in model.states:
            rr = m.createRateRule()
            rr.setVariable(s.name)
            _check(libsbml, rr.setMath(_formula(libsbml, model.rates[s.name])), f"rate {s.name}")
    if variant == "full":
        from resorb.mechanism._expr import Expression

        for med in model.mediators:
            reaction(
                f"{med.name}_production",
                f"{med.label or med.name} production",
                (),
                (med.name,),
                Expression(f"({med.rate.text}) * ({med.target.text})"),
                _SBO_PRODUCTION,
            )
            reaction(
                f"{med.name}_decay",
                f"{med.label or med.name} decay",
                (med.name,),
                (),
                Expression(f"({med.rate.text}) * {med.name}"),
                _SBO_DEGRADATION,
            )
    taken = set(model.parameter_names) | set(model.state_names(variant))
    for name, expr, _unit, desc in model.observables:
        if name in taken:
            raise ModelError(f"observable {name} clashes with a model id")
        assignment(name, expr, desc)

    doc.checkInternalConsistency()
    errors = [
        doc.getError(i)
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if errors:
        raise ModelError("SBML export is invalid: " + "; ".join(e.getMessage() for e in errors))
    return libsbml.writeSBMLToString(doc)


def write_sbml(path: str | Path, morphology: object, **kwargs) -> Path:
    """Write :func:`to_sbml` to ``path`` atomically (nothing is left on failure)."""
    from resorb._atomic import write_atomic

    text = to_sbml(morphology, **kwargs)
    return write_atomic(path, text)
