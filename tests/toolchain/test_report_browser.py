"""The report site, rendered by a real headless browser (Debian's chromium).

The results are made up here (four students: full marks, a failure, a timeout and an ungraded
one, two groups, with collect's metadata), so the test needs no grading run. Screenshots of the
class page and a student page go to dist/artifacts/ for people to look at.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from coursetools.report import class_report as report
from coursetools.site.browser import find_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "dist" / "artifacts"
HISTOGRAM_GREEN = (0x44, 0xAA, 0x77)
"""The bars' colour (#4a7 in the page's style)."""


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: install Debian's with `apt-get install -y chromium` (.ci/run does)")


def headless(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def console_errors(stderr: str) -> list[str]:
    """What the page's scripts logged or threw (chromium prints them as CONSOLE lines)."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def result(outcomes: dict[str, tuple[str, str, float]]) -> dict:
    """A results.json: outcomes maps test name -> (group, failure message or "", seconds)."""
    groups = {"arithmetic": ("1", "Adding"), "matmul": ("2", "Matmul")}
    tests = [{"name": f"{groups[group][1]} \u203a {name}", "number": f"{groups[group][0]}.{k}",
              "score": 0.0 if message else 5.0, "max_score": 5.0,
              "status": "failed" if message else "passed", "output": message, "visibility": "visible",
              "tags": [group], "extra_data": {"seconds": seconds}}
             for k, (name, (group, message, seconds)) in enumerate(outcomes.items(), start=1)]
    return {"score": sum(t["score"] for t in tests), "tests": tests, "extra_data": {"max_score": 10.0}}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class-results")
    shape = "**Failed**: AssertionError: shapes (2, 3) and (4, 5) differ"
    classes = {
        "ana": result({"adds": ("arithmetic", "", 0.2), "matmul": ("matmul", "", 3.5)}),
        "ben": result({"adds": ("arithmetic", "", 0.1), "matmul": ("matmul", shape, 0.3)}),
        "cem": result({"adds": ("arithmetic", "**Failed**: Timeout: the test ran longer than 10 s", 10.0),
                       "matmul": ("matmul", shape, 0.4)}),
    }
    for name, data in classes.items():
        (folder / name).mkdir()
        (folder / name / "results.json").write_text(json.dumps(data))
        (folder / name / "status.json").write_text(json.dumps({"status": "graded", "seconds": 4.2}))
    (folder / "dee").mkdir()
    (folder / "dee" / "status.json").write_text(json.dumps(
        {"status": "ungraded", "reason": "the grading worker was killed by SIGKILL before reporting"}))
    starter = "def add(a, b):\n    raise NotImplementedError\n"
    code = "def add(a, b):\n    total = a + b\n    for i in range(3):\n        total = total * 2 + i\n    return total\n" * 4
    (folder / "_starter").mkdir()
    (folder / "_starter" / "ops.py").write_text(starter)
    for name, text in {"ana": code, "ben": code.replace("total", "acc"), "cem": "x = 1\n"}.items():
        (folder / name / "submitted").mkdir()
        (folder / name / "submitted" / "ops.py").write_text(text)
    (folder / "_metadata.json").write_text(json.dumps({
        "ana": {"name": "Ana Alves", "email": "ana@example.edu", "submitted_at": "2026-10-01T20:00:00+00:00",
                "late": False, "status": "collected"},
        "ben": {"name": "Ben Berg", "email": "ben@example.edu", "late": True, "status": "collected"},
        "fay": {"name": "Fay Fox", "status": "missing", "reason": "no commit on main before the deadline"},
    }))
    report.main(results=str(folder))
    return folder / "report"


