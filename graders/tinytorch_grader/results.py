"""One results model, rendered as Gradescope's results.json.

Schema: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (summarised in
shared/reference/autograders.md). Every test of the manifest appears, reported or not.

The rendering is always strict JSON (``json.dumps(..., allow_nan=False)`` succeeds), whatever
numbers a test or a submission produced: NaN and infinity are not JSON, and Gradescope rejects a
results.json holding them. A non-finite score counts 0 with a message in that test's output; a
non-finite number anywhere else becomes null, a leaderboard entry with one is left out, and
``extra_data.non_finite`` lists where each was.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

WHEN_SHOWN = {
    "after_due_date": "after the due date",
    "after_published": "when grades are published",
    "hidden": "to instructors only",
}
"""Gradescope's visibilities other than "visible", and when students see such a test."""


@dataclass
class TestOutcome:
    """The graded result of one test."""

    __test__ = False  # a data class, not a pytest test

    name: str
    """What students see: "<group title> › <test name>"."""
    number: str
    """"G.k": group index and test index in manifest order; Gradescope sorts by it."""
    score: float
    max_score: float
    visibility: str
    output: str = ""
    """Markdown feedback: the failing assertion, expected vs got, a hint."""
    tags: list[str] = field(default_factory=list)
    extra_data: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score - 1e-9

    def to_dict(self) -> dict:
        score, max_score, output = finite_score(self.score), finite_score(self.max_score), self.output
        if (score, max_score) != (self.score, self.max_score):
            output = (output + "\n\n" if output else "") + NON_FINITE_SCORE.format(score=self.score)
        return {
            "name": self.name,
            "number": self.number,
            "score": round(score, 4),
            "max_score": round(max_score, 4),
            "status": "passed" if self.passed and score == self.score else "failed",
            "visibility": self.visibility,
            "output": output,
            "output_format": "md",
            "tags": self.tags,
            "extra_data": self.extra_data,
        }


@dataclass
class GradeResult:
    """Everything one grading run produced."""

    tests: list[TestOutcome]
    execution_time: float = 0.0
    output: str = ""
    leaderboard: list[dict] = field(default_factory=list)
    extra_data: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(finite_score(t.score) for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(finite_score(t.max_score) for t in self.tests)

    def summary(self) -> TestOutcome:
        """A visible, point-less entry: Gradescope hides the total when any test is hidden."""
        visible = [t for t in self.tests if t.visibility == "visible"]
        earned = sum(finite_score(t.score) for t in visible)
        possible = sum(finite_score(t.max_score) for t in visible)
        passed = f"{sum(t.passed for t in visible)} of {_count(len(visible), 'test')} passed"
        lines = [f"Visible tests: {earned:g} / {possible:g} points ({passed})."]
        for visibility, when in WHEN_SHOWN.items():
            held_back = [t for t in self.tests if t.visibility == visibility]
            if held_back:
                lines.append(f"Hidden tests: {_count(len(held_back), 'test')} worth "
                             f"{sum(finite_score(t.max_score) for t in held_back):g} points, graded now, shown {when}.")
        return TestOutcome(
            name="Summary",
            number="0.0",
            score=0.0,
            max_score=0.0,
            visibility="visible",
            output="\n\n".join(lines),
            tags=["summary"],
        )

    def to_gradescope_dict(self) -> dict:
        """Gradescope's results.json as a dict that ``json.dumps(..., allow_nan=False)`` accepts."""
        summary = self.summary().to_dict()
        summary["status"] = "passed" if all(t.passed for t in self.tests if t.visibility == "visible") else "failed"
        tests = [t.to_dict() for t in self.tests]
        notes: list[str] = []
        leaderboard = [entry for index, entry in enumerate(self.leaderboard) if _finite_entry(entry, index, notes)]
        data = {
            "score": round(self.score, 4),
            "execution_time": round(finite_score(self.execution_time), 3),
            "output": self.output,
            "output_format": "md",
            "stdout_visibility": "hidden",
            "tests": [summary] + tests,
            "extra_data": {"max_score": round(self.max_score, 4), **self.extra_data},
        }
        if leaderboard:
            data["leaderboard"] = leaderboard
        data = strict_json(data, "", notes)
        if notes:
            data["extra_data"]["non_finite"] = notes
        return data


NON_FINITE_SCORE = "**Scored 0**: the grader computed a score of {score} for this test, which is not a number."


def finite_score(value: float) -> float:
    """A score as a finite float; NaN, infinity and anything not a number count 0."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def _finite_entry(entry: object, index: int, notes: list[str]) -> bool:
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(float(value)):
        notes.append(f"leaderboard[{index}] ({entry.get('name')!s:.80}) was {float(value)}: entry left out")
        return False
    return True


def strict_json(value: object, where: str = "", notes: list[str] | None = None) -> object:
    """A copy of ``value`` made of JSON types only: non-finite floats become None (noted in ``notes``
    with their path), other numbers plain int/float, keys strings, tuples lists, NumPy values their ``tolist()``,
    anything else str."""
    notes = [] if notes is None else notes
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number):
            return number
        notes.append(f"{where or '.'} was {number}: written as null")
        return None
    if isinstance(value, dict):
        return {str(key): strict_json(item, f"{where}.{key}", notes) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item, f"{where}[{index}]", notes) for index, item in enumerate(value)]
    to_list = getattr(value, "tolist", None)  # NumPy scalars and arrays, without importing NumPy
    if callable(to_list):
        try:
            return strict_json(to_list(), where, notes)
        except Exception:  # a hostile object's tolist: fall back to its text
            pass
    return str(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
