"""One results model, rendered as Gradescope's results.json.

Schema: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (summarised in
shared/reference/autograders.md). Every test of the manifest appears, reported or not.
"""

from __future__ import annotations

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
        return {
            "name": self.name,
            "number": self.number,
            "score": round(self.score, 4),
            "max_score": round(self.max_score, 4),
            "status": "passed" if self.passed else "failed",
            "visibility": self.visibility,
            "output": self.output,
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
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def summary(self) -> TestOutcome:
        """A visible, point-less entry: Gradescope hides the total when any test is hidden."""
        visible = [t for t in self.tests if t.visibility == "visible"]
        earned = sum(t.score for t in visible)
        possible = sum(t.max_score for t in visible)
        passed = f"{sum(t.passed for t in visible)} of {_count(len(visible), 'test')} passed"
        lines = [f"Visible tests: {earned:g} / {possible:g} points ({passed})."]
        for visibility, when in WHEN_SHOWN.items():
            held_back = [t for t in self.tests if t.visibility == visibility]
            if held_back:
                lines.append(f"Hidden tests: {_count(len(held_back), 'test')} worth "
                             f"{sum(t.max_score for t in held_back):g} points, graded now, shown {when}.")
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
        summary = self.summary().to_dict()
        summary["status"] = "passed" if all(t.passed for t in self.tests if t.visibility == "visible") else "failed"
        data = {
            "score": round(self.score, 4),
            "execution_time": round(self.execution_time, 3),
            "output": self.output,
            "output_format": "md",
            "stdout_visibility": "hidden",
            "tests": [summary] + [t.to_dict() for t in self.tests],
            "extra_data": {"max_score": round(self.max_score, 4), **self.extra_data},
        }
        if self.leaderboard:
            data["leaderboard"] = self.leaderboard
        return data


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
