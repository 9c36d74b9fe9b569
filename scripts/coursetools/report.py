"""``make report RESULTS=DIR``: a class summary from many results.json files.

Reads ``DIR/<student>/results.json`` (as written by ``make grade-batch``) and writes, into DIR:
- ``summary.json``: scores, histogram, pass rate per test, commonest failure messages,
  timeouts, slowest tests;
- ``gradebook.csv``: one row per student, a column per test group, the total;
- ``report.html``: the same as one self-contained page (no scripts, no external files).

Pairs of suspiciously similar submissions come from copydetect (winnowed token fingerprints,
as MOSS does) over the files each student owns, which ``make grade-batch`` keeps in
``DIR/<student>/submitted/``; the starter code in ``DIR/_starter/`` counts as boilerplate.
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter, defaultdict
from pathlib import Path

BINS = 10
SIMILARITY_THRESHOLD = 0.5
"""Pairs whose copied share (of either file's tokens) exceeds this are listed."""


def load_results(folder: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(folder.glob("*/results.json")):
        found[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    if not found:
        raise FileNotFoundError(f"no <student>/results.json under {folder}; run make grade-batch first")
    return found


def graded_tests(result: dict) -> list[dict]:
    return [t for t in result.get("tests", []) if "summary" not in t.get("tags", [])]


def summarise(results: dict[str, dict]) -> dict:
    scores = {name: r["score"] for name, r in results.items()}
    max_score = max((r.get("extra_data", {}).get("max_score", 0) for r in results.values()), default=0) or 1
    passes, counts, failures, timeouts, durations = Counter(), Counter(), Counter(), Counter(), defaultdict(list)
    for result in results.values():
        for test in graded_tests(result):
            counts[test["name"]] += 1
            passes[test["name"]] += test["status"] == "passed"
            if test["status"] != "passed":
                failures[_first_line(test.get("output", ""))] += 1
            if "Timeout" in test.get("output", "") or "stopped after" in test.get("output", ""):
                timeouts[test["name"]] += 1
            seconds = test.get("extra_data", {}).get("seconds")
            if seconds is not None:
                durations[test["name"]].append(seconds)
    histogram = [0] * BINS
    for score in scores.values():
        histogram[min(BINS - 1, int(BINS * score / max_score))] += 1
    return {
        "students": len(results),
        "max_score": max_score,
        "mean_score": sum(scores.values()) / len(scores),
        "scores": scores,
        "histogram": {"bins": [round(max_score * i / BINS, 2) for i in range(BINS + 1)], "counts": histogram},
        "pass_rate": {name: passes[name] / counts[name] for name in sorted(counts)},
        "common_failures": failures.most_common(10),
        "timeouts": dict(timeouts),
        "slowest_tests": sorted(((n, max(v)) for n, v in durations.items()), key=lambda x: -x[1])[:10],
        "grading_errors": [n for n, r in results.items() if r.get("extra_data", {}).get("grading_error")],
    }


def similar_pairs(folder: Path, threshold: float = SIMILARITY_THRESHOLD) -> list[dict]:
    """Pairs of students whose owned files overlap beyond threshold, most similar first."""
    submitted = sorted(p for p in folder.glob("*/submitted") if p.is_dir() and any(p.rglob("*.py")))
    if len(submitted) < 2:
        return []
    from copydetect import CopyDetector

    starter = folder / "_starter"
    detector = CopyDetector(test_dirs=[str(p) for p in submitted], ref_dirs=[str(p) for p in submitted],
                            boilerplate_dirs=[str(starter)] if starter.is_dir() else [], extensions=["py"],
                            display_t=threshold, autoopen=False, silent=True, out_file=str(folder / "copydetect.html"))
    detector.run()
    pairs = {}
    for test_sim, ref_sim, test_file, ref_file, *_rest, overlap in detector.get_copied_code_list():
        first, second = sorted((_student_of(folder, test_file), _student_of(folder, ref_file)))
        if first == second:
            continue
        similarity = round(float(max(test_sim, ref_sim)), 3)
        if similarity > pairs.get((first, second), {}).get("similarity", -1):
            pairs[(first, second)] = {"students": [first, second], "similarity": similarity,
                                      "file": Path(test_file).name, "tokens": int(overlap)}
    return sorted(pairs.values(), key=lambda pair: -pair["similarity"])


def _student_of(folder: Path, path: str) -> str:
    return Path(path).resolve().relative_to(folder.resolve()).parts[0]


def write_gradebook(results: dict[str, dict], path: Path) -> None:
    groups = sorted({tag for r in results.values() for t in graded_tests(r) for tag in t.get("tags", [])[:1]})
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *groups, "total"])
        for name, result in results.items():
            per_group = defaultdict(float)
            for test in graded_tests(result):
                per_group[(test.get("tags") or ["?"])[0]] += test["score"]
            writer.writerow([name, *(round(per_group[g], 2) for g in groups), round(result["score"], 2)])


def render_html(summary: dict) -> str:
    e = html.escape
    bars = "".join(
        f'<div class="bar"><span style="height:{4 + 120 * c / max(1, max(summary["histogram"]["counts"]))}px"></span>'
        f'<small>{summary["histogram"]["bins"][i]:g}</small><b>{c}</b></div>'
        for i, c in enumerate(summary["histogram"]["counts"])
    )
    rates = "".join(f"<tr><td>{e(n)}</td><td>{r:.0%}</td></tr>" for n, r in sorted(summary["pass_rate"].items(), key=lambda x: x[1]))
    failures = "".join(f"<tr><td>{c}</td><td><code>{e(m)}</code></td></tr>" for m, c in summary["common_failures"])
    slow = "".join(f"<tr><td>{e(n)}</td><td>{s:.2f} s</td></tr>" for n, s in summary["slowest_tests"])
    timeouts = "".join(f"<tr><td>{e(n)}</td><td>{c}</td></tr>" for n, c in summary["timeouts"].items()) or "<tr><td>none</td></tr>"
    similar = "".join(f"<tr><td>{e(p['students'][0])}</td><td>{e(p['students'][1])}</td><td>{p['similarity']:.0%}</td>"
                      f"<td>{e(p['file'])}</td><td>{p['tokens']}</td></tr>" for p in summary.get("similar_pairs", [])) \
        or '<tr><td colspan="5">none above the threshold</td></tr>'
    errors = ", ".join(e(n) for n in summary["grading_errors"]) or "none"
    scores = "".join(f"<tr><td>{e(n)}</td><td>{s:g}</td></tr>" for n, s in sorted(summary["scores"].items()))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Class report</title><style>
body{{font-family:sans-serif;margin:2em;max-width:1000px}} table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}} .hist{{display:flex;align-items:flex-end;gap:6px;height:170px}}
.bar{{display:flex;flex-direction:column;align-items:center;width:60px}} .bar span{{background:#4a7;width:40px;display:block}}
</style></head><body>
<h1>Class report</h1>
<p id="overview">{summary['students']} submissions, mean score {summary['mean_score']:.2f} of {summary['max_score']:g}.</p>
<h2>Score histogram</h2><div class="hist" id="histogram">{bars}</div>
<h2>Pass rate per test</h2><table id="pass-rate"><tr><th>test</th><th>passed</th></tr>{rates}</table>
<h2>Commonest failure messages</h2><table id="failures"><tr><th>count</th><th>message</th></tr>{failures}</table>
<h2>Timeouts</h2><table id="timeouts"><tr><th>test</th><th>timed out</th></tr>{timeouts}</table>
<h2>Slowest tests</h2><table id="slowest"><tr><th>test</th><th>longest run</th></tr>{slow}</table>
<h2>Suspiciously similar submissions</h2><p>copydetect over each student's own files, starter code ignored; threshold {SIMILARITY_THRESHOLD:.0%}.</p>
<table id="similar"><tr><th>student</th><th>student</th><th>similarity</th><th>file</th><th>shared tokens</th></tr>{similar}</table>
<h2>Grading errors</h2><p id="grading-errors">{errors}</p>
<h2>Scores</h2><table id="scores"><tr><th>student</th><th>score</th></tr>{scores}</table>
</body></html>
"""


def main(*, results: str, out: str | None = None) -> dict:
    folder = Path(results)
    target = Path(out) if out else folder
    target.mkdir(parents=True, exist_ok=True)
    all_results = load_results(folder)
    summary = summarise(all_results)
    summary["similar_pairs"] = similar_pairs(folder)
    (target / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    write_gradebook(all_results, target / "gradebook.csv")
    (target / "report.html").write_text(render_html(summary), encoding="utf-8")
    print(f"{summary['students']} submissions, mean {summary['mean_score']:.2f} / {summary['max_score']:g}: "
          f"{target / 'summary.json'}, {target / 'gradebook.csv'}, {target / 'report.html'}")
    return summary


def _first_line(output: str) -> str:
    for line in output.splitlines():
        line = line.strip().replace("**Failed**: ", "").replace("**Not run**: ", "")
        if line and not line.startswith("```"):
            return line[:200]
    return ""
