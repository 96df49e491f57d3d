"""SBML export, checked by loading it in libroadrunner."""

from __future__ import annotations

import libsbml
import numpy as np
import pytest

from resorb.mechanism import simulate, to_sbml, write_sbml

roadrunner = pytest.importorskip("roadrunner", reason="libroadrunner is in the dev extra")


def _roadrunner_trajectory(xml: str, days: int, selections: list[str]) -> np.ndarray:
    rr = roadrunner.RoadRunner(xml)
    n_species = len(rr.model.getFloatingSpeciesIds())
    rr.integrator.relative_tolerance = 1e-9
    # libroadrunner scales a single absolute tolerance by each species' initial
    # value; one value per species gives a uniform tolerance.
    rr.integrator.absolute_tolerance = [1e-11] * n_species
    rr.timeCourseSelections = ["time", *selections]
    return np.asarray(rr.simulate(0, days, days + 1))


@pytest.mark.parametrize(("morphology", "therapies"), [
    ("extrusion", ()),
    ("sequestration", ()),
    ("protrusion", ("epidural_steroid",)),
    ("extrusion", ("anti_tnf@45", "nsaid", "macrophage_therapy")),
])
def test_libroadrunner_reproduces_resorb_simulate_within_1e_3(morphology, therapies):
    """Recipe: ``resorb model sbml --morphology M [--therapy T] out.xml``; load out.xml
    in libroadrunner 2.x, relative tolerance 1e-9 and one absolute tolerance 1e-11
    per floating species, ``simulate(0, 730, 731)`` selecting ``volume_fraction``,
    ``rim_enhancement`` and ``macrophage_density_per_cm2``; compare with
    ``resorb simulate --morphology M [--therapy T] --days 730`` (SciPy LSODA,
    rtol 1e-8) day by day."""
    xml = to_sbml(morphology, therapies=therapies)
    sel = ["volume_fraction", "rim_enhancement", "macrophage_density_per_cm2"]
    rr = _roadrunner_trajectory(xml, 730, sel)
    ours = simulate(morphology, therapies=therapies)
    assert np.allclose(rr[:, 0], ours.t_days)
    assert np.max(np.abs(rr[:, 1] - ours.volume_fraction)) < 1e-3
    assert np.max(np.abs(rr[:, 2] - ours.observables["rim_enhancement"])) < 1e-3
    mac = ours.observables["macrophage_density_per_cm2"]
    assert np.max(np.abs(rr[:, 3] - mac)) / mac.max() < 1e-3


def test_full_variant_sbml_matches_the_full_model():
    xml = to_sbml("extrusion", variant="full")
    rr = _roadrunner_trajectory(xml, 365, ["volume_fraction"])
    ours = simulate("extrusion", variant="full", days=365, solver_method="Radau")
    assert np.max(np.abs(rr[:, 1] - ours.volume_fraction)) < 1e-3


def test_export_is_valid_level3_version2_with_named_volume_fraction(tmp_path):
    path = write_sbml(tmp_path / "m.xml", "extrusion", therapies=["oral_steroid"])
    doc = libsbml.readSBMLFromFile(str(path))
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    doc.checkConsistency()
    errors = [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    assert errors == []
    m = doc.getModel()
    assert m.getAssignmentRuleByVariable("volume_fraction") is not None
    assert m.getParameter("oral_steroid_amount").getValue() > 0
    assert m.getParameter("exposure").getValue() == pytest.approx(0.479)
    assert m.getNumRules() > m.getNumSpecies()
    assert not list(tmp_path.glob("*.tmp"))
