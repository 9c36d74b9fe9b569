"""The course manifest (`reference/course.toml`) as typed, validated objects.

Every other part of the toolchain reads modules, files, test groups and points from
here; nothing else keeps a list of them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (Gradescope's image)
    import tomli as tomllib

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
STATUSES = ("released", "planned")


class ManifestError(ValueError):
    """The manifest is malformed; the message names the module and field."""


@dataclass(frozen=True)
class Group:
    """One graded test group: one test file, its points split evenly over its tests."""

    module: str
    """Number of the module the group belongs to ("01")."""
    module_dir: str
    """Folder name of the module ("01_tensor")."""
    name: str
    """Group id; the test file is test_<name>.py."""
    title: str
    """What students see as the group's heading."""
    points: float
    """Points of the whole group."""
    visibility: str
    """Gradescope visibility: visible, hidden, after_due_date or after_published."""
    timeout: float
    """Per-test seconds (pytest-timeout); the grader also kills the whole group."""
    max_ratio: float | None = None
    """For timed groups: the largest allowed student/reference time ratio."""
    leaderboard: tuple[str, ...] = ()
    """Metrics recorded by the group's tests that become Gradescope leaderboard columns."""

    @property
    def hidden(self) -> bool:
        return self.visibility != "visible"

    @property
    def path(self) -> str:
        """The test file, relative to the repository root."""
        folder = "hidden_tests" if self.hidden else "tests"
        return f"{folder}/{self.module_dir}/test_{self.name}.py"


@dataclass(frozen=True)
class Module:
    """One course module: what students build, what they own, how it is graded."""

    number: str
    """Two digits, the key everywhere ("01")."""
    slug: str
    """Short name; folders are NN_slug."""
    title: str
    package: str
    """Import path of the module's code (tinytorch.core.tensor)."""
    files: tuple[str, ...]
    """Files the student owns, relative to reference/."""
    depends: tuple[str, ...]
    status: str
    """released or planned."""
    budget: float
    """Wall-clock seconds for grading the whole module."""
    groups: tuple[Group, ...] = field(default_factory=tuple)
    runtime: str = "remote"
    """How the grader runs the tests: "remote" (a trusted test process that never imports the
    submission; docs/DESIGN.md section 11) or "in-process" (the tests and the submission share one
    sandboxed process; for modules whose tests are not yet written for the remote runtime)."""

    @property
    def dirname(self) -> str:
        return f"{self.number}_{self.slug}"

    @property
    def released(self) -> bool:
        return self.status == "released"

    @property
    def max_points(self) -> float:
        return sum(group.points for group in self.groups)


@dataclass(frozen=True)
class Course:
    """The whole course: its name and term (Jinja variables) and its modules in order."""

    name: str
    term: str
    python: str
    default_timeout: float
    modules: tuple[Module, ...]
    root: Path
    """The repository root the manifest was read from."""

    def module(self, number: str | int) -> Module:
        """The module with this number ("1", "01" or 1); a clear error otherwise."""
        key = f"{int(number):02d}" if str(number).isdigit() else str(number)
        for module in self.modules:
            if module.number == key:
                return module
        valid = ", ".join(m.number for m in self.modules)
        raise ManifestError(f"there is no module {number!r} in the manifest; modules are {valid}")

    def released(self) -> list[Module]:
        return [module for module in self.modules if module.released]

    def earlier(self, module: Module) -> list[Module]:
        """Modules before this one, in course order."""
        return [m for m in self.modules if m.number < module.number]

    def context(self) -> dict:
        """Variables for Jinja templates and markers."""
        return {"course": {"name": self.name, "term": self.term, "python": self.python}}

    def to_json_slice(self, module: Module) -> dict:
        """What a grader bundle needs of the manifest, as plain JSON data."""
        return {
            "course": {"name": self.name, "term": self.term},
            "module": {
                "number": module.number,
                "slug": module.slug,
                "title": module.title,
                "package": module.package,
                "files": list(module.files),
                "budget": module.budget,
                "runtime": module.runtime,
            },
            "groups": [
                {
                    "name": g.name,
                    "title": g.title,
                    "points": g.points,
                    "visibility": g.visibility,
                    "timeout": g.timeout,
                    "max_ratio": g.max_ratio,
                    "leaderboard": list(g.leaderboard),
                    "path": g.path,
                }
                for g in module.groups
            ],
        }


