"""Milestone pages: each milestone's README and its committed measured results, curves drawn as PNGs.

The results are ``milestones/results/NN_name.json`` as the milestone scripts wrote them (quick
runs excluded); nothing is retrained. A result's scalar fields become a table, nested objects
dotted rows, lists of records a table of their own, multi-line strings (a text sample, a
profile table) code blocks, and ``curves`` (plus a ``validation_curve`` of [step, loss] pairs)
a figure drawn with matplotlib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from coursetools.manifest import Course
from coursetools.site.pages import module_page_path
from coursetools.site.plan import Milestone, Plan

SKIPPED = {"milestone", "quick", "curves", "validation_curve", "tinytorch", "data_sha256", "command"}
"""Fields a result table leaves out: shown elsewhere, or a path of the machine that ran it."""
CONDITIONS = ("seed", "python", "numpy", "machine", "finished")
"""Fields that say how a result was obtained; the table lists them after the measurements."""


@dataclass(frozen=True)
class Result:
    name: str
    """The JSON file's stem (``04_cnn_cifar10``)."""
    data: dict
    companions: tuple[Path, ...]
    """Other committed files of the same result (an HTML report), copied beside the page."""


def milestone_results(course: Course, milestone: Milestone) -> list[Result]:
    folder = course.root / "milestones" / "results"
    results = []
    for path in sorted(folder.glob(f"{milestone.number}_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("quick") or path.stem.endswith("_quick"):
            continue
        companions = tuple(p for p in sorted(folder.glob(f"{path.stem}.*")) if p.suffix == ".html")
        results.append(Result(path.stem, data, companions))
    return results


def curve_series(data: dict) -> list[tuple[str, list[float], list[float]]]:
    """(label, x, y) of every curve of a result; x in training steps when the result says how many."""
    curves = {k: v for k, v in (data.get("curves") or {}).items() if v}
    steps = data.get("steps") if isinstance(data.get("steps"), int) else None
    series = []
    for label, values in curves.items():
        if steps and data.get("validation_curve"):
            x = [(i + 1) * steps / len(values) for i in range(len(values))]
        else:
            x = list(range(1, len(values) + 1))
        series.append((label, x, [float(v) for v in values]))
    if data.get("validation_curve"):
        pairs = data["validation_curve"]
        series.append(("validation loss", [float(p[0]) for p in pairs], [float(p[1]) for p in pairs]))
    return series


def x_label(data: dict, length: int) -> str:
    if data.get("validation_curve"):
        return "training step"
    return "epoch" if data.get("epochs") == length else "logged point"


def draw_curves(data: dict, target: Path) -> bool:
    """Write the result's curves as a PNG (losses left, accuracies right); False when it has none."""
    series = curve_series(data)
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    losses = [s for s in series if "acc" not in s[0]]
    accuracies = [s for s in series if "acc" in s[0]]
    panels = [p for p in (losses, accuracies) if p]
    figure, axes = pyplot.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.0), dpi=110, squeeze=False)
    for axis, panel in zip(axes[0], panels):
        for label, x, y in panel:
            axis.plot(x, y, label=label, marker="o" if len(x) <= 20 else None, markersize=3)
        axis.set_xlabel(x_label(data, len(panel[0][1])))
        axis.set_ylabel("accuracy" if panel is accuracies else "loss")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    pyplot.close(figure)
    return True


def flat_rows(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, scalar) pairs of a result, nested objects flattened, lists and long text left out."""
    rows = []
    for key, value in data.items():
        name = prefix + key
        if key in SKIPPED and not prefix:
            continue
        if isinstance(value, dict):
            rows += flat_rows(value, name + ".")
        elif isinstance(value, (bool, int, float)) or (isinstance(value, str) and "\n" not in value):
            rows.append((name, value))
    return rows


def shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def record_tables(data: dict) -> list[str]:
    """A table for each list of records (e.g. the capstone's stages)."""
    lines = []
    for key, value in _walk(data):
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(value[0])
            lines += [f"**{key}**", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(shown(row.get(c, "")) for c in columns) + " |" for row in value]
            lines.append("")
    return lines


def _walk(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _walk(value, prefix + key + ".")
        else:
            yield prefix + key, value


def result_section(result: Result, figure: str | None) -> list[str]:
    data = result.data
    lines = [f"### {result.name}", ""]
    if data.get("command"):
        lines += ["```bash", data["command"], "```", ""]
    lines += ["| measured | value |", "|---|---|"]
    rows = flat_rows(data)
    rows = [r for r in rows if r[0] not in CONDITIONS] + [r for r in rows if r[0] in CONDITIONS]
    lines += [f"| {key} | {shown(value)} |" for key, value in rows]
    lines.append("")
    lines += record_tables(data)
    if figure:
        lines += [f"![Curves of {result.name}]({figure})", ""]
    for key, value in _walk(data):
        if isinstance(value, str) and "\n" in value:
            lines += [f"**{key}**", "", "```text", value.rstrip("\n"), "```", ""]
    for companion in result.companions:
        lines += [f"[The full {result.name} report]({companion.name}) (a page of its own).", ""]
    return lines


def milestone_page(course: Course, plan: Plan, milestone: Milestone, readme: str | None,
                   results: list[Result], figures: dict[str, str]) -> str:
    needs = ", ".join(f"[{n} {course.module(n).title}](../{module_page_path(course.module(n))})" for n in milestone.needs)
    week = next(w.number for w in plan.weeks if milestone.folder in w.milestones)
    if readme:
        title, _, body = readme.partition("\n")
    else:
        title, body = f"# Milestone {milestone.number} · {milestone.year}", ""
    lines = [title, "", '!!! info "This milestone"', f"    Opens in **week {week}** · runs your code of modules {needs}  ",
             f"    Run it: `make milestone M={milestone.number}` (`ARGS=--quick` for a smoke run)", "",
             body.strip(), "", "## Measured results", ""]
    if not results:
        lines += ["No full-run results are committed for this milestone yet.", ""]
    for result in results:
        lines += result_section(result, figures.get(result.name))
    return "\n".join(lines) + "\n"


def milestones_index(plan: Plan, titles: dict[str, str], readme: str) -> str:
    lines = ["# Milestones", "", "| milestone | opens in week | needs modules |", "|---|---:|---|"]
    for milestone in plan.milestones:
        week = next(w.number for w in plan.weeks if milestone.folder in w.milestones)
        lines.append(f"| [{titles[milestone.folder]}]({milestone.folder}.md) | {week} | {', '.join(milestone.needs)} |")
    _, _, body = readme.partition("\n")
    return "\n".join(lines + ["", body.strip(), ""])


def title_of(readme: str | None, milestone: Milestone) -> str:
    if readme and readme.startswith("# "):
        return readme.partition("\n")[0][2:].strip()
    return f"Milestone {milestone.number} · {milestone.year}"

