"""Turn pytest-json-report data into graded outcomes with feedback a student can act on.

Pure functions over plain dicts: no pytest, no I/O.
"""

from __future__ import annotations

import re
import signal
import textwrap

from tinytorch_grader.results import TestOutcome

MESSAGE_CHARS = 600
TRACE_CHARS = 1800
TIMEOUT_PATTERN = re.compile(r"Timeout \(?>\s*([0-9.]+)\s*s")
"""pytest-timeout's failure message, e.g. "Failed: Timeout (>10.0s) from pytest-timeout."."""


def grade_group(group: dict, index: int, expected: list[str], report: dict) -> list[TestOutcome]:
    """One outcome per expected test: its share of the group's points if it passed, else 0 and why.

    A group in which the submission replaced parts of NumPy, pytest or the grader scores 0."""
    tampered = report.get("_grader", {}).get("tampered")
    if tampered:
        return fill_missing(group, index, expected, tampered_message(tampered))
    reported = {t["nodeid"]: t for t in report.get("tests", [])}
    for nodeid, entry in report.get("_progress", {}).items():
        reported.setdefault(nodeid, entry)
    why_missing = missing_reason(report)
    outcomes = []
    for k, nodeid in enumerate(expected, start=1):
        test = reported.get(nodeid)
        outcome = _outcome(group, index, k, nodeid, len(expected))
        if test is None:
            outcome.output = why_missing
        elif test.get("outcome") == "passed":
            outcome.score = outcome.max_score
            outcome.output = "Passed."
        else:
            outcome.output = failure_message(test)
        outcome.extra_data = _extra(test)
        outcomes.append(outcome)
    return outcomes


def fill_missing(group: dict, index: int, expected: list[str], message: str) -> list[TestOutcome]:
    """Every test of a group at 0 with the same message (missing file, grader stopped ...)."""
    outcomes = []
    for k, nodeid in enumerate(expected, start=1):
        outcome = _outcome(group, index, k, nodeid, len(expected))
        outcome.output = message
        outcomes.append(outcome)
    return outcomes


def failure_message(test: dict) -> str:
    """Markdown: the crash line (expected vs got), the end of the traceback, the test's hint."""
    stage = next((test[s] for s in ("setup", "call", "teardown") if test.get(s, {}).get("outcome") == "failed"), None)
    stage = stage or test.get("call") or test.get("setup") or {}
    crash = (stage.get("crash") or {}).get("message", "") or test.get("message", "")
    longrepr = stage.get("longrepr") or test.get("longrepr") or ""
    timeout = TIMEOUT_PATTERN.search(crash)
    if timeout:
        crash = (f"timed out after {float(timeout.group(1)):g} s: the test ran past its time limit "
                 "(an infinite loop, or Python loops where NumPy should work?)")
    parts = [f"**Failed**: {_trim(_headline(crash), MESSAGE_CHARS) or 'see below'}"]
    if longrepr:
        parts.append("```text\n" + _tail(longrepr, TRACE_CHARS).replace("```", "'''") + "\n```")
    doc = (test.get("metadata") or {}).get("doc")
    if doc:
        parts.append(f"**What this test checks**: {doc}")
    return "\n\n".join(parts)


def missing_reason(report: dict) -> str:
    """Why a test has no result: the group was killed, a file did not import, or pytest never ran."""
    grader = report.get("_grader", {})
    if grader.get("killed"):
        return f"**Not run**: {grader['killed']}."
    for collector in report.get("collectors", []):
        if collector.get("outcome") == "failed" and collector.get("longrepr"):
            return ("**Not run**: the test file could not be imported, usually because your code does not "
                    "import (a syntax error or an exception at import time):\n\n```text\n"
                    + _error_lines(collector["longrepr"]).replace("```", "'''") + "\n```")
    returncode = grader.get("returncode")
    if isinstance(returncode, int) and returncode < 0:
        return (f"**Not run**: the test process was killed by {_signal_name(-returncode)} before this test "
                "finished, usually because it ran out of memory (Gradescope gives 768 MB by default). "
                "Look for arrays far larger than the test's inputs.")
    if not report.get("tests") and grader:
        return ("**Not run**: pytest stopped before running this test (exit code "
                f"{grader.get('returncode')}).\n\n```text\n{_tail(grader.get('stdout_tail', ''), TRACE_CHARS)}\n```")
    return "**Not run**: this test did not report a result."


