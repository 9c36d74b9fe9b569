"""Assessment validity: do a module's tests tell a right implementation from a wrong one?

For a released module, ``make validate MODULE=NN``:

1. builds the module's grader bundle once and grades the unchanged reference (full marks
   required; its time sets each variant's budget);
2. grades every catalogued student mistake (``validation/NN_slug/mistakes/*.patch``) in full,
   through the visible and hidden groups: each must lose points, and the report names the
   tests that caught it;
3. grades every shortcut variant (``coursetools.validate.shortcuts``: a region rewritten by its declared
   kind: the fast call, float arithmetic, Python loops, fresh copies): each must lose points;
4. grades every mutant of the solution regions (``coursetools.validate.mutants``), stopping at the first
   group that loses points; a surviving mutant marked equivalent (``validation/NN_slug/equivalent.toml``)
   leaves the score's denominator only once its randomized property confirms the mark;
5. prints the mutation score and each survivor with its diff, and (for a full run) writes
   ``validation/reports/NN_slug.json`` and ``.md``, with the run's wall time.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.manifest import Course, Module, load_course
from coursetools.validate.equivalents import PROOF_TRIALS, Mark, load_mark_entries, prove_mark
from coursetools.validate.mistakes import MIN_MISTAKES, Mistake, apply_mistake, load_catalogue
from coursetools.validate.mutants import Mutant, mutants_of_file
from coursetools.validate.shortcuts import shortcuts_of_file
from coursetools.validate.validation_report import print_summary, reports_dir, write_reports
from coursetools.validate.variant_grading import GradingBench, VariantGrade, grade_variants

SCORE_GOAL = 90.0
"""Every released module's mutation score must reach this (percent)."""


@dataclass
class MistakeResult:
    name: str
    description: str
    points_lost: float
    caught_by: list[str]


@dataclass
class MutantResult:
    """A graded token mutant or shortcut variant."""

    mutant: Mutant
    caught: bool
    first_failed: str = ""
    equivalent_reason: str = ""
    """The mark's reason, once its property confirmed it (only then is it equivalent)."""
    mark_problem: str = ""
    """Why a mark on this survivor was not accepted (no property, property refuted or broken)."""


@dataclass
class ModuleValidation:
    """Everything one validation run found for one module."""

    module: Module
    max_score: float
    mistakes: list[MistakeResult] = field(default_factory=list)
    mutants: list[MutantResult] = field(default_factory=list)
    shortcuts: list[MutantResult] = field(default_factory=list)
    stale_marks: list[str] = field(default_factory=list)
    mutants_run: bool = False
    sampled: bool = False
    carried_over: int = 0
    """Mutants caught by the committed report and not graded again (a --survivors run)."""
    seconds: float = 0.0

    @property
    def caught(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.caught]

    @property
    def equivalent(self) -> list[MutantResult]:
        return [m for m in self.mutants if not m.caught and m.equivalent_reason]

    @property
    def survivors(self) -> list[MutantResult]:
        return [m for m in self.mutants if not m.caught and not m.equivalent_reason]

    @property
    def shortcut_survivors(self) -> list[MutantResult]:
        return [s for s in self.shortcuts if not s.caught]

    @property
    def rejected_marks(self) -> list[MutantResult]:
        return [m for m in self.survivors if m.mark_problem]

    @property
    def score(self) -> float:
        """Caught mutants as a percentage of the non-equivalent ones (100 when there are none)."""
        counted = len(self.mutants) - len(self.equivalent)
        return round(100.0 * len(self.caught) / counted, 1) if counted else 100.0

    @property
    def uncaught_mistakes(self) -> list[MistakeResult]:
        return [m for m in self.mistakes if m.points_lost <= 0]

    def problems(self) -> list[str]:
        """Why this module fails validation (empty: it passes)."""
        found = [f"mistake '{m.name}' loses no points" for m in self.uncaught_mistakes]
        if len(self.mistakes) < MIN_MISTAKES:
            found.append(f"the catalogue has {len(self.mistakes)} mistakes; a released module needs {MIN_MISTAKES}")
        if self.mutants_run and not self.sampled and self.score < SCORE_GOAL:
            found.append(f"mutation score {self.score:g}% is below {SCORE_GOAL:g}%")
        found += [f"shortcut variant '{s.mutant.id}' keeps full marks" for s in self.shortcut_survivors]
        return found


