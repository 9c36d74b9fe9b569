"""The strip check (ARCHITECTURE rule 3): every test earns its points.

For a released module:
1. the solution repository graded through the bundle scores full marks;
2. the skeleton repository scores zero;
3. for each solution region, a tree where only that region is a stub makes at least one
   of the module's tests (visible or hidden) fail, so no region goes unexamined.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue

import pytest

from coursetools.grade.submission import grade_with_bundle
from coursetools.manifest import Course, Module, load_course
from coursetools.release.bundle import build_bundles, write_tree
from coursetools.release.pipeline import release_repository
from coursetools.release.render import module_regions, render_file
from coursetools.validate.warm_pytest import WarmPytest


CAUGHT = "caught"
UNCAUGHT = "uncaught"
PROBE_TIMEOUT = 60
"""Per-test seconds in a probe run; a stub raises at once, so only a hang would reach it."""


@dataclass
class StripReport:
    module: str
    solution_score: float
    skeleton_score: float
    max_score: float
    uncaught_regions: list[str] = field(default_factory=list)
    """Regions whose stub alone makes no test fail."""
    broken_regions: dict[str, str] = field(default_factory=dict)
    """Regions whose stub alone stops pytest before tests run (rule 2: a stub must import), with why."""
    regions_checked: int = 0

    @property
    def ok(self) -> bool:
        full = abs(self.solution_score - self.max_score) < 1e-6
        return full and self.skeleton_score == 0 and not self.uncaught_regions and not self.broken_regions

    def describe(self) -> str:
        caught = self.regions_checked - len(self.uncaught_regions) - len(self.broken_regions)
        lines = [
            (f"module {self.module}: solution {self.solution_score:g}/{self.max_score:g}, "
             f"skeleton {self.skeleton_score:g}, regions caught {caught}/{self.regions_checked}")
        ]
        lines += [f"  no test fails when only '{name}' is a stub" for name in self.uncaught_regions]
        lines += [f"  pytest stops before any test when only '{name}' is a stub:\n{why}"
                  for name, why in self.broken_regions.items()]
        return "\n".join(lines)


def main(*, module: str, dist: str = "dist", workers: int = 2) -> StripReport:
    """Run the whole strip check for one released module and print what it found."""
    course = load_course()
    report = check_module(course, course.module(module), Path(dist).resolve(), workers=workers)
    print(report.describe())
    return report


def check_module(course: Course, module: Module, dist: Path, *, workers: int = 2) -> StripReport:
    archive = build_bundles(course, module, dist)["gradescope"]
    with tempfile.TemporaryDirectory(prefix="stripcheck-") as scratch:
        root = Path(scratch)
        solution = grade_repo(course, module, archive, root, with_solutions=True)
        skeleton = grade_repo(course, module, archive, root, with_solutions=False)
        outcomes = probe_regions(course, module, root, workers=workers)
    return StripReport(
        module=module.number,
        solution_score=solution["score"],
        skeleton_score=skeleton["score"],
        max_score=solution["extra_data"]["max_score"],
        uncaught_regions=[name for name, outcome in outcomes.items() if outcome == UNCAUGHT],
        broken_regions={name: outcome for name, outcome in outcomes.items() if outcome not in (CAUGHT, UNCAUGHT)},
        regions_checked=len(module_regions(course, module)),
    )


def grade_repo(course: Course, module: Module, archive: Path, root: Path, *, with_solutions: bool) -> dict:
    kind = "solution" if with_solutions else "skeleton"
    repo = release_repository(course, module, root / kind, with_solutions=with_solutions)
    return grade_with_bundle(archive, repo, root / f"{kind}-results.json")


PROBE_PLUGINS = ("-p", "pytest_timeout", "-p", "tinytorch_grader.fixtures")
"""The only plugins a probe loads (the tests' fixtures and the per-test timeout). Every other installed
pytest plugin (xdist, json-report, anyio, metadata, ...) is left unloaded: a probe is one short pytest
run, and loading them all took about 0.7 s of its 1.2-1.8 s (module 05's tests, idle 2-core machine)."""


def probe_regions(course: Course, module: Module, root: Path, *, workers: int = 2) -> dict[str, str]:
    """Stub each region alone and run the module's tests: {region: CAUGHT, UNCAUGHT or pytest's error}."""
    base = root / "probe-base"
    write_tree(course, module, base)
    names = [region.name for region in module_regions(course, module)]
    servers: Queue[WarmPytest] = Queue()
    for _ in range(workers):
        servers.put(WarmPytest())

    def probe(job: tuple[int, str]) -> str:
        server = servers.get()
        try:
            return probe_region(course, module, base, root / f"probe-{job[0]}", job[1], server)
        finally:
            servers.put(server)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(zip(names, pool.map(probe, enumerate(names))))
    finally:
        while not servers.empty():
            servers.get().close()


def probe_region(course: Course, module: Module, base: Path, tree: Path, name: str, server: WarmPytest) -> str:
    """Stub only this region and run the module's tests (visible and hidden) until the first failure."""
    shutil.copytree(base, tree)
    for relative in module.files:
        target = tree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_file(course, module, relative, "skeleton", stub_only={name}), encoding="utf-8")
    paths = [group.path for group in module.groups]
    log = tree.with_suffix(".log")
    try:
        code = server.run(
            [*paths, "-x", "-q", "-c", str(tree / "pytest.ini"), "--rootdir", str(tree), "-p", "no:cacheprovider",
             *PROBE_PLUGINS, f"--timeout={PROBE_TIMEOUT}"],
            tree=tree, env={**os.environ, "PYTHONPATH": str(tree), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, log=log,
            timeout=PROBE_TIMEOUT * 10)
        output = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        log.unlink(missing_ok=True)
    if code == pytest.ExitCode.TESTS_FAILED:
        return CAUGHT
    if code == pytest.ExitCode.OK:
        return UNCAUGHT
    return f"exit code {code}\n{output[-2000:]}"
