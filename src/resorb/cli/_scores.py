"""``resorb score ...``: outcome scores."""

from __future__ import annotations

import typer

from resorb.cli._common import emit
from resorb.errors import InvalidScoreError

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object.")


def _parse_odi_answer(text: str, index: int) -> int | None:
    if text.strip().lower() in ("x", "-", "na", "skip", "skipped"):
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidScoreError(
            f"answer {index}",
            f"{text!r} is not a section score",
            allowed="0-5, or x for a skipped section",
        ) from None


def register(app: typer.Typer) -> None:
    score = typer.Typer(
        help="Outcome scores: ODI, JOA, NRS/VAS, RMDQ and MCID.", no_args_is_help=True
    )
    app.add_typer(score, name="score")

    @score.command("odi")
    def odi(
        answers: list[str] = typer.Argument(
            ..., help="Ten section scores 0-5 in order; x for a skipped section."
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Oswestry Disability Index (Fairbank & Pynsent 2000)."""
        from resorb.scores import odi_percent

        parsed = [_parse_odi_answer(a, i) for i, a in enumerate(answers, start=1)]
        result = odi_percent(parsed)
        emit(
            {
                "odi_percent": round(result.odi_percent, 2),
                "answered": result.answered,
                "band": result.band,
            },
            as_json=as_json,
        )

    @score.command("joa-recovery")
    def joa_recovery(
        pre: float = typer.Option(..., "--pre", help="JOA total before treatment (-6 to 29)."),
        post: float = typer.Option(..., "--post", help="JOA total after treatment (-6 to 29)."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """JOA recovery rate, (post - pre) / (29 - pre) x 100."""
        from resorb.scores import (
            JOA_RECOVERY_GRADES_CHINESE,
            joa_recovery_grade,
            joa_recovery_rate_percent,
        )

        rate = joa_recovery_rate_percent(pre, post)
        table = ", ".join(
            f"{'>=' if inclusive else '>'}{threshold:g} {name}"
            for threshold, inclusive, name in JOA_RECOVERY_GRADES_CHINESE
        )
        emit(
            {
                "recovery_rate_percent": round(rate, 2),
                "grade": joa_recovery_grade(rate),
                "grading": f"Chinese JOA forms (evidence record "
                f"joa_recovery_grades_chinese_percent): {table}, "
                "otherwise ineffective",
            },
            as_json=as_json,
        )

    @score.command("joa")
    def joa(
        items: list[str] = typer.Argument(
            ..., help="Items as name=value, e.g. low_back_pain=2 leg_pain=1 ... bladder=0"
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """JOA low-back score (29 points) from its items."""
        from resorb.scores import JoaItems

        mapping: dict[str, int] = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep:
                raise InvalidScoreError(item, "is not name=value", allowed="e.g. gait=2")
            try:
                mapping[name.strip()] = int(value)
            except ValueError:
                raise InvalidScoreError(
                    f"joa_items.{name}",
                    f"{value!r} is not an integer",
                    allowed="an integer item score",
                ) from None
        j = JoaItems.from_mapping(mapping)
        emit(
            {
                "joa_total": j.total,
                "subjective": j.subjective,
                "clinical_signs": j.clinical_signs,
                "adl": j.adl,
                "bladder": j.bladder,
            },
            as_json=as_json,
        )

    @score.command("rmdq")
    def rmdq(
        answers: list[str] = typer.Argument(..., help="24 answers, 1/y for yes, 0/n for no."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Roland-Morris Disability Questionnaire total (0-24)."""
        from resorb.scores import rmdq_total

        mapping = {"1": 1, "y": 1, "yes": 1, "0": 0, "n": 0, "no": 0}
        parsed = []
        for i, a in enumerate(answers, start=1):
            if a.strip().lower() not in mapping:
                raise InvalidScoreError(f"answer {i}", f"{a!r} is not yes/no", allowed="1/y or 0/n")
            parsed.append(mapping[a.strip().lower()])
        emit({"rmdq": rmdq_total(parsed)}, as_json=as_json)

    @score.command("mcid")
    def mcid(
        scale: str = typer.Argument(..., help="nrs, vas_mm, odi_percent or rmdq"),
        baseline: float = typer.Argument(..., help="Score at baseline."),
        followup: float = typer.Argument(..., help="Score at follow-up."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Whether an improvement reaches the minimal important change (Ostelo 2008)."""
        from resorb.evidence import evidence_value
        from resorb.scores import MCID, mcid_improvement

        r = mcid_improvement(scale, baseline, followup)
        citations = evidence_value(MCID[scale].evidence_id).citations
        emit(
            {
                "scale": r.scale,
                "improvement": r.improvement,
                "improvement_percent": r.improvement_percent,
                "mcid_absolute": r.mcid_absolute,
                "mcid_relative_percent": r.mcid_relative_percent,
                "reached": r.reached,
                "source": dict(citations[0]) if citations else {},
                "evidence_id": MCID[scale].evidence_id,
            },
            as_json=as_json,
        )
