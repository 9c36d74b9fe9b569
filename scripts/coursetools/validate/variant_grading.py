"""Grade variants of a module's reference (mutants, catalogued mistakes) through the real grader.

A full ``make grade`` unzips the bundle and starts ``run_autograder`` for every submission;
for hundreds of variants that start-up dominates. Here the bundle is built once and each
variant is graded by the grader runtime's own ``grade(config, source, submission)``: a fresh
copy of the bundle's tree, the variant's owned file overlaid, each test group (visible and
hidden) in its own killable pytest process, exactly as on Gradescope. The runtime is called
with a one-group slice of ``grader.json`` at a time, so that a mutant can stop at the first
group that loses points, and with the variant's remaining time as the module's budget.
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tinytorch_grader.run import MIN_GROUP_SECONDS, grade

from coursetools.author.markers import render
from coursetools.manifest import Course, Module
from coursetools.release.bundle import build_bundles
from coursetools.release.render import module_label

BUDGET_FACTOR = 5
"""A variant may take this many times the reference's grading time (it may loop forever)."""
MIN_BUDGET = 60.0


@dataclass
class VariantGrade:
    """What grading one variant gave."""

    score: float
    max_score: float
    failed: list[str] = field(default_factory=list)
    """Tests that lost points, as students see them ("<group title> › <test>")."""
    seconds: float = 0.0
    complete: bool = True
    """False when grading stopped at the first group that lost points."""

    @property
    def points_lost(self) -> float:
        return round(self.max_score - self.score, 4)

    @property
    def caught(self) -> bool:
        return self.points_lost > 1e-9


@dataclass
class GradingBench:
    """A module's bundle, built once, ready to grade variants of its reference files."""

    course: Course
    module: Module
    source: Path
    """The unzipped bundle (grader.json, tree/, reference_copy/)."""
    config: dict
    budget: float = 0.0
    """Seconds a variant may take; set from the reference's own grading time."""
    catches: Counter = field(default_factory=Counter)
    """Variants each group has caught so far (per worker process): the best catchers run first
    when stopping early."""

    @classmethod
    def build(cls, course: Course, module: Module, dist: Path) -> "GradingBench":
        folder = build_bundles(course, module, dist)["gradescope_dir"]
        config = json.loads((folder / "grader.json").read_text(encoding="utf-8"))
        return cls(course, module, folder, config, budget=module.budget)

    def reference_texts(self) -> dict[str, str]:
        """The module's owned files as they are in reference/, markers included."""
        return {relative: (self.course.root / "reference" / relative).read_text(encoding="utf-8")
                for relative in self.module.files}

    def calibrate(self) -> VariantGrade:
        """Grade the unchanged reference; it must score full marks. Sets the per-variant budget."""
        baseline = self.grade(self.reference_texts(), stop_early=False)
        if baseline.caught:
            raise RuntimeError(f"module {self.module.number}: the reference itself loses {baseline.points_lost:g} "
                               f"points ({', '.join(baseline.failed[:3])}); fix it before validating")
        self.budget = min(self.module.budget, max(MIN_BUDGET, BUDGET_FACTOR * baseline.seconds))
        return baseline

    def grade(self, texts: dict[str, str], *, stop_early: bool) -> VariantGrade:
        """Grade reference files given as text (markers allowed) like a submission."""
        started = time.monotonic()
        result = VariantGrade(score=0.0, max_score=sum(g["points"] for g in self.config["groups"]))
        with tempfile.TemporaryDirectory(prefix="tt-variant-") as scratch:
            submission = Path(scratch)
            for relative, text in texts.items():
                target = submission / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(self.as_submitted(text, relative), encoding="utf-8")
            for _, group in self.groups_in_order():
                left = self.budget - (time.monotonic() - started)
                if left < MIN_GROUP_SECONDS:
                    result.failed.append(f"{group['title']} (not run: the variant used up its {self.budget:g} s)")
                    result.complete = False
                    break
                config = {**self.config, "module": {**self.config["module"], "budget": left}, "groups": [group]}
                graded, _ = grade(config, self.source, submission)
                result.score += sum(outcome.score for outcome in graded.tests)
                result.failed += [outcome.name for outcome in graded.tests if not outcome.passed]
                if stop_early and result.failed:
                    self.catches[group["name"]] += 1
                    result.complete = False
                    break
        result.score = round(result.score, 6)
        result.seconds = round(time.monotonic() - started, 2)
        return result

    def groups_in_order(self) -> list[tuple[int, dict]]:
        """Groups with their manifest index: timed groups last (slow, and least likely to catch),
        then the groups that caught most variants so far first."""
        indexed = list(enumerate(self.config["groups"], start=1))
        return sorted(indexed, key=lambda item: (bool(item[1].get("max_ratio")), -self.catches[item[1]["name"]]))

    def as_submitted(self, text: str, relative: str) -> str:
        """What a student would hand in: the solution rendering (marker lines dropped)."""
        return render(text, mode="solution", path=relative, module_label=module_label(self.module),
                      context=self.course.context())


# ---------------------------------------------------------------- parallel grading
_WORKER_BENCH: GradingBench | None = None
"""The bench inside one worker process (set once by the pool's initializer)."""


def _start_worker(bench: GradingBench) -> None:
    global _WORKER_BENCH
    _WORKER_BENCH = bench


def _grade_in_worker(texts: dict[str, str], stop_early: bool) -> VariantGrade:
    return _WORKER_BENCH.grade(texts, stop_early=stop_early)


def grade_variants(bench: GradingBench, variants: list[dict[str, str]], *, stop_early: bool, workers: int = 2,
                   on_result: Callable[[int, VariantGrade], None] | None = None) -> list[VariantGrade]:
    """Grade many variants in ``workers`` processes; results in input order, ``on_result`` as each ends.

    Processes, not threads: the grader runtime forks, reaps children and kills by uid, which is
    process-wide state that two grading threads in one process would share.
    """
    results: list[VariantGrade | None] = [None] * len(variants)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                             initargs=(bench,)) as pool:
        futures = {pool.submit(_grade_in_worker, texts, stop_early): index for index, texts in enumerate(variants)}
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            if on_result is not None:
                on_result(index, results[index])
    return results
