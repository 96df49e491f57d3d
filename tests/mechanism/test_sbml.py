"""SBML export: reproduced by libroadrunner and COPASI, valid with units, annotated."""

from __future__ import annotations

import numpy as np
import pytest

libsbml = pytest.importorskip(
    "libsbml", reason="SBML export needs the mechanism extra (python-libsbml)"
)

from resorb.mechanism import load_model, simulate, to_sbml, write_sbml  # noqa: E402

roadrunner = pytest.importorskip("roadrunner", reason="libroadrunner is in the dev extra")

CONDITIONS = [
    ("extrusion", ()),
    ("sequestration", ()),
    ("protrusion", ("epidural_steroid",)),
    ("extrusion", ("anti_tnf@45", "nsaid", "macrophage_therapy")),
]


def _roadrunner_trajectory(xml: str, days: int, selections: list[str]) -> np.ndarray:
    rr = roadrunner.RoadRunner(xml)
    n_species = len(rr.model.getFloatingSpeciesIds())
    rr.integrator.relative_tolerance = 1e-10
    # libroadrunner scales a single absolute tolerance by each species' initial
    # value; one value per species gives a uniform tolerance.
    rr.integrator.absolute_tolerance = [1e-12] * n_species
    rr.timeCourseSelections = ["time", *selections]
    return np.asarray(rr.simulate(0, days, days + 1))


@pytest.mark.parametrize(("morphology", "therapies"), CONDITIONS)
def test_libroadrunner_reproduces_resorb_simulate_within_1e_6(morphology, therapies):
    """Recipe: ``resorb model sbml --morphology M [--therapy T] out.xml``; load out.xml
    in libroadrunner 2.x, relative tolerance 1e-10 and one absolute tolerance 1e-12
    per floating species, ``simulate(0, 730, 731)`` selecting ``volume_fraction``,
    ``rim_enhancement`` and ``macrophage_density_per_cm2``; compare with
    ``resorb simulate --morphology M [--therapy T] --days 730`` (its default path
    and tolerances) day by day."""
    xml = to_sbml(morphology, therapies=therapies)
    sel = ["volume_fraction", "rim_enhancement", "macrophage_density_per_cm2"]
    rr = _roadrunner_trajectory(xml, 730, sel)
    ours = simulate(morphology, therapies=therapies)
    assert np.allclose(rr[:, 0], ours.t_days)
    assert np.max(np.abs(rr[:, 1] - ours.volume_fraction)) < 1e-6
    assert np.max(np.abs(rr[:, 2] - ours.observables["rim_enhancement"])) < 1e-6
    mac = ours.observables["macrophage_density_per_cm2"]
    assert np.max(np.abs(rr[:, 3] - mac)) / mac.max() < 1e-6


@pytest.mark.parametrize(("morphology", "therapies"), [CONDITIONS[0], CONDITIONS[3]])
def test_copasi_reproduces_resorb_simulate_within_1e_6(morphology, therapies):
    """Recipe: load the exported SBML with COPASI 4.x through basico
    (``load_model_from_string``), deterministic (LSODA) time course with relative
    tolerance 1e-10, absolute 1e-12, 0-730 days in 730 intervals; read the global
    quantity named as ``volume_fraction`` ("herniated volume V/V0") and compare
    with ``resorb simulate`` day by day."""
    basico = pytest.importorskip("basico", reason="copasi-basico is in the dev extra")
    xml = to_sbml(morphology, therapies=therapies)
    basico.load_model_from_string(xml)
    basico.set_task_settings(
        basico.T.TIME_COURSE,
        {
            "method": {
                "Relative Tolerance": 1e-10,
                "Absolute Tolerance": 1e-12,
                "Max Internal Steps": 1_000_000,
            }
        },
    )
    tc = basico.run_time_course(start_time=0, duration=730, intervals=730)
    basico.remove_datamodel(basico.get_current_model())
    name = load_model().observables[0][3]
    ours = simulate(morphology, therapies=therapies)
    theirs = tc[f"Values[{name}]"].to_numpy()
    assert theirs.shape == ours.volume_fraction.shape
    assert np.max(np.abs(theirs - ours.volume_fraction)) < 1e-6


def test_full_variant_sbml_matches_the_full_model():
    xml = to_sbml("extrusion", variant="full")
    rr = _roadrunner_trajectory(xml, 365, ["volume_fraction"])
    ours = simulate(
        "extrusion",
        variant="full",
        days=365,
        method="reference",
        solver_method="Radau",
        rtol=1e-10,
        atol=1e-12,
    )
    assert np.max(np.abs(rr[:, 1] - ours.volume_fraction)) < 1e-6


