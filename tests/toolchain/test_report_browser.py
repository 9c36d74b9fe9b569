"""The class report page, rendered by a real headless browser (Debian's chromium).

The results are made up here (three students, two groups), so the test needs no grading run.
The screenshot is kept in dist/artifacts/report.png for people to look at.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from coursetools import report

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "dist" / "artifacts"
HISTOGRAM_GREEN = (0x44, 0xAA, 0x77)
"""The bars' colour (#4a7 in the page's style)."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: install Debian's with `apt-get install -y chromium` (.ci/run does)")


def headless(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def result(score: float, outcomes: dict[str, tuple[str, str, float]]) -> dict:
    """A results.json: outcomes maps test name -> (group, failure message or "", seconds)."""
    tests = [{"name": name, "score": 0.0 if message else 5.0, "max_score": 5.0,
              "status": "failed" if message else "passed", "output": message, "visibility": "visible",
              "tags": [group], "extra_data": {"seconds": seconds}}
             for name, (group, message, seconds) in outcomes.items()]
    return {"score": score, "tests": tests, "extra_data": {"max_score": 10.0}}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class-results")
    classes = {
        "ana": result(10.0, {"adds": ("arithmetic", "", 0.2), "matmul": ("matmul", "", 3.5)}),
        "ben": result(5.0, {"adds": ("arithmetic", "", 0.1),
                            "matmul": ("matmul", "**Failed**: AssertionError: shapes (2, 3) and (4, 5) differ", 0.3)}),
        "cem": result(0.0, {"adds": ("arithmetic", "**Failed**: Timeout: the test ran longer than 10 s", 10.0),
                            "matmul": ("matmul", "**Failed**: AssertionError: shapes (2, 3) and (4, 5) differ", 0.4)}),
    }
    for name, data in classes.items():
        (folder / name).mkdir()
        (folder / name / "results.json").write_text(json.dumps(data))
    code = "def add(a, b):\n    total = a + b\n    for i in range(3):\n        total = total * 2 + i\n    return total\n" * 4
    for name, text in {"ana": code, "ben": code.replace("total", "acc"), "cem": "x = 1\n"}.items():
        (folder / name / "submitted").mkdir()
        (folder / name / "submitted" / "ops.py").write_text(text)
    report.main(results=str(folder))
    return folder / "report.html"


def test_the_page_is_self_contained(page):
    text = page.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text


def test_chromium_renders_every_section(page):
    done = headless("--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "3 submissions, mean score 5.00 of 10" in dom
    histogram = dom.split('id="histogram"')[1].split("</div></div>")[0]
    assert histogram.count('class="bar"') == report.BINS
    rates = dom.split('id="pass-rate"')[1].split("</table>")[0]
    assert "<td>matmul</td><td>33%</td>" in rates and "<td>adds</td><td>67%</td>" in rates
    failures = dom.split('id="failures"')[1].split("</table>")[0]
    assert "<td>2</td><td><code>AssertionError: shapes (2, 3) and (4, 5) differ</code>" in failures
    assert "<td>adds</td><td>1</td>" in dom.split('id="timeouts"')[1].split("</table>")[0]
    assert dom.split('id="slowest"')[1].split("</td>")[0].endswith("adds")
    similar = dom.split('id="similar"')[1].split("</table>")[0]
    assert "<td>ana</td><td>ben</td>" in similar and "cem" not in similar


def test_chromium_screenshot_shows_the_histogram(page):
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    done = headless(f"--screenshot={shot}", "--window-size=1100,1600", page.as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1100, 1600)
    colours = image.getcolors(maxcolors=1 << 20)
    green = sum(count for count, colour in colours if colour == HISTOGRAM_GREEN)
    assert green > 500, "the histogram's bars were not drawn"
    print(f"screenshot: {shot}")
