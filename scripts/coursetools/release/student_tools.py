"""What ``tito`` needs in a student repository: the student CLI, its grader and its starter files.

The toolchain shipped under ``tools/coursetools`` is found, not listed: tito's files and every
coursetools module they import (``shipped_toolchain``), with the ``__init__.py`` of each package
on the way, so ``tito`` runs in the student repository exactly as in the course repository.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

from coursetools.manifest import Course, Module
from coursetools.release.render import PYTEST_INI
from coursetools.release.skeleton import starter_text
from coursetools.tito.workspace import SLICE, module_record


def write_tito(course: Course, module: Module, dest: Path) -> None:
    """What ``tito`` needs in a student repository.

    - ``tools/coursetools``: the tito package and the coursetools modules it imports (grading, data);
    - ``tools/tinytorch_grader``: the grader runtime, as in the Gradescope bundle;
    - ``.tito/course.json``: the manifest slice (this module and the earlier ones);
    - ``.tito/grader/``: the module's visible groups as a grader.json, run_autograder and pytest.ini;
    - ``.tito/starter/``: the starter (skeleton) files, which ``tito module reset`` restores.
    """
    tools = dest / "tools"
    scripts, runtime = toolchain_sources()
    for relative in shipped_toolchain(scripts):
        target = tools / "coursetools" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(scripts / relative, target)
    shutil.copytree(runtime, tools / "tinytorch_grader", ignore=shutil.ignore_patterns("__pycache__"))
    modules = [module_record(m).to_dict() for m in course.modules if m.number <= module.number and m.released]
    slice_path = dest / SLICE
    slice_path.parent.mkdir(parents=True, exist_ok=True)
    slice_path.write_text(json.dumps({"course": course.context()["course"], "assigned": module.number,
                                      "modules": modules}, indent=1), encoding="utf-8")
    grader = dest / ".tito" / "grader"
    grader.mkdir(parents=True)
    config = course.to_json_slice(module)
    config["groups"] = [g for g in config["groups"] if g["visibility"] == "visible"]
    (grader / "grader.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    (grader / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    shutil.copyfile(runtime.parent / "templates" / "run_autograder", grader / "run_autograder")
    (grader / "run_autograder").chmod(0o755)
    for relative in module.files:
        starter = dest / ".tito" / "starter" / relative
        starter.parent.mkdir(parents=True, exist_ok=True)
        starter.write_text(starter_text(course, module, relative), encoding="utf-8")


def toolchain_sources() -> tuple[Path, Path]:
    """The running coursetools and tinytorch_grader packages: what the student repository gets a copy of."""
    import coursetools
    import tinytorch_grader

    return Path(coursetools.__file__).resolve().parent, Path(tinytorch_grader.__file__).resolve().parent


def shipped_toolchain(scripts: Path) -> list[str]:
    """tito's files and every coursetools module they need (paths relative to scripts).

    tito's own imports count wherever they are; in other modules only the top-level ones do, so a
    course-only verb imported inside a function (``grade.submission.main`` building a bundle) stays
    out. Every package holding a shipped file brings its ``__init__.py``.
    """
    todo = [p.relative_to(scripts).as_posix() for p in sorted((scripts / "tito").glob("*.py"))]
    found: set[str] = set()
    while todo:
        relative = todo.pop()
        if relative in found:
            continue
        found.add(relative)
        tree = ast.parse((scripts / relative).read_text(encoding="utf-8"))
        nodes = ast.walk(tree) if relative.startswith("tito/") else tree.body
        todo += [path for name in _imported(nodes) if (path := _module_file(scripts, name))]
        todo += _package_inits(relative)
    return sorted(found)


def _imported(nodes) -> list[str]:
    """Dotted names that may be coursetools modules imported by these statements.

    ``from coursetools.grade import submission`` gives ``coursetools.grade`` and
    ``coursetools.grade.submission``; names that are not modules are dropped by ``_module_file``.
    """
    names = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "coursetools":
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.startswith("coursetools.")]
    return names


def _module_file(scripts: Path, dotted: str) -> str | None:
    """The file of a dotted coursetools module (relative to scripts); None when it names no module."""
    parts = dotted.split(".")[1:]
    if scripts.joinpath(*parts).is_dir():
        return "/".join([*parts, "__init__.py"])
    if parts and scripts.joinpath(*parts[:-1], parts[-1] + ".py").is_file():
        return "/".join(parts) + ".py"
    return None


def _package_inits(relative: str) -> list[str]:
    """The ``__init__.py`` of every package that holds this file, the top-level one first."""
    folders = relative.split("/")[:-1]
    return ["/".join([*folders[:depth], "__init__.py"]) for depth in range(len(folders) + 1)]
