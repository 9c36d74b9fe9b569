"""Turn the grader's results.json into the job summary and the autograding reporter's inputs.

Runs inside a student repository's GitHub Actions job (Python 3.10+, standard library only), as
``python - RESULTS_JSON`` with ``GROUPS`` filled in by the release. It writes:

- to ``$GITHUB_STEP_SUMMARY``: a Markdown table, one row per visible group (tests passed,
  points), the total, and the first line of each failure;
- to ``$GITHUB_OUTPUT``: one output per visible group, named by its runner id, holding the
  base64 JSON that ``education/autograding-grading-reporter@v1`` reads from
  ``<RUNNER upper-cased>_RESULTS`` (the shape ``autograding-command-grader@v1`` writes:
  version, status, max_score, tests). Each test's status is pass or fail; the reporter scores a
  group as passed share x max_score, which is the grader's score because a group's points are
  split evenly over its tests.

A missing or unreadable results.json is not a score of 0: every group is reported with status
``error`` and the reason, and the script exits 1 so the job shows the grading failed.
"""

import base64
import json
import os
import sys

GROUPS = []  # filled in by the release: [{"name", "runner", "title", "points"}, ...]
MODULE = ""  # filled in by the release: "01 (tensor)"
HIDDEN_POINTS = 0.0  # filled in by the release


def load(path):
    """The results dict and None, or None and why it could not be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle), None
    except OSError as error:
        return None, f"the grader wrote no results ({error.strerror}): see the log of the grading step"
    except ValueError as error:
        return None, f"the grader's results.json is not valid JSON ({error})"


def first_line(text):
    for line in (text or "").splitlines():
        line = line.strip().replace("**Failed**: ", "").replace("**Not run**: ", "")
        if line and not line.startswith("```"):
            return line[:200]
    return ""


def group_tests(results, name):
    return [t for t in results.get("tests", []) if (t.get("tags") or [""])[0] == name]


def reporter_payload(group, tests, reason):
    """What autograding-command-grader@v1 would output for this group."""
    if reason is not None or not tests:
        why = reason or "the grader reported no test of this group"
        return {"version": 1, "status": "error", "max_score": group["points"],
                "tests": [{"name": group["title"], "status": "error", "score": 0, "message": why,
                           "test_code": "", "filename": "", "line_no": 0, "duration": 0}]}
    entries = [{"name": t["name"].split(" \u203a ")[-1], "status": "pass" if t["status"] == "passed" else "fail",
                "score": t["score"], "message": first_line(t.get("output")), "test_code": "", "filename": "",
                "line_no": 0, "duration": int(1000 * (t.get("extra_data") or {}).get("seconds", 0))}
               for t in tests]
    status = "pass" if all(e["status"] == "pass" for e in entries) else "fail"
    return {"version": 1, "status": status, "max_score": group["points"], "tests": entries}


def summary_markdown(results, reason):
    lines = [f"## Module {MODULE}: visible tests", ""]
    if reason is not None:
        lines += [f"**Ungraded**: {reason}.", ""]
    lines += ["| group | tests passed | points |", "|---|---|---|"]
    total = 0.0
    failures = []
    for group in GROUPS:
        tests = group_tests(results or {}, group["name"])
        passed = sum(t["status"] == "passed" for t in tests)
        score = round(sum(t["score"] for t in tests), 2)
        total += score
        lines.append(f"| {group['title']} | {passed} / {len(tests)} | {score:g} / {group['points']:g} |")
        failures += [(t["name"], first_line(t.get("output"))) for t in tests if t["status"] != "passed"]
    visible = sum(g["points"] for g in GROUPS)
    lines.append(f"| **total** | | **{round(total, 2):g} / {visible:g}** |")
    if HIDDEN_POINTS:
        lines += ["", f"{HIDDEN_POINTS:g} more points come from hidden tests, graded after the deadline."]
    if failures:
        lines += ["", "<details><summary>What failed</summary>", ""]
        lines += [f"- {name}: `{message}`" for name, message in failures]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def append(variable, text):
    path = os.environ.get(variable)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)


def main(argv):
    results, reason = load(argv[1] if len(argv) > 1 else "results.json")
    append("GITHUB_STEP_SUMMARY", summary_markdown(results, reason))
    outputs = []
    for group in GROUPS:
        payload = reporter_payload(group, group_tests(results or {}, group["name"]), reason)
        encoded = base64.b64encode(json.dumps(payload).encode("utf-8")).decode("ascii")
        outputs.append(f"{group['runner']}={encoded}\n")
    append("GITHUB_OUTPUT", "".join(outputs))
    return 1 if reason is not None else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
