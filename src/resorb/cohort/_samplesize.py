"""Minimum sample size for developing a binary-outcome prediction model.

Riley RD, Snell KIE, Ensor J, et al. Minimum sample size for developing a
multivariable prediction model: PART II - binary and time-to-event outcomes.
Stat Med 2019;38(7):1276-96, doi:10.1002/sim.7992. Riley RD, Ensor J, Snell
KIE, et al. Calculating the sample size required for developing a clinical
prediction model. BMJ 2020;368:m441, doi:10.1136/bmj.m441.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from resorb.errors import InvalidInputError

__all__ = ["SampleSizeCheck", "max_r2_cs", "riley_sample_size"]


def max_r2_cs(prevalence: float) -> float:
    """Largest Cox-Snell R2 possible for an outcome with this prevalence."""
    phi = prevalence
    ln_lnull = phi * math.log(phi) + (1 - phi) * math.log(1 - phi)
    return 1 - math.exp(2 * ln_lnull)


@dataclass(frozen=True, slots=True)
class SampleSizeCheck:
    """Riley's three criteria and whether a data set meets them.

    Attributes
    ----------
    n_shrinkage : int
        Criterion 1, expected uniform shrinkage >= ``shrinkage``.
    n_optimism : int
        Criterion 2, apparent minus adjusted Nagelkerke R2 <= ``delta``.
    n_intercept : int
        Criterion 3, overall risk estimated within +/- ``margin``.
    n_required : int
        The largest of the three.
    """

    parameters: int
    prevalence: float
    r2_cs: float
    r2_source: str
    shrinkage: float
    n_shrinkage: int
    n_optimism: int
    n_intercept: int
    n_required: int
    events_required: float
    events_per_parameter: float
    n_available: int | None = None

    @property
    def met(self) -> bool | None:
        return None if self.n_available is None else self.n_available >= self.n_required

    def to_dict(self) -> dict:
        return {
            "parameters": self.parameters,
            "prevalence": self.prevalence,
            "r2_cs": self.r2_cs,
            "r2_source": self.r2_source,
            "target_shrinkage": self.shrinkage,
            "n_criterion_1_shrinkage": self.n_shrinkage,
            "n_criterion_2_optimism": self.n_optimism,
            "n_criterion_3_intercept": self.n_intercept,
            "n_required": self.n_required,
            "events_required": self.events_required,
            "events_per_parameter": self.events_per_parameter,
            "n_available": self.n_available,
            "met": self.met,
        }


def riley_sample_size(
    *,
    parameters: int,
    prevalence: float,
    r2_cs: float | None = None,
    r2_nagelkerke: float | None = None,
    shrinkage: float = 0.9,
    delta: float = 0.05,
    margin: float = 0.05,
    n_available: int | None = None,
) -> SampleSizeCheck:
    """Minimum n for a logistic prediction model (Riley et al. 2019/2020).

    Parameters
    ----------
    parameters : int
        Candidate predictor parameters (spline terms and dummies each count).
    prevalence : float
        Anticipated outcome proportion, 0-1.
    r2_cs : float, optional
        Anticipated Cox-Snell R2 (adjusted, from earlier studies).
    r2_nagelkerke : float, optional
        Or the anticipated Nagelkerke R2; converted with ``max_r2_cs``. When
        neither is given, Nagelkerke R2 = 0.15 is assumed, the conservative
        default Riley et al. (BMJ 2020) suggest when nothing is known.
    shrinkage, delta, margin : float
        Target shrinkage (criterion 1), tolerated optimism in Nagelkerke R2
        (criterion 2), margin of error of the overall risk (criterion 3).
    n_available : int, optional
        Size of the data at hand, to report whether it meets the criteria.
    """
    if parameters < 1:
        raise InvalidInputError("parameters", str(parameters), allowed="an integer >= 1")
    if not 0 < prevalence < 1:
        raise InvalidInputError("prevalence", str(prevalence), allowed="between 0 and 1")
    r2_max = max_r2_cs(prevalence)
    if r2_cs is None:
        nag = 0.15 if r2_nagelkerke is None else r2_nagelkerke
        source = (
            "assumption: Nagelkerke R2 0.15 (Riley et al. BMJ 2020 default)"
            if r2_nagelkerke is None
            else "anticipated Nagelkerke R2"
        )
        r2_cs = nag * r2_max
    else:
        source = "anticipated Cox-Snell R2"
    if not 0 < r2_cs < r2_max:
        raise InvalidInputError(
            "r2_cs", f"{r2_cs:.4g}", allowed=f"between 0 and {r2_max:.4g} for this prevalence"
        )
    if r2_cs >= shrinkage:
        raise InvalidInputError(
            "shrinkage",
            f"{shrinkage} is below R2 {r2_cs:.3g}",
            allowed="a shrinkage target above the anticipated R2",
        )

    def n_for(s: float) -> int:
        return math.ceil(parameters / ((s - 1) * math.log(1 - r2_cs / s)))

    n1 = n_for(shrinkage)
    s2 = r2_cs / (r2_cs + delta * r2_max)
    n2 = n_for(s2)
    n3 = math.ceil((1.959963984540054 / margin) ** 2 * prevalence * (1 - prevalence))
    n = max(n1, n2, n3)
    events = n * prevalence
    return SampleSizeCheck(
        parameters,
        prevalence,
        r2_cs,
        source,
        shrinkage,
        n1,
        n2,
        n3,
        n,
        events,
        events / parameters,
        n_available,
    )
