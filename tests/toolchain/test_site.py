"""The course website: built offline with MkDocs, then read page by page in headless Chromium.

The site is built once into a temporary folder from the repository's sources, plus a folder of
made-up TinyMLPerf submissions (a faster copy of a baseline, one below the quality floor, one
that breaks the schema) so the leaderboard's ranking and rejection are exercised. Screenshots of
the home page and a module page are kept in dist/artifacts/ for people to look at.
"""

import copy
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from coursetools.author.lessons import instructor_blocks
from coursetools.manifest import load_course
from coursetools.site import build_site, pages
from coursetools.site.browser import Chromium, find_chromium
from coursetools.site.imported import adapt
from coursetools.site.plan import PlanError, load_plan

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "dist" / "artifacts"
needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="no chromium on PATH: install Debian's with `apt-get install -y chromium` (.ci/run does)")


@pytest.fixture(scope="module")
def course():
    return load_course(ROOT)


@pytest.fixture(scope="module")
def site(tmp_path_factory, course) -> Path:
    submissions = tmp_path_factory.mktemp("submissions")
    baseline = json.loads((ROOT / "benchmarks" / "results" / "tinymlperf_mlp_sprint.json").read_text())
    faster = copy.deepcopy(baseline)
    faster["throughput"]["samples_per_s"] *= 2
    slow_and_wrong = copy.deepcopy(baseline)
    slow_and_wrong["quality"]["value"], slow_and_wrong["valid"] = 0.5, False
    slow_and_wrong["throughput"]["samples_per_s"] *= 10
    broken = {**baseline, "latency_ms": {"mean": 1.0}}
    for name, data in {"ada": faster, "bo": slow_and_wrong, "cy": broken}.items():
        (submissions / f"{name}.json").write_text(json.dumps(data))
    out = tmp_path_factory.mktemp("site") / "site"
    built = build_site(course, out, submissions=submissions)
    print(f"built {built.pages} pages in {built.seconds:.1f} s")
    return out


def html_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "assets" not in p.parts)


def ids_of(page: Path, cache: dict) -> set[str]:
    if page not in cache:
        cache[page] = set(re.findall(r'\sid="([^"]+)"', page.read_text(encoding="utf-8")))
    return cache[page]


def link_problems(page: Path, links: list[str], site: Path, cache: dict) -> list[str]:
    """Internal links (file:// inside the site) whose file or anchor does not exist."""
    problems = []
    for link in links:
        parsed = urlparse(link)
        if parsed.scheme != "file":
            continue
        target = Path(unquote(parsed.path))
        if not target.is_relative_to(site):
            problems.append(f"{page.name}: link leaves the site: {link}")
        elif target.is_dir():
            problems.append(f"{page.name}: link to a folder (no index on file://): {link}")
        elif not target.is_file():
            problems.append(f"{page.name}: dead link {link}")
        elif parsed.fragment and target.suffix == ".html" and unquote(parsed.fragment) not in ids_of(target, cache):
            problems.append(f"{page.name}: no anchor #{parsed.fragment} in {target.relative_to(site)}")
    return problems


# ---------------------------------------------------------------- in the browser
@needs_chromium
def test_every_page_loads_clean_and_every_link_and_image_resolves(site):
    problems, cache = [], {}
    found = html_pages(site)
    assert len(found) >= 33, [p.name for p in found]
    with Chromium() as browser:
        for page in found:
            visit = browser.visit(page.as_uri())
            name = page.relative_to(site)
            problems += [f"{name}: {error}" for error in visit.errors]
            problems += [f"{name}: image did not load: {src}" for src, drawn in visit.images if not drawn]
            problems += link_problems(page, visit.links, site, cache)
    assert not problems, "\n".join(problems[:40])