def repo_root(start: Path | None = None) -> Path:
    """The folder holding reference/course.toml, searched upwards from start (or cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "reference" / "course.toml").is_file():
            return folder
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "reference" / "course.toml").is_file():
        return package_root
    raise ManifestError(f"no reference/course.toml above {here}; run from the course repository")


def load_course(root: Path | None = None) -> Course:
    """Read and validate reference/course.toml."""
    root = repo_root(root)
    path = root / "reference" / "course.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path}: {error}") from None
    course_data = data.get("course", {})
    default_timeout = float(course_data.get("default_timeout", 30))
    modules = tuple(_module(raw, default_timeout) for raw in data.get("module", []))
    course = Course(
        name=course_data.get("name", "TinyTorch"),
        term=course_data.get("term", ""),
        python=str(course_data.get("python", "3.10")),
        default_timeout=default_timeout,
        modules=modules,
        root=root,
    )
    _validate(course)
    return course


def _module(raw: dict, default_timeout: float) -> Module:
    number = str(raw.get("number", ""))
    where = f"module {number or '?'}"
    for key in ("number", "slug", "title", "package", "files"):
        if key not in raw:
            raise ManifestError(f"{where}: missing field '{key}'")
    dirname = f"{number}_{raw['slug']}"
    groups = tuple(_group(g, number, dirname, default_timeout) for g in raw.get("group", []))
    return Module(
        number=number,
        slug=raw["slug"],
        title=raw["title"],
        package=raw["package"],
        files=tuple(raw["files"]),
        depends=tuple(raw.get("depends", [])),
        status=raw.get("status", "planned"),
        budget=float(raw.get("budget", 300)),
        groups=groups,
        runtime=_runtime(raw.get("runtime", "remote"), where),
    )


def _runtime(value: str, where: str) -> str:
    if value not in ("remote", "in-process"):
        raise ManifestError(f"{where}: runtime must be 'remote' or 'in-process', not {value!r}")
    return value


def _group(raw: dict, number: str, dirname: str, default_timeout: float) -> Group:
    where = f"module {number}, group {raw.get('name', '?')!r}"
    if "name" not in raw or "points" not in raw:
        raise ManifestError(f"{where}: a group needs 'name' and 'points'")
    visibility = raw.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise ManifestError(f"{where}: visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}")
    if float(raw["points"]) <= 0:
        raise ManifestError(f"{where}: points must be positive, got {raw['points']}")
    max_ratio = raw.get("max_ratio")
    return Group(
        module=number,
        module_dir=dirname,
        name=raw["name"],
        title=raw.get("title", raw["name"]),
        points=float(raw["points"]),
        visibility=visibility,
        timeout=float(raw.get("timeout", default_timeout)),
        max_ratio=float(max_ratio) if max_ratio is not None else None,
        leaderboard=tuple(raw.get("leaderboard", ())),
    )


def _validate(course: Course) -> None:
    numbers = [m.number for m in course.modules]
    for module in course.modules:
        where = f"module {module.number}"
        if len(module.number) != 2 or not module.number.isdigit():
            raise ManifestError(f"{where}: number must be two digits like '01'")
        if numbers.count(module.number) > 1:
            raise ManifestError(f"{where}: the number is used twice")
        if module.status not in STATUSES:
            raise ManifestError(f"{where}: status {module.status!r} is not one of {', '.join(STATUSES)}")
        for dep in module.depends:
            if dep not in numbers or dep >= module.number:
                raise ManifestError(f"{where}: depends on {dep!r}, which is not an earlier module")
        names = [g.name for g in module.groups]
        if len(set(names)) != len(names):
            raise ManifestError(f"{where}: two groups share a name")
        if module.released:
            _validate_released(course, module)


def _validate_released(course: Course, module: Module) -> None:
    where = f"module {module.number} ({module.slug})"
    if not module.groups:
        raise ManifestError(f"{where}: a released module needs at least one test group")
    for name in module.files:
        if not (course.root / "reference" / name).is_file():
            raise ManifestError(f"{where}: owned file reference/{name} does not exist")
    for group in module.groups:
        if not (course.root / group.path).is_file():
            raise ManifestError(f"{where}: group {group.name!r} has no test file {group.path}")
