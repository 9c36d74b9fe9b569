"""Build a module's student repository (skeleton) and its solution twin.

A student repository for module NN holds the tinytorch package with modules before NN
complete (solution rendering), module NN as stubs (skeleton rendering), no later module,
the visible tests of NN, the shared conftest, and files rendered from ``skeletons/``.
It is a git repository with one commit, ready to push as a GitHub Classroom template.

It also carries the student's tools (see ``write_tito``): the ``tito`` command and the grader
runtime under ``tools/``, the manifest slice and local grader under ``.tito/``, and the module's
files as jupytext percent-format scripts paired with ``notebooks/`` (see ``coursetools.tito.notebook``).
When the module has a lesson (``reference/lessons/NN_slug.md``, see ``coursetools.author.lessons``), the
module file is woven: the lesson's sections as markdown cells before the code cells they explain,
its systems measurement as a notebook-only cell; the solution repository keeps the instructor
blocks (model answers, rubrics), the skeleton never has them (``assert_no_leaks`` checks).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
from pathlib import Path

import jinja2

from coursetools.author.lessons import check_module, instructor_secrets, lesson_path, weave
from coursetools.author.markers import Region, find_regions, render
from coursetools.manifest import Course, Module
from coursetools.release.classroom import workflow_yaml
from coursetools.tito.notebook import (JUPYTEXT_TOML, code_cells, notebook_for, percent_text, with_cell_markers,
                                       write_notebook)
from coursetools.tito.workspace import SLICE, module_record

TEMPLATES = {"README.md.j2": "README.md", "pyproject.toml.j2": "pyproject.toml", "gitignore.j2": ".gitignore"}
TITO_ENTRY_POINTS = ("tito/__init__.py", "tito/main.py")
"""Where the shipped toolchain starts: these and every coursetools module they import go into tools/."""
GIT_AUTHOR = {"GIT_AUTHOR_NAME": "TinyTorch Course", "GIT_AUTHOR_EMAIL": "course@example.invalid",
              "GIT_COMMITTER_NAME": "TinyTorch Course", "GIT_COMMITTER_EMAIL": "course@example.invalid"}


class LeakError(RuntimeError):
    """A skeleton contains solution code or hidden tests."""


def module_label(module: Module) -> str:
    return f"Module {module.number} ({module.slug})"


def reference_file(course: Course, relative: str) -> Path:
    return course.root / "reference" / relative


def module_regions(course: Course, module: Module) -> list[Region]:
    """Every solution region of the module's files, in file order."""
    regions: list[Region] = []
    for relative in module.files:
        regions.extend(find_regions(reference_file(course, relative).read_text(encoding="utf-8"), relative))
    return regions


def render_file(course: Course, module: Module, relative: str, mode: str, stub_only: set[str] | None = None) -> str:
    text = reference_file(course, relative).read_text(encoding="utf-8")
    return render(text, mode=mode, path=relative, module_label=module_label(module),
                  context=course.context(), stub_only=stub_only)


def write_package(course: Course, module: Module, dest: Path, *, own_mode: str | None) -> None:
    """Write tinytorch/ into dest: earlier modules solved, this one in own_mode (None: left out).

    Package ``__init__.py`` files and any file no module owns are copied as rendered solutions.
    """
    owned_by = {f: m for m in course.modules for f in m.files}
    source_root = course.root / "reference"
    for path in sorted((source_root / "tinytorch").rglob("*.py")):
        relative = path.relative_to(source_root).as_posix()
        owner = owned_by.get(relative)
        if owner is None:
            mode, who = "solution", module
        elif owner.number < module.number:
            mode, who = "solution", owner
        elif owner.number == module.number and own_mode:
            mode, who = own_mode, module
        else:
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_file(course, who, relative, mode), encoding="utf-8")


def copy_tests(course: Course, module: Module, dest: Path, *, hidden: bool) -> None:
    """The root conftest and the module's test files (visible; hidden too when asked)."""
    shutil.copyfile(course.root / "conftest.py", dest / "conftest.py")
    for group in module.groups:
        if group.hidden and not hidden:
            continue
        target = dest / group.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(course.root / group.path, target)


