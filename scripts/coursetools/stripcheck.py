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
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.bundle import build_bundles, write_tree
from coursetools.grade import grade_with_bundle
from coursetools.manifest import Course, Module, load_course
from coursetools.skeleton import build_student_repo, module_regions, render_file


@dataclass
class StripReport:
    module: str
    solution_score: float
    skeleton_score: float
    max_score: float
    uncaught_regions: list[str] = field(default_factory=list)
    regions_checked: int = 0

    @property
    def ok(self) -> bool:
        full = abs(self.solution_score - self.max_score) < 1e-6
        return full and self.skeleton_score == 0 and not self.uncaught_regions

    def describe(self) -> str:
        lines = [
            f"module {self.module}: solution {self.solution_score:g}/{self.max_score:g}, "
            f"skeleton {self.skeleton_score:g}, regions caught {self.regions_checked - len(self.uncaught_regions)}"
            f"/{self.regions_checked}"
        ]
        lines += [f"  no test fails when only '{name}' is a stub" for name in self.uncaught_regions]
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
        uncaught = uncaught_regions(course, module, root, workers=workers)
    return StripReport(
        module=module.number,
        solution_score=solution["score"],
        skeleton_score=skeleton["score"],
        max_score=solution["extra_data"]["max_score"],
        uncaught_regions=uncaught,
        regions_checked=len(module_regions(course, module)),
    )


def grade_repo(course: Course, module: Module, archive: Path, root: Path, *, with_solutions: bool) -> dict:
    kind = "solution" if with_solutions else "skeleton"
    repo = build_student_repo(course, module, root / kind, with_solutions=with_solutions)
    return grade_with_bundle(archive, repo, root / f"{kind}-results.json")


def uncaught_regions(course: Course, module: Module, root: Path, *, workers: int = 2) -> list[str]:
    """Names of regions whose stub alone makes no test fail."""
    base = root / "probe-base"
    write_tree(course, module, base)
    names = [region.name for region in module_regions(course, module)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        caught = list(pool.map(lambda name: region_is_caught(course, module, base, root, name), names))
    return [name for name, ok in zip(names, caught) if not ok]


def region_is_caught(course: Course, module: Module, base: Path, root: Path, name: str) -> bool:
    """Stub only this region and run the module's tests until the first failure."""
    tree = root / f"probe-{abs(hash(name))}"
    shutil.copytree(base, tree)
    for relative in module.files:
        target = tree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_file(course, module, relative, "skeleton", stub_only={name}), encoding="utf-8")
    paths = [group.path for group in module.groups]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *paths, "-x", "-q", "-c", str(tree / "pytest.ini"), "--rootdir", str(tree),
         "-p", "no:cacheprovider", "-p", "no:randomly", "--timeout=60"],
        cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
    )
    shutil.rmtree(tree, ignore_errors=True)
    return result.returncode == 1
