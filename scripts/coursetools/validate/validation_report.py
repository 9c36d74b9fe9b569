"""Renderings of a module's validation: a terminal summary, a JSON report and a Markdown page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from coursetools.validate.mutants import OPERATORS

if TYPE_CHECKING:  # imported for type hints only: validate imports this module
    from coursetools.manifest import Course
    from coursetools.validate.assessment import ModuleValidation

COMMAND = "make validate MODULE={number}"
"""The command that produces a committed report (``SURVIVORS=1`` appended for a survivors run)."""


def command_of(result: ModuleValidation) -> str:
    command = COMMAND.format(number=result.module.number)
    return command + " SURVIVORS=1" if result.carried_over else command


def reports_dir(course: Course) -> Path:
    return course.root / "validation" / "reports"


def to_dict(result: ModuleValidation) -> dict:
    """The report as plain JSON data (no timings per mutant, so reruns differ little)."""
    module = result.module
    data = {
        "module": module.number,
        "slug": module.slug,
        "command": command_of(result),
        "tool": "cosmic-ray operators, restricted to solution regions (coursetools.validate.mutants)",
        "operators": list(OPERATORS),
        "max_score": result.max_score,
        "seconds": result.seconds,
        "full_run": result.mutants_run and not result.sampled and not result.carried_over,
        "mistakes": [
            {"name": m.name, "description": m.description, "points_lost": m.points_lost, "caught_by": m.caught_by}
            for m in result.mistakes
        ],
    }
    if result.mutants_run:
        data["mutation"] = {
            "generated": len(result.mutants),
            "caught": len(result.caught),
            "survived": len(result.survivors),
            "equivalent_marked": len(result.equivalent),
            "score": result.score,
            "sampled": result.sampled,
            "carried_over": result.carried_over,
        }
        data["shortcuts"] = {
            "generated": len(result.shortcuts),
            "caught": len(result.shortcuts) - len(result.shortcut_survivors),
            "survived": len(result.shortcut_survivors),
        }
        data["shortcut_survivors"] = [_mutant_entry(m) for m in result.shortcut_survivors]
        data["shortcuts_caught"] = [{"id": m.mutant.id, "first_failed": m.first_failed}
                                    for m in result.shortcuts if m.caught]
        data["survivors"] = [{**_mutant_entry(m), **({"mark_rejected": m.mark_problem} if m.mark_problem else {})}
                             for m in result.survivors]
        data["equivalent"] = [{**_mutant_entry(m), "reason": m.equivalent_reason} for m in result.equivalent]
        data["stale_marks"] = result.stale_marks
        data["caught"] = [{"id": m.mutant.id, "first_failed": m.first_failed} for m in result.caught]
    return data


def _mutant_entry(item) -> dict:
    mutant = item.mutant
    return {"id": mutant.id, "region": mutant.region, "operator": mutant.operator, "line": mutant.line,
            "diff": mutant.diff}


def to_markdown(result: ModuleValidation) -> str:
    module = result.module
    lines = [f"# Validation of module {module.number} ({module.slug})", "",
             f"Produced by `{command_of(result)}` in {result.seconds:g} s.", ""]
    if result.carried_over:
        lines += [f"{result.carried_over} mutants caught by the previous full run were kept without regrading "
                  "(`--survivors`: hidden tests were only added since); every other mutant was graded again.", ""]
    if result.mutants_run:
        lines += ["| mutants generated | caught | survived | equivalent (property-confirmed) | mutation score "
                  "| shortcut variants caught |",
                  "|---:|---:|---:|---:|---:|---:|",
                  f"| {len(result.mutants)} | {len(result.caught)} | {len(result.survivors)} | "
                  f"{len(result.equivalent)} | **{result.score:g}%** | "
                  f"{len(result.shortcuts) - len(result.shortcut_survivors)}/{len(result.shortcuts)} |", ""]
    lines += ["## Catalogued mistakes", "", "| mistake | points lost | caught by |", "|---|---:|---|"]
    for m in result.mistakes:
        caught_by = "; ".join(m.caught_by[:3]) + (f" (+{len(m.caught_by) - 3} more)" if len(m.caught_by) > 3 else "")
        lines.append(f"| `{m.name}`: {m.description} | {m.points_lost:.2f} / {result.max_score:g} | "
                     f"{caught_by or '**NOT CAUGHT**'} |")
    if result.mutants_run:
        lines += ["", "## Shortcut variants", "", "| variant | caught by |", "|---|---|"]
        lines += [f"| `{m.mutant.id}` | {m.first_failed or '**SURVIVED**'} |" for m in result.shortcuts] or ["None declared."]
        for m in result.shortcut_survivors:
            lines += ["", f"- surviving shortcut `{m.mutant.id}`", "", f"```diff\n{m.mutant.diff}```"]
        lines += ["", "## Surviving mutants", ""]
        lines += [f"- `{m.mutant.id}`" + (f" (equivalent mark rejected: {m.mark_problem})" if m.mark_problem else "")
                  + f"\n\n```diff\n{m.mutant.diff}```\n" for m in result.survivors] or ["None."]
        lines += ["", "## Equivalent mutants (mark confirmed by its property)", ""]
        lines += [f"- `{m.mutant.id}`: {m.equivalent_reason}" for m in result.equivalent] or ["None."]
        if result.stale_marks:
            lines += ["", "## Stale equivalent marks (no such mutant, or now caught)", ""]
            lines += [f"- `{mark}`" for mark in result.stale_marks]
    return "\n".join(lines) + "\n"


def write_reports(course: Course, result: ModuleValidation) -> list[Path]:
    folder = reports_dir(course)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / result.module.dirname
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(to_dict(result), indent=1) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(result), encoding="utf-8")
    return [json_path, md_path]


def print_summary(result: ModuleValidation) -> None:
    """Mistakes, mutation score and every survivor with its diff, for the terminal."""
    module = result.module
    print(f"\n== module {module.number} ({module.slug}): validated in {result.seconds:g} s")
    for m in result.mistakes:
        verdict = f"loses {m.points_lost:.2f}" if m.points_lost > 0 else "NOT CAUGHT"
        first = f" (first: {m.caught_by[0]})" if m.caught_by else ""
        print(f"  mistake {m.name:<40} {verdict}{first}")
    print(f"  shortcut variants: {len(result.shortcuts)} generated, "
          f"{len(result.shortcuts) - len(result.shortcut_survivors)} caught")
    for m in result.shortcuts:
        print(f"  shortcut {m.mutant.id:<60} {'caught by ' + m.first_failed if m.caught else 'SURVIVED'}")
    for m in result.shortcut_survivors:
        print(f"  SHORTCUT SURVIVOR {m.mutant.id}\n{m.mutant.diff}")
    if result.mutants_run:
        kind = "sampled " if result.sampled else ""
        print(f"  {kind}mutants: {len(result.mutants)} generated, {len(result.caught)} caught, "
              f"{len(result.survivors)} survived, {len(result.equivalent)} equivalent (property-confirmed); "
              f"mutation score {result.score:g}%")
        for m in result.survivors:
            rejected = f" (mark rejected: {m.mark_problem})" if m.mark_problem else ""
            print(f"  SURVIVOR {m.mutant.id}{rejected}\n{m.mutant.diff}")
        for mark in result.stale_marks:
            print(f"  stale equivalent mark (no such mutant, or now caught): {mark}")
    for problem in result.problems():
        print(f"  PROBLEM: {problem}")


def summary_markdown(course: Course) -> str:
    """The README's validation table, one row per released module from the committed reports,
    then every equivalent mark with its reason."""
    lines = ["| module | token mutants | caught | survivors | marks | mutation score | shortcut variants caught "
             "| mistakes caught | report from | run time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    reasons: list[str] = []
    for module in course.released():
        path = reports_dir(course) / f"{module.dirname}.json"
        if not path.is_file():
            lines.append(f"| {module.dirname} | no report yet | | | | | | | | |")
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        mutation, shortcuts = data.get("mutation", {}), data.get("shortcuts")
        mistakes = data["mistakes"]
        caught = sum(1 for m in mistakes if m["points_lost"] > 0)
        shortcut_cell = f"{shortcuts['caught']}/{shortcuts['generated']}" if shortcuts else "not run"
        lines.append(f"| {module.dirname} | {mutation.get('generated', '-')} | {mutation.get('caught', '-')} | "
                     f"{mutation.get('survived', '-')} | {mutation.get('equivalent_marked', '-')} | "
                     f"{mutation.get('score', '-')}% | {shortcut_cell} | {caught}/{len(mistakes)} | "
                     f"{_run_kind(data)} | {data.get('seconds', 0):g} s |")
        unproven = "" if "shortcuts" in data else " **(not re-proven: the report predates property checks)**"
        reasons += [f"- {module.dirname} `{entry['id'].split('::', 1)[1]}`: {entry['reason']}{unproven}"
                    for entry in data.get("equivalent", [])]
    if reasons:
        lines += ["", "Equivalent marks and their reasons (a report written since property checks says which "
                  "property confirmed each):", "", *reasons]
    return "\n".join(lines) + "\n"


def _run_kind(data: dict) -> str:
    mutation = data.get("mutation", {})
    if mutation.get("sampled"):
        return "sample"
    if mutation.get("carried_over"):
        return f"SURVIVORS=1 ({mutation['carried_over']} carried over)"
    return "full run" if data.get("full_run", "shortcuts" in data) else "full run (before shortcuts)"
