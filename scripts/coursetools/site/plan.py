"""The semester plan (``semester.toml`` beside this file): modules and milestones placed in weeks.

The manifest says what the modules are; this plan only says when they are taught. Loading it
checks it against the manifest and the milestone folders, so a renamed module or milestone
breaks the build with a message naming the week, not a page with a dead link.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from coursetools.manifest import Course

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PLAN = Path(__file__).with_name("semester.toml")


class PlanError(ValueError):
    """The semester plan does not fit the manifest or the milestones; the message names the fix."""


@dataclass(frozen=True)
class Part:
    title: str
    modules: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class Milestone:
    folder: str
    """Folder under milestones/ (``04_1998_cnn``)."""
    needs: tuple[str, ...]
    """Modules whose code the milestone runs."""

    @property
    def number(self) -> str:
        return self.folder[:2]

    @property
    def year(self) -> str:
        return self.folder.split("_")[1]


@dataclass(frozen=True)
class Week:
    number: int
    modules: tuple[str, ...]
    milestones: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Plan:
    weeks: tuple[Week, ...]
    parts: tuple[Part, ...]
    milestones: tuple[Milestone, ...]

    def week_of(self, module: str) -> int:
        return next(week.number for week in self.weeks if module in week.modules)

    def milestone(self, folder: str) -> Milestone:
        return next(m for m in self.milestones if m.folder == folder)

    def unlocked_by(self, module: str) -> list[Milestone]:
        """Milestones whose last needed module is this one (what finishing it unlocks)."""
        return [m for m in self.milestones if max(m.needs) == module]

    def part_of(self, module: str) -> Part:
        return next(part for part in self.parts if module in part.modules)


def load_plan(course: Course, path: Path = PLAN) -> Plan:
    """Read and check the plan against the course's manifest and milestones/ folders."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PlanError(f"{path}: {error}") from None
    plan = Plan(
        weeks=tuple(Week(int(w["week"]), tuple(w.get("modules", [])), tuple(w.get("milestones", [])), w.get("note", ""))
                    for w in data.get("week", [])),
        parts=tuple(Part(p["title"], tuple(p["modules"]), p.get("summary", "")) for p in data.get("part", [])),
        milestones=tuple(Milestone(m["folder"], tuple(m["needs"])) for m in data.get("milestone", [])),
    )
    problems = _problems(course, plan)
    if problems:
        raise PlanError(f"{path}: " + "; ".join(problems))
    return plan


def _problems(course: Course, plan: Plan) -> list[str]:
    numbers = [m.number for m in course.modules]
    taught = [n for week in plan.weeks for n in week.modules]
    problems = [f"module {n} is taught {taught.count(n)} times (once expected)" for n in numbers if taught.count(n) != 1]
    problems += [f"module {n} is not in reference/course.toml" for n in sorted(set(taught) - set(numbers))]
    in_parts = [n for part in plan.parts for n in part.modules]
    problems += [f"module {n} belongs to {in_parts.count(n)} parts (one expected)" for n in numbers
                 if in_parts.count(n) != 1]
    if [w.number for w in plan.weeks] != list(range(1, len(plan.weeks) + 1)):
        problems.append("weeks must be numbered 1, 2, 3 ... in order")
    if problems:
        return problems
    order = {n: i for i, n in enumerate(taught)}
    for module in course.modules:
        late = [d for d in module.depends if order[d] > order[module.number]]
        problems += [f"module {module.number} is taught before module {d}, which it depends on" for d in late]
    folders = {p.name for p in (course.root / "milestones").iterdir() if p.is_dir() and p.name[:2].isdigit()}
    problems += [f"milestone {m.folder} is not a folder under milestones/" for m in plan.milestones
                 if m.folder not in folders]
    problems += [f"milestones/{f} has no [[milestone]] entry" for f in sorted(folders - {m.folder for m in plan.milestones})]
    for week in plan.weeks:
        for folder in week.milestones:
            known = [m for m in plan.milestones if m.folder == folder]
            if not known:
                problems.append(f"week {week.number} opens milestone {folder}, which has no [[milestone]] entry")
                continue
            early = [n for n in known[0].needs if plan.week_of(n) > week.number]
            problems += [f"week {week.number} opens {folder} before module {n} is taught" for n in early]
    opened = [f for week in plan.weeks for f in week.milestones]
    problems += [f"milestone {m.folder} is opened in {opened.count(m.folder)} weeks (one expected)"
                 for m in plan.milestones if opened.count(m.folder) != 1]
    return problems
