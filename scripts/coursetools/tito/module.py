"""``tito module list | status | start NN | test NN | complete NN | reset NN``.

No command here overwrites a student's file: ``start`` only creates what is missing (a deleted
module file comes back from its notebook when there is one, the newest work, not from the
starter) and ``reset`` copies the current files into a time-stamped backup folder first and says
where. A test run is remembered with a digest of the files it ran on, so ``status`` never reports
results of code that has changed since.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path

from coursetools.tito import state
from coursetools.tito.errors import FAILED, OK, TitoError
from coursetools.tito.notebook import notebook_for, restore_from_notebook, sync_warning, write_notebook
from coursetools.tito.output import Output
from coursetools.tito.testing import run_visible_tests, short_report
from coursetools.tito.workspace import ModuleInfo, Workspace

STUB = re.compile(r"NotImplementedError\(\s*f?[\"']Module \d\d \(")
"""The start of every stub's error message: ``NotImplementedError("Module 01 (tensor), ...``."""
STUB_REGION = re.compile(r"NotImplementedError\(\s*f?[\"']Module \d\d \([^)]*\), region '([^']+)'")
"""A stub's message names its region: ``... region 'Tensor.__add__' is not implemented yet``."""
NO_TEST_RESULT = {"tested": None, "passed": None, "total": None, "all_passed": False, "digest": None}
"""What a module's progress entry holds once its files are replaced: no test result of them yet."""


def stubs_left(ws: Workspace, module: ModuleInfo) -> int | None:
    """How many stubs still raise NotImplementedError in the module's files (None: files missing)."""
    paths = [ws.owned_path(f) for f in module.files]
    if not all(p.is_file() for p in paths):
        return None
    return sum(len(STUB.findall(p.read_text(encoding="utf-8"))) for p in paths)


def stub_regions(ws: Workspace, module: ModuleInfo) -> list[str]:
    """The regions whose stubs are still in the module's files (files that are missing count as none)."""
    paths = [ws.owned_path(f) for f in module.files]
    return [name for p in paths if p.is_file() for name in STUB_REGION.findall(p.read_text(encoding="utf-8"))]