def main(*, module: str = "all", workers: int = 2, catalogue_only: bool = False,
         sample: int | None = None, survivors: bool = False, write: bool | None = None) -> list[ModuleValidation]:
    """Validate one released module ("01") or every released one ("all"); print and report.

    Args:
        catalogue_only: grade the mistakes and shortcut variants only, no token mutants (what CI runs).
        sample: grade this many mutants, drawn at random with a fixed seed per module.
        survivors: after strengthening tests, grade every mutant the committed report did not catch
            and keep the ones it caught (tests are only ever added, so they stay caught); the result
            is a complete report and is written.
        write: write validation/reports/ (default: for a full or a survivors run).
    """
    course = load_course()
    modules = course.released() if module == "all" else [course.module(module)]
    for chosen in modules:
        if not chosen.released:
            raise ValueError(f"module {chosen.number} is not released (status = {chosen.status!r} in the manifest); "
                             "validate a released module")
    write = (not catalogue_only and sample is None) if write is None else write
    results = []
    for chosen in modules:
        outcome = validate_module(course, chosen, workers=workers, catalogue_only=catalogue_only, sample=sample,
                                  caught_before=committed_caught(course, chosen) if survivors else None)
        print_summary(outcome)
        if write:
            for path in write_reports(course, outcome):
                print(f"wrote {path.relative_to(course.root)}")
        results.append(outcome)
    return results