def _consistency(xml: str) -> list[tuple[str, int, str]]:
    doc = libsbml.readSBMLFromString(xml)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, True)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_MODELING_PRACTICE, True)
    doc.checkConsistency()
    return [
        (
            doc.getError(i).getSeverityAsString(),
            doc.getError(i).getErrorId(),
            doc.getError(i).getMessage(),
        )
        for i in range(doc.getNumErrors())
    ]


@pytest.mark.parametrize(
    ("variant", "therapies", "modules"),
    [
        ("reduced", (), ()),
        ("reduced", ("macrophage_therapy", "oral_steroid", "anti_tnf@45"), ()),
        ("full", ("epidural_steroid",), ()),
    ],
)
def test_libsbml_consistency_check_with_units_reports_nothing(variant, therapies, modules):
    """Recipe: libsbml ``checkConsistency()`` with the units and modelling-practice
    categories switched on: 0 errors and 0 warnings."""
    assert _consistency(to_sbml("extrusion", therapies=therapies, variant=variant)) == []


def test_hypothesis_modules_export_cleanly_too(recwarn):
    xml = to_sbml("extrusion", modules=["ferroptosis", "oxidative_stress", "autophagy"])
    assert _consistency(xml) == []


def test_processes_are_reactions_with_sbo_terms_and_miriam_annotations(model):
    doc = libsbml.readSBMLFromString(to_sbml("extrusion"))
    m = doc.getModel()
    assert m.getNumReactions() == len(model.reactions) >= 20
    assert m.getNumRules() == sum(
        1 for i in range(m.getNumRules()) if m.getRule(i).isAssignment()
    )  # no rate rules
    for i in range(m.getNumReactions()):
        r = m.getReaction(i)
        assert r.isSetMetaId() and r.isSetSBOTerm() and r.getName(), r.getId()
        assert r.getKineticLaw().isSetSBOTerm()
    for i in range(m.getNumSpecies()):
        sp = m.getSpecies(i)
        assert sp.isSetMetaId() and sp.isSetSBOTerm(), sp.getId()
        assert sp.getNumCVTerms() >= 1, sp.getId()
        assert 0 < len(sp.getName()) <= 40, sp.getId()
        for j in range(sp.getNumCVTerms()):
            for k in range(sp.getCVTerm(j).getNumResources()):
                uri = sp.getCVTerm(j).getResourceURI(k)
                assert uri.startswith("https://identifiers.org/"), uri
                assert uri.split("/")[-1].split(":")[0] in {
                    "uniprot",
                    "CHEBI",
                    "CL",
                    "GO",
                    "UBERON",
                }, uri
    for i in range(m.getNumParameters()):
        p = m.getParameter(i)
        assert p.isSetUnits() and p.isSetSBOTerm() and p.isSetMetaId(), p.getId()
    annotated = {m.getSpecies(i).getId() for i in range(m.getNumSpecies())}
    assert {"M1", "M2", "N", "S"} <= annotated
    assert (
        m.getReaction("peroxide_reduction")
        .getCVTerm(0)
        .getResourceURI(0)
        .endswith("uniprot:P36969")
    )  # GPX4
    # model history and references
    assert m.isSetModelHistory()
    history = m.getModelHistory()
    assert history.getNumCreators() >= 1 and history.isSetCreatedDate()
    refs = [
        m.getCVTerm(i).getResourceURI(k)
        for i in range(m.getNumCVTerms())
        for k in range(m.getCVTerm(i).getNumResources())
    ]
    assert "https://identifiers.org/pubmed:25253299" in refs  # Seo 2016 (growth)


def test_export_is_valid_level3_version2_with_named_volume_fraction(tmp_path):
    path = write_sbml(tmp_path / "m.xml", "extrusion", therapies=["oral_steroid"])
    doc = libsbml.readSBMLFromFile(str(path))
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    doc.checkConsistency()
    errors = [
        doc.getError(i).getMessage()
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    assert errors == []
    m = doc.getModel()
    assert m.getAssignmentRuleByVariable("volume_fraction") is not None
    assert m.getParameter("oral_steroid_amount").getValue() > 0
    assert m.getParameter("exposure").getValue() == pytest.approx(0.479)
    assert m.getUnitDefinition("per_day").getUnit(0).getMultiplier() == 86400.0
    assert not list(tmp_path.glob("*.tmp"))
