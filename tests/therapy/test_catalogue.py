"""Therapy catalogue: required ids, evidence kept apart and sourced, no claims beyond it."""

from __future__ import annotations

import json
import textwrap

import pytest

from cli_helpers import run_cli
from resorb.errors import EvidenceError, InvalidInputError
from resorb.evidence import load_evidence
from resorb.therapy import (
    DIRECTIONS,
    MECHANISM_TARGETS,
    get_therapy,
    load_catalogue_text,
    therapy_catalogue,
)

REQUIRED = (
    "nsaid",
    "oral_steroid",
    "epidural_steroid",
    "anti_tnf",
    "exercise",
    "physiotherapy",
    "traction",
    "manipulation",
    "acupuncture",
    "tcm_formula",
    "macrophage_therapy",
)
CATALOGUE = therapy_catalogue()


def test_required_ids_are_present():
    assert set(REQUIRED) <= set(CATALOGUE)
    assert "gabapentinoid" in CATALOGUE


@pytest.mark.parametrize("therapy_id", sorted(CATALOGUE))
def test_symptom_and_resorption_evidence_are_separate_and_sourced(therapy_id):
    t = CATALOGUE[therapy_id]
    assert t.symptoms and t.resorption
    sources = load_evidence().sources
    for finding in (*t.symptoms, *t.resorption):
        assert finding.direction in DIRECTIONS
        assert finding.finding and finding.certainty
        if finding.direction != "not_measured":
            assert finding.citations, f"{therapy_id}: an unsourced finding"
        for sid in finding.sources:
            assert sid in sources
    assert any(
        "doi" in c or "pmid" in c for f in (*t.symptoms, *t.resorption) for c in f.citations
    ) or all(f.direction == "not_measured" for f in t.resorption)


@pytest.mark.parametrize("therapy_id", sorted(CATALOGUE))
def test_no_therapy_claims_to_speed_resorption(therapy_id):
    """No controlled human study shows any conservative therapy speeding resorption
    (reference notes 6.4; Autio 2004/2006 RCTs were null), so no resorption finding
    may read as a benefit."""
    directions = {f.direction for f in CATALOGUE[therapy_id].resorption}
    assert directions <= {"no_difference", "not_measured", "uncontrolled", "preclinical"}


def test_the_two_resorption_rcts_are_recorded_as_null():
    assert CATALOGUE["anti_tnf"].resorption[0].direction == "no_difference"
    assert {"pmid": "15284501", "doi": "10.1097/01.brs.0000132511.46818.67"} in CATALOGUE[
        "epidural_steroid"
    ].resorption[0].citations


@pytest.mark.parametrize(
    ("therapy_id", "stance"),
    [
        ("acupuncture", "do not offer"),
        ("traction", "do not offer"),
        ("gabapentinoid", "do not offer for sciatica"),
        ("oral_steroid", "do not offer for sciatica"),
        ("epidural_steroid", "consider for acute and severe sciatica"),
    ],
)
def test_nice_stances(therapy_id, stance):
    stances = [g for g in CATALOGUE[therapy_id].guideline if g.body.startswith("NICE")]
    assert [g.stance for g in stances] == [stance]
    assert stances[0].citations


def test_macrophage_therapy_is_preclinical_only():
    t = CATALOGUE["macrophage_therapy"]
    assert t.status == "preclinical"
    assert {f.direction for f in t.resorption} == {"preclinical"}
    assert "rats only" in t.description or "rat" in t.resorption[0].finding


@pytest.mark.parametrize("therapy_id", sorted(CATALOGUE))
def test_mechanism_targets_are_known_terms(therapy_id):
    t = CATALOGUE[therapy_id]
    for target in t.mechanism_targets:
        assert target.action in MECHANISM_TARGETS[target.target]
    assert bool(t.mechanism_targets) == (t.mechanism_class is not None)


def test_anti_tnf_targets_tnf():
    assert [(m.target, m.action) for m in CATALOGUE["anti_tnf"].mechanism_targets] == [
        ("tnf", "neutralise")
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nsaids", "nsaid"),
        ("NSAIDs", "nsaid"),
        ("epidural-steroid", "epidural_steroid"),
        ("Infliximab", "anti_tnf"),
        ("gabapentin", "gabapentinoid"),
        ("TCM", "tcm_formula"),
    ],
)
def test_aliases_are_accepted(name, expected):
    assert get_therapy(name).id == expected


def test_unknown_therapy_lists_the_allowed_ids():
    with pytest.raises(InvalidInputError) as info:
        get_therapy("aspirin")
    assert info.value.field == "therapy"
    for tid in REQUIRED:
        assert tid in info.value.allowed


def test_catalogue_is_read_only():
    with pytest.raises(TypeError):
        CATALOGUE["x"] = CATALOGUE["nsaid"]  # type: ignore[index]
    with pytest.raises(TypeError):
        CATALOGUE["nsaid"].symptoms[0].citations[0]["doi"] = "x"  # type: ignore[index]


def test_to_dict_is_json():
    for t in CATALOGUE.values():
        data = json.loads(json.dumps(t.to_dict()))
        assert {"symptoms", "resorption", "guideline", "mechanism_targets"} <= set(data)


GOOD = """
therapies:
  - id: x
    name: X
    category: drug
    status: established
    description: d
    symptoms: [{finding: f, direction: benefit, certainty: low, sources: [zou2023]}]
    resorption: [{finding: f, direction: not_measured, certainty: c, sources: []}]
"""


def test_a_valid_catalogue_loads():
    assert list(load_catalogue_text(GOOD)) == ["x"]


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("sources: [zou2023]", "sources: [nobody2020]", "unknown source"),
        ("direction: benefit", "direction: miracle", "direction"),
        ("sources: [zou2023]", "sources: []", "at least one source"),
        (
            "    resorption:",
            "    guideline: [{body: B, stance: s, statement: nope}]\n    resorption:",
            "unknown guideline statement",
        ),
        (
            "    resorption:",
            "    mechanism_targets: [{target: qi, action: promote}]\n    resorption:",
            "unknown mechanism target",
        ),
        (
            "    resorption:",
            "    mechanism_targets: [{target: tnf, action: promote}]\n    resorption:",
            "not allowed",
        ),
        ("    resorption:", "    aliases: [x]\n    resorption:", "already used"),
    ],
)
def test_malformed_catalogues_are_refused(replace, by, message):
    text = textwrap.dedent(GOOD).replace(replace, by, 1)
    with pytest.raises(EvidenceError, match=message):
        load_catalogue_text(text)


run = run_cli


def test_cli_list_and_show(capsys):
    code, out, _ = run(capsys, "therapy", "list", "--json")
    assert code == 0
    assert {t["id"] for t in json.loads(out)["therapies"]} == set(CATALOGUE)
    code, out, _ = run(capsys, "therapy", "show", "nsaids", "--json")
    assert code == 0 and json.loads(out)["id"] == "nsaid"
    code, out, _ = run(capsys, "therapy", "show", "traction")
    assert code == 0 and "[inferior;" in out


def test_cli_unknown_therapy_exits_2_with_one_line(capsys):
    code, out, err = run(capsys, "therapy", "show", "aspirin")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "allowed: nsaid" in err