def validate_module(course: Course, module: Module, *, workers: int = 2, catalogue_only: bool = False,
                    sample: int | None = None, caught_before: dict[str, str] | None = None) -> ModuleValidation:
    """Grade the module's mistakes and (unless catalogue_only) its mutants.

    The bundle is built in a private folder: a concurrent ``make release`` must not swap it mid-run.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tt-validate-") as dist:
        result = _validate_with_bundle(GradingBench.build(course, module, Path(dist)), workers=workers,
                                       catalogue_only=catalogue_only, sample=sample, caught_before=caught_before)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _validate_with_bundle(bench: GradingBench, *, workers: int, catalogue_only: bool,
                          sample: int | None, caught_before: dict[str, str] | None) -> ModuleValidation:
    course, module = bench.course, bench.module
    baseline = bench.calibrate()
    result = ModuleValidation(module=module, max_score=baseline.max_score)
    result.mistakes = grade_mistakes(bench, load_catalogue(course, module), workers=workers)
    result.shortcuts = grade_shortcuts(bench, module_shortcuts(bench), workers=workers)
    if not catalogue_only:
        mutants = module_mutants(bench)
        kept: list[MutantResult] = []
        if caught_before is not None:
            kept = [MutantResult(m, True, caught_before[m.id]) for m in mutants if m.id in caught_before]
            mutants = [m for m in mutants if m.id not in caught_before]
            result.carried_over = len(kept)
        if sample is not None and sample < len(mutants):
            mutants = random.Random(int(module.number)).sample(mutants, sample)
            result.sampled = True
        marks = load_mark_entries(course, module)
        result.mutants = kept + grade_mutants(bench, mutants, marks, workers=workers)
        result.mutants_run = True
        if not result.sampled:
            still_needed = {m.mutant.id for m in result.mutants if not m.caught}
            result.stale_marks = sorted(set(marks) - still_needed)
    return result


def committed_caught(course: Course, module: Module) -> dict[str, str]:
    """{mutant id: first failing test} of the mutants the committed full report caught."""
    path = reports_dir(course) / f"{module.dirname}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run a full 'make validate MODULE={module.number}' first")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("mutation", {}).get("sampled"):
        raise ValueError(f"{path} comes from a sampled run; run a full 'make validate MODULE={module.number}'")
    return {entry["id"]: entry["first_failed"] for entry in data.get("caught", [])}


def module_mutants(bench: GradingBench) -> list[Mutant]:
    found = []
    for relative, text in bench.reference_texts().items():
        found += mutants_of_file(text, relative)
    return found


def module_shortcuts(bench: GradingBench) -> list[Mutant]:
    found = []
    for relative, text in bench.reference_texts().items():
        found += shortcuts_of_file(text, relative)
    return found


def grade_shortcuts(bench: GradingBench, shortcuts: list[Mutant], *, workers: int) -> list[MutantResult]:
    """Grade each shortcut variant until its first failing group: each must lose points."""
    originals = bench.reference_texts()

    def report_progress(index: int, grade: VariantGrade) -> None:
        verdict = "caught" if grade.caught else "SURVIVED"
        print(f"  [shortcut {index + 1}/{len(shortcuts)}] {verdict:<10} {grade.seconds:5.1f}s  {shortcuts[index].id}",
              file=sys.stderr, flush=True)

    variants = [{**originals, shortcut.path: shortcut.mutated_text} for shortcut in shortcuts]
    grades = grade_variants(bench, variants, stop_early=True, workers=workers, on_result=report_progress)
    return [MutantResult(shortcut, grade.caught, grade.failed[0] if grade.failed else "")
            for shortcut, grade in zip(shortcuts, grades)]


def grade_mistakes(bench: GradingBench, mistakes: list[Mistake], *, workers: int,
                   full: bool = True) -> list[MistakeResult]:
    """Grade each mistake; in full (all groups) the report can say every test that caught it,
    otherwise grading stops at the first group that loses points (enough to know it is caught)."""
    variants = [apply_mistake(bench.course, bench.module, mistake) for mistake in mistakes]
    grades = grade_variants(bench, variants, stop_early=not full, workers=workers)
    return [MistakeResult(mistake.name, mistake.description, grade.points_lost, grade.failed)
            for mistake, grade in zip(mistakes, grades)]


def grade_mutants(bench: GradingBench, mutants: list[Mutant], marks: dict[str, Mark], *,
                  workers: int) -> list[MutantResult]:
    """Grade each mutant until its first failing group; print one progress line per mutant.

    A survivor with a mark is equivalent only if the mark's property confirms it (``prove_mark``).
    """
    originals = bench.reference_texts()

    def report_progress(index: int, grade: VariantGrade) -> None:
        mutant = mutants[index]
        verdict = "caught" if grade.caught else ("equivalent" if mutant.id in marks else "SURVIVED")
        print(f"  [{index + 1}/{len(mutants)}] {verdict:<10} {grade.seconds:5.1f}s  {mutant.region}: "
              f"{mutant.operator} line {mutant.line}", file=sys.stderr, flush=True)

    variants = [{**originals, mutant.path: mutant.mutated_text} for mutant in mutants]
    grades = grade_variants(bench, variants, stop_early=True, workers=workers, on_result=report_progress)
    results = [MutantResult(mutant, grade.caught, grade.failed[0] if grade.failed else "")
               for mutant, grade in zip(mutants, grades)]
    for result in results:
        mark = marks.get(result.mutant.id)
        if mark is not None and not result.caught:
            check_mark(bench, result, mark)
    return results


def check_mark(bench: GradingBench, result: MutantResult, mark: Mark) -> None:
    """Accept the mark on a survivor (equivalent_reason) or say why not (mark_problem)."""
    problem = prove_mark(bench.course, bench.module, mark, {result.mutant.path: result.mutant.mutated_text})
    verdict = f"mark REJECTED: {problem}" if problem else f"mark confirmed by {mark.property}"
    print(f"  {verdict}  ({result.mutant.id})", file=sys.stderr, flush=True)
    if problem:
        result.mark_problem = problem
    else:
        within = f", floats within {mark.tolerance:g} relative" if mark.tolerance else ", bit-identical"
        result.equivalent_reason = f"{mark.reason} (confirmed by {mark.property} on {PROOF_TRIALS} seeds{within})"