@needs_chromium
def test_search_works_offline_from_the_file_system(site):
    with Chromium() as browser:
        browser.visit((site / "index.html").as_uri())
        browser.evaluate("(() => { const box = document.querySelector('input.md-search__input'); box.focus();"
                         " box.value = 'im2col'; box.dispatchEvent(new Event('input', {bubbles: true})); })()")
        hits = browser.evaluate("new Promise(done => { const t0 = Date.now(); (function poll() {"
                                " const found = [...document.querySelectorAll('.md-search-result__item a')]"
                                ".map(a => a.href); if (found.length || Date.now() - t0 > 8000) done(found);"
                                " else setTimeout(poll, 100); })(); })", wait=True)
    assert hits, "typing 'im2col' in the search box found nothing"
    assert any("/modules/09_spatial.html" in hit for hit in hits), hits


@needs_chromium
def test_screenshots_of_the_home_and_a_module_page(site):
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {"site-home.png": "index.html", "site-module.png": "modules/02_activations.html"}
    with Chromium(width=1280, height=1000) as browser:
        for shot, page in shots.items():
            (ARTIFACTS / shot).unlink(missing_ok=True)
            browser.visit((site / page).as_uri())
            browser.screenshot(ARTIFACTS / shot)
    for shot in shots:
        image = Image.open(ARTIFACTS / shot).convert("RGB")
        assert image.size == (1280, 1000)
        assert len(image.getcolors(maxcolors=1 << 20)) > 50, f"{shot} is nearly blank"
        print(f"screenshot: {ARTIFACTS / shot}")


# ---------------------------------------------------------------- what the pages hold
def test_module_pages_carry_the_lesson_without_instructor_text(site, course):
    with_lesson = [m for m in course.modules if (ROOT / pages.lesson_page_source(m)).is_file()]
    assert with_lesson, "no lesson in reference/lessons/ to check"
    for module in with_lesson:
        lesson = (ROOT / pages.lesson_page_source(module)).read_text(encoding="utf-8")
        html = (site / "modules" / f"{module.dirname}.html").read_text(encoding="utf-8")
        assert "Learning objectives" in html and "Lesson to come" not in html
        for block in instructor_blocks(lesson):
            line = next((s.strip() for s in block.splitlines() if len(s.strip()) > 30), None)
            if line:
                assert _text(line)[:40] not in _text(html), f"{module.dirname}: instructor text on the page: {line[:60]}"
        assert "math-error" not in html, f"{module.dirname}: LaTeX that latex2mathml could not read"


def _text(markup: str) -> str:
    """Words only: tags, Markdown marks and entities dropped, so source and HTML compare."""
    return " ".join(re.sub(r"<[^>]+>|&\w+;|[*_`$\\]", " ", markup).split())


def test_a_module_without_a_lesson_gets_a_page_from_the_manifest(course):
    plan = load_plan(course)
    module = course.module("12")
    page = pages.module_page(course, plan, module, None)
    assert page.startswith(f"# Module 12 · {module.title}") and "Lesson to come" in page
    for group in module.groups:
        assert f"| `{group.name}` | {group.title} | {group.points:g} |" in page


def test_grading_table_shows_points_visibility_and_limits(site, course):
    module = course.module("01")
    html = (site / "modules" / "01_tensor.html").read_text(encoding="utf-8")
    table = html.split('id="how-it-is-graded"')[1].split("</table>")[0]
    for group in module.groups:
        row = table.split(f"<code>{group.name}</code>")[1].split("</tr>")[0]
        assert f"<td>{group.points:g}</td>" in row.replace(' style="text-align: right;"', "")
        assert pages.WHEN_SHOWN[group.visibility] in row and f"{group.timeout:g} s" in row
    visible = sum(g.points for g in module.groups if not g.hidden)
    assert f"{visible:g} visible, {module.max_points - visible:g} hidden" in table


