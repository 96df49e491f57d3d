"""The declarative model: families, sources, confidence tags, therapy ids, expressions."""

from __future__ import annotations

import pytest

from resorb.errors import HypothesisModuleWarning, InvalidInputError, ModelError
from resorb.mechanism import CONFIDENCE_TAGS, load_model, simulate
from resorb.mechanism._expr import parse_expression

EIGHT_FAMILIES = {
    "inflammatory_response",
    "macrophage_activation",
    "ecm_enzyme_balance",
    "neovascularization",
    "ferroptosis",
    "mitochondrial_function",
    "oxidative_stress",
    "autophagy",
}


def test_definition_covers_the_eight_mechanism_families_of_the_review(model):
    assert set(model.families) == EIGHT_FAMILIES
    used = {p.family for p in model.parameters} | {s.family for s in model.states}
    assert used >= EIGHT_FAMILIES


def test_families_without_calibration_data_are_switchable_hypotheses(model):
    hyp = {f for f, spec in model.families.items() if spec["hypothesis"]}
    assert hyp == {"ferroptosis", "mitochondrial_function", "oxidative_stress", "autophagy"}
    for fam in hyp:
        assert model.families[fam]["module"] in model.modules
    # off by default
    for switch in model.modules.values():
        assert model.parameter(switch).value == 0.0


def test_every_parameter_has_unit_source_confidence_and_prior(model):
    for p in model.parameters:
        assert p.unit, p.name
        assert p.source.strip(), p.name
        assert p.confidence in CONFIDENCE_TAGS, p.name
        assert p.prior[0] <= p.prior[1], p.name


def test_parameters_tagged_exact_lie_within_their_prior(model):
    for p in load_model(calibrated=False).parameters:
        if p.confidence == "exact":
            assert p.prior[0] <= p.value <= p.prior[1], p.name


def test_calibrated_set_only_names_known_parameters_and_stays_in_priors(model):
    """The loaded model carries the values of data/calibrated.yaml, read here
    independently of resorb's loader, and they lie within their priors."""
    from importlib import resources

    import yaml

    data = resources.files("resorb.mechanism").joinpath("data")
    shipped = yaml.safe_load(data.joinpath("calibrated.yaml").read_text("utf-8"))["values"]
    assert shipped
    for name, value in shipped.items():
        p = model.parameter(name)
        assert p.value == float(value), name
        assert p.prior[0] <= p.value <= p.prior[1], name


def test_uncalibrated_model_gives_the_values_written_in_model_yaml():
    """load_model(calibrated=False) is model.yaml as written (the docstring's claim),
    checked against the file read independently."""
    from importlib import resources

    import yaml

    data = resources.files("resorb.mechanism").joinpath("data")
    spec = yaml.safe_load(data.joinpath("model.yaml").read_text("utf-8"))
    plain = load_model(calibrated=False)
    for name, p in spec["parameters"].items():
        assert plain.parameter(name).value == float(p["value"]), name


def test_volume_fraction_rim_and_macrophage_observables_exist(model):
    names = model.observable_names
    assert names[0] == "volume_fraction"
    assert "rim_enhancement" in names
    assert "macrophage_density_per_cm2" in names


def test_switching_on_a_hypothesis_module_warns_and_changes_the_course():
    base = simulate("extrusion", days=365, method="batch")
    with pytest.warns(HypothesisModuleWarning, match="ferroptosis"):
        ferro = simulate("extrusion", days=365, method="batch", modules=["ferroptosis"])
    assert ferro.observables["lipid_peroxidation"].max() > 0
    assert base.observables["lipid_peroxidation"].max() == 0
    assert ferro.observables["np_cell_viability"][-1] < base.observables["np_cell_viability"][-1]


def test_unknown_module_is_rejected_with_allowed_values():
    with pytest.raises(InvalidInputError, match="allowed: autophagy, ferroptosis"):
        simulate("extrusion", days=10, modules=["telomeres"])


def test_therapy_ids_exist_in_the_therapy_catalogue_with_the_same_targets(model):
    """Every simulated therapy is a catalogue id whose mechanism targets match ours;
    every catalogue therapy without targets is refused by the simulator."""
    from resorb.therapy import therapy_catalogue

    catalogue = therapy_catalogue()
    for tid, spec in model.therapies.items():
        assert tid in catalogue, tid
        assert set(spec.catalogue_targets) == {t.target for t in catalogue[tid].mechanism_targets}
    for tid, therapy in catalogue.items():
        if therapy.mechanism_targets:
            assert tid in model.therapies, tid
        else:
            assert tid in model.no_mechanism, tid


def test_expression_prints_the_same_formula_for_python_and_sbml():
    import libsbml

    e = parse_expression(
        "hill(x, K) * inh(y, 2) + (a if t >= 3 else 0.0) - z ** 2",
        known={"x", "K", "y", "a", "t", "z"},
    )
    ns = {"x": 0.7, "K": 0.3, "y": 1.5, "a": 2.0, "t": 4.0, "z": 0.5}
    py = eval(e.to_python(), {}, dict(ns))
    expected = 0.7 / 1.0 * (2 / 3.5) + 2.0 - 0.25
    assert py == pytest.approx(expected)
    ast = libsbml.parseL3Formula(e.to_sbml())
    assert ast is not None
    assert "piecewise" in libsbml.formulaToL3String(ast)


def test_expression_with_undefined_name_or_construct_is_rejected():
    with pytest.raises(ModelError, match="undefined name"):
        parse_expression("k * q", known={"k"})
    with pytest.raises(ModelError, match="not allowed"):
        parse_expression("[1, 2]")
    with pytest.raises(ModelError, match="unknown function"):
        parse_expression("sin(x)")
