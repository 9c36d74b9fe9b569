"""The hostile-submission suite's summary line: "N attacks tried, N held" (and known limitations).

It lives here, not in tests/hostile/, because pytest-xdist's controller only loads the conftest
files of the test paths it is given (tests/, hidden_tests/): a hook deeper down would run in the
workers, which print no terminal summary. Not shipped to students (they get the root conftest).

An attack is a test named ``test_attack_is_held[...]``. Held means it passed; a documented
known limitation (docs/SECURITY.md) shows as xfailed with its reason and is counted apart.
"""

from __future__ import annotations

ATTACK_TEST = "test_attack_is_held["


def pytest_terminal_summary(terminalreporter) -> None:
    outcomes = {}
    for kind in ("passed", "failed", "xfailed", "xpassed", "error", "skipped"):
        for report in terminalreporter.stats.get(kind, []):
            nodeid = getattr(report, "nodeid", "")
            if ATTACK_TEST in nodeid and getattr(report, "when", "call") in ("call", "setup"):
                name = nodeid.split(ATTACK_TEST, 1)[1].rstrip("]")
                outcomes.setdefault(name, kind if kind != "xpassed" else "passed")
    if not outcomes:
        return
    held = sorted(name for name, kind in outcomes.items() if kind == "passed")
    limited = sorted(name for name, kind in outcomes.items() if kind == "xfailed")
    broken = sorted(name for name, kind in outcomes.items() if kind not in ("passed", "xfailed"))
    terminalreporter.write_sep("=", "hostile submissions")
    terminalreporter.write_line(f"{len(outcomes)} attacks tried, {len(held)} held")
    if limited:
        terminalreporter.write_line(f"{len(limited)} known limitations (docs/SECURITY.md): {', '.join(limited)}")
    if broken:
        terminalreporter.write_line(f"NOT held: {', '.join(broken)}")