def test_milestone_pages_show_every_committed_result_with_its_curves(site, course):
    plan = load_plan(course)
    for milestone in plan.milestones:
        html = (site / "milestones" / f"{milestone.folder}.html").read_text(encoding="utf-8")
        for path in sorted((ROOT / "milestones" / "results").glob(f"{milestone.number}_*.json")):
            record = json.loads(path.read_text())
            if record.get("quick"):
                continue
            assert f'id="{path.stem}"' in html, f"{milestone.folder}: result {path.stem} missing"
            if any(record.get("curves", {}).values()):
                assert f'src="figures/{path.stem}.png"' in html
                assert (site / "milestones" / "figures" / f"{path.stem}.png").stat().st_size > 5000
    cifar = (site / "milestones" / "04_1998_cnn.html").read_text(encoding="utf-8")
    accuracy = json.loads((ROOT / "milestones" / "results" / "04_cnn_cifar10.json").read_text())["test_accuracy"]
    assert f"<td>test_accuracy</td>\n<td>{accuracy:.4g}</td>" in cifar


def test_leaderboard_ranks_valid_submissions_by_throughput_and_rejects_broken_ones(site):
    html = (site / "leaderboard.html").read_text(encoding="utf-8")
    sprint = html.split('id="mlp_sprint"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>\s*<td[^>]*>([^<]*)</td>\s*<td>([^<]*)</td>", sprint)
    assert [(rank, name) for rank, name in rows] == [("1", "ada"), ("2", "tinymlperf_mlp_sprint"), ("–", "bo")]
    assert "below floor" in sprint
    rejected = html.split('id="rejected-files"')[1]
    assert "cy" in rejected and "latency_ms" in rejected
    for event in ("cnn_marathon", "transformer_decathlon"):
        assert f"tinymlperf_{event}" in html.split(f'id="{event}"')[1].split("</table>")[0]


def test_guides_are_on_the_site_with_the_current_semester_plan(site, course):
    instructor = (site / "guides" / "instructor.html").read_text(encoding="utf-8")
    for week in load_plan(course).weeks:
        for number in week.modules:
            assert f"{number} {course.module(number).title}" in instructor
    ta = (site / "guides" / "ta.html").read_text(encoding="utf-8")
    assert 'id="module-01-tensor"' in ta


def test_the_committed_instructor_guide_has_the_current_semester_plan(course):
    guide = (ROOT / "docs" / "guides" / "instructor.md").read_text(encoding="utf-8")
    expected = pages.plan_table(course, load_plan(course), link=False)
    assert pages.plan_block(guide) == expected, (
        "docs/guides/instructor.md's semester plan differs from scripts/coursetools/site/semester.toml; "
        "replace the table between the semester-plan markers with:\n" + expected)


# ---------------------------------------------------------------- the parts
def test_the_plan_must_teach_every_module_once_after_its_dependencies(course, tmp_path):
    text = (ROOT / "scripts" / "coursetools" / "site" / "semester.toml").read_text()
    broken = tmp_path / "semester.toml"
    broken.write_text(text.replace('modules = ["04"]', 'modules = []', 1)
                      .replace('modules = ["05"]\nnote', 'modules = ["05", "04"]\nnote', 1))
    with pytest.raises(PlanError, match="module 05 is taught before module 04"):
        load_plan(course, broken)
    broken.write_text(text.replace('modules = ["20"]', 'modules = []'))
    with pytest.raises(PlanError, match="module 20 is taught 0 times"):
        load_plan(course, broken)


def test_imported_markdown_links_point_at_site_pages_or_become_text():
    pages_of = {"docs/SECURITY.md": "reference/security.md", "milestones/README.md": "milestones/index.md"}
    text = ("See [the limits](../SECURITY.md#limits), [results](../milestones/results/x.json), "
            "[site](https://example.org) and `[not](a.md)`.\nIt lists\n- one\n- two\n")
    adapted = adapt(text, "docs/guides/instructor.md", "guides/instructor.md", pages_of)
    assert "[the limits](../reference/security.md#limits)" in adapted
    assert "results," in adapted and "(../milestones/results/x.json)" not in adapted
    assert "[site](https://example.org)" in adapted and "`[not](a.md)`" in adapted
    assert "It lists\n\n- one\n- two" in adapted