def test_the_site_is_self_contained(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', text), f"{page.name} loads something from outside"


def test_every_link_resolves(site):
    pages = list(site.rglob("*.html"))
    assert {p.name for p in (site / "students").iterdir()} == {"ana.html", "ben.html", "cem.html", "dee.html", "fay.html"}
    for page in pages:
        for target in re.findall(r'href="([^"#]+)"', page.read_text()):
            assert (page.parent / target).resolve().is_file(), f"{page.name} links to a missing {target}"


def test_chromium_renders_the_class_page(site):
    done = headless("--dump-dom", (site / "index.html").as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert not console_errors(done.stderr), console_errors(done.stderr)
    dom = done.stdout
    assert "5 students: 3 graded, 1 ungraded, 1 missing; mean score 5.00 of 10" in dom
    histogram = dom.split('id="histogram"')[1].split("</div></div>")[0]
    assert histogram.count('class="bar"') == report.BINS
    groups = dom.split('id="groups"')[1].split("</table>")[0]
    assert groups.index("Adding") < groups.index("Matmul"), "groups come in manifest order"
    rates = dom.split('id="pass-rate"')[1].split("</table>")[0]
    assert "<td>Matmul › matmul</td><td>matmul</td><td data-sort=\"0.3333\">33%</td>" in rates
    failures = dom.split('id="failures"')[1].split("</table>")[0]
    assert "AssertionError: shapes (2, 3) and (4, 5) differ" in failures
    assert '<a href="students/ben.html">ben</a>, <a href="students/cem.html">cem</a>' in failures
    timeouts = dom.split('id="timeouts"')[1].split("</table>")[0]
    assert "Adding › adds" in timeouts and 'href="students/cem.html"' in timeouts
    similar = dom.split('id="similar"')[1].split("</table>")[0]
    assert 'href="students/ana.html"' in similar and 'href="students/ben.html"' in similar and "cem" not in similar
    problems = dom.split('id="grading-errors"')[1].split("</table>")[0]
    assert "killed by SIGKILL" in problems and "no commit on main" in problems
    students = dom.split('id="students"')[1].split("</table>")[0]
    assert 'class="ungraded">ungraded' in students and "<td>late</td>" in students


def test_chromium_renders_a_student_page(site):
    done = headless("--dump-dom", (site / "students" / "ben.html").as_uri())
    assert done.returncode == 0 and not console_errors(done.stderr), done.stderr[-2000:]
    dom = done.stdout
    assert "Ben Berg" in dom and "ben@example.edu" in dom and "<td>late</td>" in dom
    assert "Score 5 of 10." in dom and "shapes (2, 3) and (4, 5) differ" in dom and "0.30 s" in dom
    diff = dom.split("Changes from the starter code")[1]
    assert 'class="del">-    raise NotImplementedError' in diff and 'class="add">+    acc = a + b' in diff
    ungraded = headless("--dump-dom", (site / "students" / "dee.html").as_uri()).stdout
    assert "Ungraded: the grading worker was killed by SIGKILL" in ungraded and "Score" not in ungraded


def test_clicking_a_heading_sorts_the_table(site, tmp_path):
    """The page's own sort script, driven by a click in the browser: lowest score first."""
    probe = tmp_path / "probe.html"
    text = (site / "index.html").read_text()
    click = ("<script>var th=document.querySelectorAll('#students th')[2]; th.click();"
             "document.title=Array.from(document.querySelectorAll('#students tbody tr'))"
             ".map(function(r){return r.cells[0].textContent}).join(',');</script></body>")
    probe.write_text(text.replace("</body>", click))
    shutil.copytree(site / "students", tmp_path / "students")
    done = headless("--dump-dom", probe.as_uri())
    assert not console_errors(done.stderr), done.stderr[-2000:]
    order = re.search(r"<title>([^<]*)</title>", done.stdout)[1].split(",")
    assert order[-1] == "ana" and order.index("ben") < order.index("ana") and order[:2] in (["dee", "fay"], ["fay", "dee"])


def test_a_console_error_would_be_caught(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert console_errors(headless("--dump-dom", broken.as_uri()).stderr)


def test_chromium_screenshots_show_the_histogram(site):
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page, shot in ((site / "index.html", ARTIFACTS / "report.png"),
                       (site / "students" / "ben.html", ARTIFACTS / "report-student.png")):
        shot.unlink(missing_ok=True)
        done = headless(f"--screenshot={shot}", "--window-size=1100,1600", page.as_uri())
        assert shot.is_file(), done.stderr[-2000:]
        assert Image.open(shot).size == (1100, 1600)
    colours = Image.open(ARTIFACTS / "report.png").convert("RGB").getcolors(maxcolors=1 << 20)
    green = sum(count for count, colour in colours if colour == HISTOGRAM_GREEN)
    assert green > 500, "the histogram's bars were not drawn"