def render_templates(course: Course, module: Module, dest: Path) -> None:
    """README, pyproject (with the package list found in dest), .gitignore, jupytext.toml, workflow."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(course.root / "skeletons"),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    variables = {
        **course.context(),
        "module": module,
        "regions": module_regions(course, module),
        "visible_groups": [g for g in module.groups if not g.hidden],
        "hidden_points": sum(g.points for g in module.groups if g.hidden),
        "packages": _packages(dest),
        "notebooks": [notebook_for(f) for f in module.files],
        "lesson": lesson_path(course.root, module).is_file(),
    }
    for template, target in TEMPLATES.items():
        (dest / target).write_text(env.get_template(template).render(variables), encoding="utf-8")
    (dest / "jupytext.toml").write_text(JUPYTEXT_TOML, encoding="utf-8")
    workflow = dest / ".github" / "workflows" / "classroom.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(workflow_yaml(course, module), encoding="utf-8")


def woven(course: Course, module: Module, relative: str, text: str, *, instructor: bool) -> str:
    """A rendered module file in percent format, with the module's lesson woven in when it has one.

    The lesson goes into the module's first file (every module has one); other files, and modules
    whose lesson is not written yet, get one code cell per top-level definition.
    """
    lesson = check_module(course, module)
    if lesson is None or relative != module.files[0]:
        return with_cell_markers(text)
    return percent_text(weave(lesson, code_cells(text), instructor=instructor))


def starter_text(course: Course, module: Module, relative: str) -> str:
    """An owned file exactly as a fresh skeleton holds it (woven, stubs, no instructor text)."""
    return woven(course, module, relative, render_file(course, module, relative, "skeleton"), instructor=False)


def write_notebooks(course: Course, module: Module, dest: Path, *, instructor: bool) -> None:
    """Each owned file woven in percent format, and its paired notebook under notebooks/."""
    for relative in module.files:
        path = dest / relative
        path.write_text(woven(course, module, relative, path.read_text(encoding="utf-8"), instructor=instructor),
                        encoding="utf-8")
        write_notebook(path, dest / notebook_for(relative))


def write_tito(course: Course, module: Module, dest: Path) -> None:
    """What ``tito`` needs in a student repository.

    - ``tools/coursetools``: the tito package and the coursetools modules it imports (grading, data);
    - ``tools/tinytorch_grader``: the grader runtime, as in the Gradescope bundle;
    - ``.tito/course.json``: the manifest slice (this module and the earlier ones);
    - ``.tito/grader/``: the module's visible groups as a grader.json, run_autograder and pytest.ini;
    - ``.tito/starter/``: the starter (skeleton) files, which ``tito module reset`` restores.
    """
    from coursetools.release.bundle import PYTEST_INI

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


def _packages(dest: Path) -> list[str]:
    """Import packages of a student repository: tinytorch's (found) and the shipped tools."""
    found = sorted(p.parent.relative_to(dest).as_posix().replace("/", ".")
                   for p in (dest / "tinytorch").rglob("__init__.py"))
    tools = sorted(p.parent.relative_to(dest / "tools").as_posix().replace("/", ".")
                   for p in (dest / "tools").rglob("__init__.py"))
    return found + tools


def init_git(dest: Path, message: str) -> None:
    """One commit by the course, on branch main, so the folder can be pushed as a template."""
    env = {**os.environ, **GIT_AUTHOR}
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "--no-gpg-sign", "-m", message]):
        subprocess.run(command, cwd=dest, env=env, check=True, capture_output=True)