def files_digest(ws: Workspace, module: ModuleInfo) -> str | None:
    """sha256 over the module's files: which code a test result belongs to (None: files missing)."""
    digest = hashlib.sha256()
    for relative in module.files:
        path = ws.owned_path(relative)
        if not path.is_file():
            return None
        digest.update(relative.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def describe(ws: Workspace, module: ModuleInfo, progress: dict) -> dict:
    """One module's state as data: files, stubs left, last test run (and whether it is of these files), completion."""
    entry = progress.get(module.number, {})
    todo = stubs_left(ws, module)
    current = entry.get("tested") is not None and entry.get("digest") == files_digest(ws, module)
    if module.status != "released":
        phase = "planned"
    elif todo is None:
        phase = "not in this repository"
    elif entry.get("completed"):
        phase = "completed"
    elif todo == 0 and entry.get("all_passed") and current:
        phase = "tests passing"
    elif ws.is_student and module.number != ws.assigned:
        phase = "provided (complete)"
    elif todo == 0:
        phase = "implemented" if ws.is_student else "reference"
    else:
        touched = entry.get("started") or entry.get("tested") or todo < _starter_stubs(ws, module)
        phase = "in progress" if touched else "not started"
    return {"number": module.number, "title": module.title, "status": module.status, "phase": phase,
            "files": list(module.files), "stubs_left": todo, "visible_points": module.visible_points,
            "max_points": module.max_points, "last_test": entry.get("tested"),
            "tests_passed": entry.get("passed"), "tests_total": entry.get("total"),
            "test_is_current": current, "completed": entry.get("completed")}


def list_modules(ws: Workspace, out: Output, args) -> int:
    rows = [[m.number, m.title, m.status, ", ".join(m.files), f"{m.visible_points:g} / {m.max_points:g}"]
            for m in ws.modules]
    out.table(f"{ws.course_name} modules", ["NN", "module", "status", "files", "visible / total points"], rows)
    out.data({"modules": [m.to_dict() for m in ws.modules]})
    return OK


def status(ws: Workspace, out: Output, args) -> int:
    progress = state.load(ws)
    modules = [ws.module(args.number)] if getattr(args, "number", None) else list(ws.modules)
    described = [describe(ws, m, progress) for m in modules]
    rows = [[d["number"], d["title"], d["phase"], "" if d["stubs_left"] is None else d["stubs_left"],
             _tests_cell(d), d["completed"] or ""] for d in described]
    styles = [_phase_style(d["phase"]) for d in described]
    where = f"student repository for module {ws.assigned}" if ws.is_student else "course repository (reference)"
    out.table(f"{ws.course_name}: {where}", ["NN", "module", "state", "stubs left", "last test", "completed"],
              rows, styles)
    out.data({"workspace": ws.kind, "assigned": ws.assigned, "modules": described})
    return OK


def start(ws: Workspace, out: Output, args) -> int:
    """Create what the module needs and is missing (its files, its notebook); never overwrite.

    A missing module file is rebuilt from its notebook when the notebook exists (the student's
    latest work, which a later ``jupytext --sync`` would otherwise replace with the starter).
    """
    module = _released(ws, args.number)
    created, restored, kept = [], [], []
    for relative in module.files:
        target = ws.owned_path(relative)
        notebook = ws.root / notebook_for(relative)
        if target.exists():
            kept.append(relative)
        elif ws.is_student and notebook.exists():
            _restore(ws, module, relative, notebook, target)
            restored.append(relative)
        else:
            _copy_starter(ws, relative, target)
            created.append(relative)
        if ws.is_student:
            if notebook.exists():
                kept.append(notebook_for(relative))
            else:
                write_notebook(target, notebook)
                created.append(notebook_for(relative))
    fields = {"started": state.timestamp()}
    if any(f in module.files for f in created + restored):
        fields.update(NO_TEST_RESULT)
    state.record(ws, module.number, **fields)
    for path in created:
        out.say(f"created {path}")
    for path in restored:
        out.say(f"restored {path} from your notebook {notebook_for(path)} (your latest work; "
                f"the starter code is in {(ws.starter_dir / path).relative_to(ws.root)})")
    for path in kept:
        out.say(f"kept {path} as it is (your work is never overwritten)")
    out.say(f"Module {module.number} ({module.title}): edit {', '.join(module.files)} or its notebook, "
            f"then run `tito module test {module.number}`.")
    out.data({"module": module.number, "created": created, "restored": restored, "kept": kept})
    return OK


def notebook_warnings(ws: Workspace, module: ModuleInfo, out: Output) -> list[str]:
    """Warn (stderr) about each notebook that disagrees with its module file; returns the warnings."""
    warnings = [w for w in (sync_warning(ws.root, f) for f in module.files) if w]
    for warning in warnings:
        out.warn(warning)
    return warnings


def test(ws: Workspace, out: Output, args) -> int:
    module = _released(ws, args.number)
    warnings = notebook_warnings(ws, module, out)
    trace = bool(getattr(args, "trace", False))
    with out.quiet_stdout():
        runs = run_visible_tests(ws, module, extra=list(getattr(args, "pytest_args", None) or []),
                                 capture=out.as_json, trace=trace)
    passed, total = sum(r.passed for r in runs), sum(r.total for r in runs)
    all_passed = all(r.ok for r in runs)
    state.record(ws, module.number, tested=state.timestamp(), passed=passed, total=total, all_passed=all_passed,
                 digest=files_digest(ws, module))
    if not trace:
        for line in short_report(runs):
            out.say(line)
    rows = [[r.title, f"{r.passed}/{r.total}", f"{r.earned:g} / {r.points:g}"] for r in runs]
    out.table(f"Module {module.number} visible tests", ["group", "passed", "points"], rows,
              ["green" if r.ok else "red" for r in runs])
    earned = sum(r.earned for r in runs)
    more = "" if trace else f" (`tito module test {module.number} --trace` shows the full tracebacks)"
    out.say(f"{passed}/{total} visible tests passed, {earned:g} / {module.visible_points:g} visible points"
            + ("" if all_passed else f"; fix the failures, then run `tito module test {module.number}` again{more}"))
    out.data({"module": module.number, "passed": passed, "total": total, "all_passed": all_passed,
              "points": round(earned, 4), "max_points": module.visible_points, "warnings": warnings,
              "groups": [r.to_dict() for r in runs]})
    return OK if all_passed else FAILED


def complete(ws: Workspace, out: Output, args) -> int:
    """Run the tests; when all pass, mark the module completed and say what comes next."""
    code = test(ws, out, args)
    module = ws.module(args.number)
    if code != OK:
        out.say(f"Module {module.number} is not complete yet: some visible tests fail.")
        return code
    entry = state.record(ws, module.number, completed=state.timestamp())
    out.say(f"Module {module.number} ({module.title}) completed at {entry['completed']}. Next: "
            f"`tito grade {module.number}` for the autograder's view, then commit and push.")
    return OK


def reset(ws: Workspace, out: Output, args) -> int:
    """Back up the module's files and notebook, then put the starter files back."""
    module = _released(ws, args.number)
    if not ws.is_student:
        raise TitoError("the course repository holds the reference solution; reset works in a student repository "
                        f"(make release-module MODULE={module.number} builds one)")
    if not args.yes and not _confirm(f"Reset module {module.number}? Your files are backed up first."):
        raise TitoError("reset cancelled; pass --yes to reset without asking")
    backup = ws.state_dir / "backups" / f"{module.number}-{state.timestamp()}"
    paths = [*module.files, *(notebook_for(f) for f in module.files)]
    for relative in paths:
        current = ws.root / relative
        if current.exists():
            (backup / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(current, backup / relative)
    for relative in module.files:
        target = ws.owned_path(relative)
        _copy_starter(ws, relative, target, replace=True)
        notebook = ws.root / notebook_for(relative)
        notebook.unlink(missing_ok=True)
        write_notebook(target, notebook)
    state.record(ws, module.number, completed=None, reset=state.timestamp(), **NO_TEST_RESULT)
    out.say(f"Module {module.number} reset to the starter code; your previous files are in {backup}")
    out.data({"module": module.number, "backup": str(backup), "restored": paths})
    return OK


def _restore(ws: Workspace, module: ModuleInfo, relative: str, notebook: Path, target: Path) -> None:
    """Rebuild the module file from its notebook; without jupytext, say how (never fall back to the starter)."""
    try:
        restore_from_notebook(notebook, target)
    except TitoError as error:
        raise TitoError(f"{relative} is missing and {notebook_for(relative)} holds your latest work; rebuilding the "
                        f"file from it failed ({error}). Fix that and run `tito module start {module.number}` again; "
                        f"to start over instead, copy {(ws.starter_dir / relative).relative_to(ws.root)}") from None


def _released(ws: Workspace, number: str) -> ModuleInfo:
    module = ws.module(number)
    if module.status != "released":
        raise TitoError(f"module {module.number} ({module.title}) is planned, not released yet")
    return module


def _copy_starter(ws: Workspace, relative: str, target: Path, replace: bool = False) -> None:
    starter = ws.starter_dir / relative
    if not starter.is_file():
        raise TitoError(f"{relative} is missing and there is no starter copy at {starter}; "
                        "recover it with `git checkout -- " + relative + "`")
    if target.exists() and not replace:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(starter, target)


def _starter_stubs(ws: Workspace, module: ModuleInfo) -> int:
    paths = [ws.starter_dir / f for f in module.files]
    return sum(len(STUB.findall(p.read_text(encoding="utf-8"))) for p in paths if p.is_file())


def _tests_cell(described: dict) -> str:
    if described["tests_total"] is None:
        return "never run"
    result = f"{described['tests_passed']}/{described['tests_total']} passed"
    return result if described["test_is_current"] else f"{result} (files changed since)"


def _phase_style(phase: str) -> str | None:
    return {"completed": "green", "tests passing": "green", "in progress": "yellow", "planned": "dim"}.get(phase)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
