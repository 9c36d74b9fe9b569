"""The course website: ``python -m coursetools site`` writes ``dist/site/``, offline, with MkDocs + Material.

Why MkDocs with Material: it is pure Python (installs from PyPI with the rest of the toolchain,
no Node.js as Jupyter Book 2 needs), its ``offline`` plugin makes a site that works from
``file://`` with nothing fetched, and its search runs in the browser from an index built at
build time. Math is converted to MathML at build time (``mathml.py``), so no script comes
from a CDN either.

The build writes Markdown pages into ``dist/site-src/docs`` from the repository's sources, then
runs MkDocs in strict mode (a dead internal link fails the build):

- ``index.md``: the module map and the semester plan (``semester.toml``);
- ``modules/NN_slug.md``: the lesson without its instructor blocks, and how the module is graded;
- ``milestones/``: each README with the committed measured results and their curves as PNGs;
- ``leaderboard.md``: TinyMLPerf submissions (``benchmarks/results/*.json`` and ``--submissions``);
- ``guides/``: the instructor guide and the generated TA guide; ``reference/``: DESIGN and SECURITY.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from coursetools.manifest import Course, load_course
from coursetools.site import leaderboard, milestones, pages
from coursetools.site.imported import adapt
from coursetools.site.plan import load_plan

HERE = Path(__file__).resolve().parent
IMPORTED = {
    "docs/guides/instructor.md": "guides/instructor.md",
    "docs/guides/ta.md": "guides/ta.md",
    "docs/DESIGN.md": "reference/design.md",
    "docs/SECURITY.md": "reference/security.md",
}
"""Repository files shown as site pages as they are (links rewritten), with their site paths."""


@dataclass(frozen=True)
class BuiltSite:
    out: Path
    pages: int
    seconds: float


def main(*, out: str = "dist/site", submissions: str | None = None) -> BuiltSite:
    if submissions and not Path(submissions).is_dir():
        raise FileNotFoundError(f"--submissions {submissions}: no such folder; give the folder that holds the "
                                "students' TinyMLPerf JSON files")
    built = build_site(load_course(), Path(out), submissions=Path(submissions) if submissions else None)
    print(f"wrote {built.out}: {built.pages} pages in {built.seconds:.1f} s; open {built.out / 'index.html'}")
    return built


def build_site(course: Course, out: Path, *, submissions: Path | None = None) -> BuiltSite:
    """Write the Markdown sources next to ``out`` (``<out>-src``) and build the site into ``out``."""
    started = time.monotonic()
    out = out.resolve()
    staging = out.with_name(out.name + "-src")
    for folder in (out, staging):
        shutil.rmtree(folder, ignore_errors=True)
    docs = staging / "docs"
    count = write_sources(course, docs, submissions)
    run_mkdocs(write_config(course, staging, docs, out))
    (out / "404.html").unlink(missing_ok=True)  # served by a web server for unknown URLs; from files it has no use
    return BuiltSite(out, count, time.monotonic() - started)


def run_mkdocs(config: Path) -> None:
    """Build with MkDocs in strict mode; its warnings (a dead link, a missing page) are printed and fail."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort

    log = logging.getLogger("mkdocs")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("mkdocs %(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
    try:
        build(load_config(config_file=str(config)))
    except Abort as error:
        raise ValueError(f"the site did not build ({error}); the mkdocs warnings above name each page and link, "
                         f"in the sources under {config.parent / 'docs'}") from None


def write_sources(course: Course, docs: Path, submissions: Path | None) -> int:
    """Every page's Markdown (and its figures) under ``docs``; returns the number of pages."""
    plan = load_plan(course)
    lessons = {m.number: _lesson_text(course, m) for m in course.modules}
    site_paths = {pages.lesson_page_source(m): pages.module_page_path(m) for m in course.modules}
    site_paths |= IMPORTED | {f"milestones/{m.folder}/README.md": pages.milestone_page_path(m.folder)
                              for m in plan.milestones}
    site_paths["milestones/README.md"] = "milestones/index.md"
    written = {"index.md": pages.home_page(course, plan, {n: t is not None for n, t in lessons.items()})}
    for module in course.modules:
        text = lessons[module.number]
        if text is not None:
            text = adapt(text, pages.lesson_page_source(module), pages.module_page_path(module), site_paths)
        written[pages.module_page_path(module)] = pages.module_page(course, plan, module, text)
    written |= milestone_sources(course, plan, docs, site_paths)
    folders = [course.root / "benchmarks" / "results"] + ([submissions] if submissions else [])
    written["leaderboard.md"] = leaderboard.leaderboard_page(*leaderboard.read_submissions(folders))
    for source, page in IMPORTED.items():
        text = (course.root / source).read_text(encoding="utf-8")
        if source == "docs/guides/instructor.md":
            text = pages.with_plan(text, pages.plan_table(course, plan, link=False))
        written[page] = adapt(text, source, page, site_paths)
    for page, text in written.items():
        target = docs / page
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (docs / "assets").mkdir(exist_ok=True)
    for asset in ("site.css", "iframe-worker.js"):
        shutil.copyfile(HERE / "theme" / asset, docs / "assets" / asset)
    return len(written)


def _lesson_text(course: Course, module) -> str | None:
    path = course.root / pages.lesson_page_source(module)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _readme(course: Course, milestone) -> str | None:
    path = course.root / "milestones" / milestone.folder / "README.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def milestone_sources(course: Course, plan, docs: Path, site_paths: dict[str, str]) -> dict[str, str]:
    """The milestone pages; draws each result's curves into docs/milestones/figures/."""
    written, titles = {}, {}
    for milestone in plan.milestones:
        page = pages.milestone_page_path(milestone.folder)
        readme = _readme(course, milestone)
        if readme is not None:
            readme = adapt(readme, f"milestones/{milestone.folder}/README.md", page, site_paths)
        results = milestones.milestone_results(course, milestone)
        figures = {}
        for result in results:
            if milestones.draw_curves(result.data, docs / "milestones" / "figures" / f"{result.name}.png"):
                figures[result.name] = f"figures/{result.name}.png"
            for companion in result.companions:
                (docs / "milestones").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(companion, docs / "milestones" / companion.name)
        titles[milestone.folder] = milestones.title_of(readme, milestone)
        written[page] = milestones.milestone_page(course, plan, milestone, readme, results, figures)
    overview = adapt((course.root / "milestones" / "README.md").read_text(encoding="utf-8"),
                             "milestones/README.md", "milestones/index.md", site_paths)
    written["milestones/index.md"] = milestones.milestones_index(plan, titles, overview)
    return written


def write_config(course: Course, staging: Path, docs: Path, out: Path) -> Path:
    """mkdocs.yml for this build (JSON is valid YAML); returns its path."""
    modules = [{f"{m.number} {m.title}": pages.module_page_path(m)} for m in course.modules]
    plan = load_plan(course)
    milestone_nav = [{"Overview": "milestones/index.md"}] + [
        {milestones.title_of(_readme(course, m), m).removeprefix("Milestone "): pages.milestone_page_path(m.folder)}
        for m in plan.milestones]
    config = {
        "site_name": f"{course.name} course",
        "docs_dir": str(docs),
        "site_dir": str(out),
        "use_directory_urls": False,
        "strict": True,
        "theme": {"name": "material", "font": False,
                  "features": ["navigation.sections", "navigation.top", "search.highlight", "content.code.copy",
                               "toc.follow"],
                  "palette": {"primary": "deep orange", "accent": "indigo"}},
        "plugins": ["search", "offline"],
        "hooks": [str(HERE / "mathml.py")],
        "extra_css": ["assets/site.css"],
        "extra": {"polyfills": ["assets/iframe-worker.js"]},
        "markdown_extensions": [
            "tables", "admonition", "attr_list", "md_in_html", "def_list",
            {"toc": {"permalink": True}},
            {"pymdownx.arithmatex": {"generic": True}},
            "pymdownx.highlight", "pymdownx.superfences", "pymdownx.inlinehilite", "pymdownx.details",
        ],
        "nav": [
            {"Home": "index.md"},
            {"Modules": modules},
            {"Milestones": milestone_nav},
            {"Leaderboard": "leaderboard.md"},
            {"Guides": [{"Instructor guide": "guides/instructor.md"}, {"TA guide": "guides/ta.md"}]},
            {"Reference": [{"Design": "reference/design.md"}, {"Security": "reference/security.md"}]},
        ],
        "validation": {"links": {"not_found": "warn", "anchors": "warn", "unrecognized_links": "warn"}},
    }
    path = staging / "mkdocs.yml"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return path
