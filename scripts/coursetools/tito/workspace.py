"""Where tito runs: the course repository or a student repository, and what the manifest says.

In the course repository the modules come from ``reference/course.toml``; in a student
repository from ``.tito/course.json``, the slice of the manifest its release wrote. Both give
the same records, so every command works the same way in either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from coursetools.tito.errors import TitoError

SLICE = Path(".tito") / "course.json"
"""The manifest slice inside a student repository."""
MANIFEST = Path("reference") / "course.toml"


@dataclass(frozen=True)
class GroupInfo:
    """One graded test group of a module (one test file)."""

    name: str
    title: str
    points: float
    visibility: str
    timeout: float
    path: str
    """The test file, relative to the repository root."""

    @property
    def hidden(self) -> bool:
        return self.visibility != "visible"


@dataclass(frozen=True)
class ModuleInfo:
    """One module as tito needs it: what the student owns and how it is graded."""

    number: str
    slug: str
    title: str
    package: str
    files: tuple[str, ...]
    status: str
    groups: tuple[GroupInfo, ...]

    @property
    def dirname(self) -> str:
        return f"{self.number}_{self.slug}"

    @property
    def visible_groups(self) -> list[GroupInfo]:
        return [g for g in self.groups if not g.hidden]

    @property
    def visible_points(self) -> float:
        return sum(g.points for g in self.visible_groups)

    @property
    def max_points(self) -> float:
        return sum(g.points for g in self.groups)

    def to_dict(self) -> dict:
        return {"number": self.number, "slug": self.slug, "title": self.title, "package": self.package,
                "files": list(self.files), "status": self.status,
                "groups": [vars(g).copy() for g in self.groups]}

    @classmethod
    def from_dict(cls, data: dict) -> "ModuleInfo":
        groups = tuple(GroupInfo(name=g["name"], title=g["title"], points=float(g["points"]),
                                 visibility=g["visibility"], timeout=float(g["timeout"]), path=g["path"])
                       for g in data["groups"])
        return cls(number=data["number"], slug=data["slug"], title=data["title"], package=data["package"],
                   files=tuple(data["files"]), status=data["status"], groups=groups)


@dataclass(frozen=True)
class Workspace:
    """The repository tito works in."""

    kind: str
    """"course" (the course repository) or "student" (a released skeleton)."""
    root: Path
    package_root: Path
    """The folder holding the tinytorch package (``reference/`` in the course repository)."""
    course_name: str
    modules: tuple[ModuleInfo, ...]
    assigned: str | None
    """The module a student repository was released for (None in the course repository)."""

    @property
    def is_student(self) -> bool:
        return self.kind == "student"

    @property
    def state_dir(self) -> Path:
        """Where tito keeps progress, backups and local grading results (git-ignored)."""
        return self.root / (".tito/local" if self.is_student else "dist/tito")

    @property
    def grader_dir(self) -> Path:
        """A student repository's local grader: grader.json, run_autograder, pytest.ini."""
        return self.root / ".tito" / "grader"

    @property
    def starter_dir(self) -> Path:
        """Pristine starter files of a student repository, for ``tito module reset``."""
        return self.root / ".tito" / "starter"

    def module(self, number: str) -> ModuleInfo:
        """The module numbered ``number`` ("1" or "01"); a clear error naming the choices otherwise."""
        key = f"{int(number):02d}" if str(number).isdigit() else str(number)
        for module in self.modules:
            if module.number == key:
                return module
        where = "this repository" if self.is_student else "reference/course.toml"
        choices = ", ".join(m.number for m in self.modules)
        raise TitoError(f"there is no module {number!r} in {where}; modules here are {choices}. "
                        "Run `tito module list` to see them.")

    def owned_path(self, relative: str) -> Path:
        return self.package_root / relative


def find_workspace(start: Path | None = None) -> Workspace:
    """The nearest student or course repository at or above ``start`` (default: the current folder)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SLICE).is_file():
            return _student_workspace(folder)
        if (folder / MANIFEST).is_file():
            return _course_workspace(folder)
    raise TitoError(f"{here} is not inside a TinyTorch repository (no {SLICE} or {MANIFEST} above it); "
                    "cd into your module repository, the folder with README.md and tinytorch/.")


def _student_workspace(root: Path) -> Workspace:
    try:
        data = json.loads((root / SLICE).read_text(encoding="utf-8"))
    except ValueError as error:
        raise TitoError(f"{root / SLICE} is not valid JSON ({error}); restore it with "
                        f"`git checkout -- {SLICE}`") from None
    return Workspace(kind="student", root=root, package_root=root, course_name=data["course"]["name"],
                     modules=tuple(ModuleInfo.from_dict(m) for m in data["modules"]),
                     assigned=data["assigned"])


def _course_workspace(root: Path) -> Workspace:
    from coursetools.manifest import ManifestError, load_course

    try:
        course = load_course(root)
    except ManifestError as error:
        raise TitoError(f"reference/course.toml: {error}") from None
    return Workspace(kind="course", root=root, package_root=root / "reference", course_name=course.name,
                     modules=tuple(module_record(m) for m in course.modules), assigned=None)


def module_record(module) -> ModuleInfo:
    """A manifest ``Module`` as a ``ModuleInfo`` (what the release writes into .tito/course.json)."""
    groups = tuple(GroupInfo(name=g.name, title=g.title, points=g.points, visibility=g.visibility,
                             timeout=g.timeout, path=g.path) for g in module.groups)
    return ModuleInfo(number=module.number, slug=module.slug, title=module.title, package=module.package,
                      files=tuple(module.files), status=module.status, groups=groups)