def build_student_repo(course: Course, module: Module, dest: Path, *, with_solutions: bool = False) -> Path:
    """Write the student (or, with_solutions, the solution) repository of a module into dest."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    write_package(course, module, dest, own_mode="solution" if with_solutions else "skeleton")
    copy_tests(course, module, dest, hidden=False)
    write_tito(course, module, dest)
    write_notebooks(course, module, dest, instructor=with_solutions)
    render_templates(course, module, dest)
    if not with_solutions:
        assert_no_leaks(dest, course, module)
    kind = "solutions" if with_solutions else "starter code"
    init_git(dest, f"{course.name} module {module.number} ({module.title}): {kind}")
    return dest


def assert_no_leaks(repo: Path, course: Course, module: Module) -> None:
    """Raise LeakError if any file of the repo holds a solution line, a hidden test or instructor text.

    Lines are compared as written and with a leading ``# `` removed (the lesson's prose and code
    examples are comments in the woven module file), so a lesson that shows a solution line is
    caught too; notebooks by their cells' text. The lesson's systems code counts as public.
    """
    secrets = _solution_lines(course, module)
    hidden = [(course.root / g.path).read_text(encoding="utf-8") for g in module.groups if g.hidden]
    lesson = check_module(course, module)
    taught = sorted(instructor_secrets(lesson)) if lesson else []
    if lesson:  # the systems measurement is meant for students; a line it shares with a solution is public
        secrets -= {line.strip() for line in lesson.systems_code.splitlines()}
    for path in repo.rglob("*"):
        if not path.is_file() or ".git" in path.parts:
            continue
        text = _readable_text(path)
        lines = {line.strip() for line in text.splitlines()}
        lines |= {line.removeprefix("#").strip() for line in lines if line.startswith("# ")}
        leaked = sorted(lines & secrets)
        if leaked:
            raise LeakError(f"{path.relative_to(repo)} contains solution code of module {module.number}: {leaked[0]!r}")
        for test_file in hidden:
            if test_file.strip() and test_file.strip() in text:
                raise LeakError(f"{path.relative_to(repo)} contains a hidden test file of module {module.number}")
        shown = [line for line in taught if line in text]
        if shown:
            raise LeakError(f"{path.relative_to(repo)} contains instructor text (a model answer or rubric) of "
                            f"{lesson.path.name}: {shown[0]!r}; it belongs between <!-- instructor --> markers")


def _readable_text(path: Path) -> str:
    """A file's text; for a notebook, its cells' sources one after another (JSON escapes undone)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except ValueError:
            return text
        return "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")
                         for c in cells)
    return text


def _solution_lines(course: Course, module: Module) -> set[str]:
    """Distinctive lines of the module's solution regions (short or generic lines are ignored)."""
    public = _public_lines(course, module)
    secrets: set[str] = set()
    for relative in module.files:
        text = reference_file(course, relative).read_text(encoding="utf-8")
        public |= {line.strip() for line in _outside_regions(text)}
        for region in find_regions(text, relative):
            secrets |= {line.strip() for line in region.body(text).splitlines()}
    return {line for line in secrets - public if len(line) >= 12 and not line.startswith("#")}


def _public_lines(course: Course, module: Module) -> set[str]:
    """Lines students may see anyway: other modules' code, this module's visible tests, the shipped tools."""
    own = set(module.files)
    files = [p for p in (course.root / "reference" / "tinytorch").rglob("*.py")
             if p.relative_to(course.root / "reference").as_posix() not in own]
    files += [course.root / g.path for g in module.groups if not g.hidden]
    files += _tool_files(course)
    generated = workflow_yaml(course, module).splitlines()  # the Classroom workflow ships in every skeleton
    return {line.strip() for path in files for line in path.read_text(encoding="utf-8").splitlines()} | \
        {line.strip() for line in generated}


def _tool_files(course: Course) -> list[Path]:
    """The course code shipped under tools/ (also public in every grader bundle)."""
    scripts, runtime = toolchain_sources()
    return [scripts / relative for relative in shipped_toolchain(scripts)] + sorted(runtime.rglob("*.py"))


def _outside_regions(text: str) -> list[str]:
    lines = text.splitlines()
    inside: set[int] = set()
    for region in find_regions(text):
        inside.update(range(region.start_line - 1, region.end_line))
    return [line for i, line in enumerate(lines) if i not in inside]
