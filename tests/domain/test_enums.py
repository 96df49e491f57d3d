"""Classification scales: sources, definitions, parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resorb.domain import enums
from resorb.domain.enums import (
    CanalCompromise,
    HerniationMorphology,
    MSUZone,
    PfirrmannGrade,
    SpinalLevel,
    parse_enum,
)
from resorb.errors import InvalidFindingError

SCALES = [getattr(enums, name) for name in enums.__all__ if isinstance(getattr(enums, name), type)]


@pytest.mark.parametrize("scale", SCALES, ids=lambda s: s.__name__)
def test_every_scale_has_a_docstring_and_every_member_a_definition(scale):
    assert scale.__doc__ and len(scale.__doc__) > 30
    for member in scale:
        assert member.definition, f"{scale.__name__}.{member.name} lacks a definition"


@pytest.mark.parametrize("scale", SCALES, ids=lambda s: s.__name__)
def test_every_member_round_trips_through_its_value(scale):
    for member in scale:
        assert parse_enum(scale, member.value, field="x") is member
        assert parse_enum(scale, str(member.value), field="x") is member
        assert parse_enum(scale, member.name, field="x") is member


def test_unverified_scales_say_so_in_their_docstrings():
    assert "UNVERIFIED" in enums.IwabuchiType.__doc__
    assert "could not be verified" in " ".join(enums.KomoriType.__doc__.split())


def test_fardon_morphology_cites_the_nomenclature():
    assert "10.1016/j.spinee.2014.04.022" in HerniationMorphology.__doc__


def test_levels_are_the_five_lumbar_discs():
    assert [lvl.value for lvl in SpinalLevel] == ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]


def test_unknown_value_lists_allowed_values():
    with pytest.raises(
        InvalidFindingError,
        match=r"zone: 'D' is not a valid value \(allowed: "
        r"A, B, C, AB, BC\)",
    ):
        parse_enum(MSUZone, "D", field="zone")


def test_booleans_are_not_scale_values():
    with pytest.raises(InvalidFindingError):
        parse_enum(PfirrmannGrade, True, field="pfirrmann")


@pytest.mark.parametrize(
    ("percent", "grade"),
    [
        (0, CanalCompromise.MILD),
        (33.3, CanalCompromise.MILD),
        (33.34, CanalCompromise.MODERATE),
        (66.6, CanalCompromise.MODERATE),
        (66.7, CanalCompromise.SEVERE),
        (100, CanalCompromise.SEVERE),
    ],
)
def test_canal_compromise_thirds(percent, grade):
    assert CanalCompromise.from_percent(percent) is grade


@given(st.floats(min_value=0, max_value=100))
def test_canal_compromise_is_monotone(percent):
    order = list(CanalCompromise)
    lower = CanalCompromise.from_percent(max(0.0, percent - 10))
    assert order.index(lower) <= order.index(CanalCompromise.from_percent(percent))