def tampered_message(changes: list[str]) -> str:
    listed = "\n".join(f"- {change}" for change in changes[:10])
    return ("**Not graded**: while these tests ran, code in your submission replaced functions that "
            "grading relies on (NumPy, pytest or the grader), so none of this group's results can be "
            f"trusted and the group scores 0. Remove the code that does this:\n\n{listed}")


def budget_message(budget: float) -> str:
    return (f"**Not run**: the module's grading time ({budget:g} s in all) ran out before this group "
            "started, because earlier groups were slow. Make the slow code faster and resubmit.")


def missing_files_message(missing: list[str], refused: list[str] | None = None) -> str:
    names = ", ".join(f"`{m}`" for m in missing)
    message = (f"**Not run**: {names} not found in your submission. Upload your repository (or a zip of it) "
               "with this file at the same path as in the starter code.")
    if refused:
        shown = ", ".join(f"`{r}`" for r in refused[:10])
        message += f" Left out because they are not regular files: {shown}. Upload the files themselves."
    return message


def leaderboard_entries(group: dict, report: dict) -> list[dict]:
    """Leaderboard columns the group declares, from the metrics its tests recorded."""
    entries = []
    for column in group.get("leaderboard", []):
        name, _, order = column.partition(":")
        values = [
            t["metadata"]["metrics"][name]
            for t in report.get("tests", [])
            if name in ((t.get("metadata") or {}).get("metrics") or {})
        ]
        if values:
            entries.append({"name": name, "value": round(values[0], 4), "order": order or "asc"})
    return entries


def overall_message(module: dict, outcomes: list[TestOutcome], missing: list[str],
                    refused: list[str] | None = None) -> str:
    earned = sum(o.score for o in outcomes)
    possible = sum(o.max_score for o in outcomes)
    lines = [f"Module {module['number']} ({module['title']}): {earned:g} / {possible:g} points."]
    if missing:
        lines.append(missing_files_message(missing, refused))
    return "\n\n".join(lines)


def _outcome(group: dict, index: int, k: int, nodeid: str, count: int) -> TestOutcome:
    return TestOutcome(
        name=f"{group['title']} › {_test_name(nodeid)}",
        number=f"{index}.{k}",
        score=0.0,
        max_score=group["points"] / count,
        visibility=group["visibility"],
        tags=[group["name"]],
    )


def _test_name(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1].replace("::", ".")


def _extra(test: dict | None) -> dict:
    if not test:
        return {}
    duration = sum((test.get(s) or {}).get("duration", 0.0) for s in ("setup", "call", "teardown"))
    extra = {"seconds": round(duration, 4)}
    metrics = (test.get("metadata") or {}).get("metrics")
    if metrics:
        extra["metrics"] = metrics
    return extra


def _headline(message: str) -> str:
    """The first line of an error message, joined with the next when it only introduces it
    ("AssertionError:" then "Not equal to tolerance ..."); the full text is in the traceback."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[1]}"
    return lines[0] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _error_lines(longrepr: str) -> str:
    """The lines of a pytest error that explain it (its ``E`` lines), else the end of the text."""
    explained = [line[1:].rstrip() for line in longrepr.splitlines() if line.startswith("E ")]
    if explained:
        return _tail(textwrap.dedent("\n".join(explained)), TRACE_CHARS)
    return _tail(longrepr, TRACE_CHARS)


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tail(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-(limit - 3):]
