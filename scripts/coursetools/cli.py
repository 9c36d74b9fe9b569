"""``python -m coursetools VERB ...``: the thin command line under the Makefile.

Each verb parses its options and calls the library's ``main(*, ...)``; defaults live there.
"""

from __future__ import annotations

import argparse
import sys

from coursetools.manifest import ManifestError


def _release(args: argparse.Namespace) -> None:
    from coursetools.release import pipeline

    pipeline.main(module=args.module, all=args.all, dist=args.dist)


def _grade(args: argparse.Namespace) -> None:
    from coursetools.grade import submission

    submission.main(module=args.module, submission=args.submission, results=args.results, dist=args.dist,
               rebuild=args.rebuild)


def _stripcheck(args: argparse.Namespace) -> None:
    from coursetools.validate import stripcheck

    report = stripcheck.main(module=args.module, dist=args.dist)
    if not report.ok:
        sys.exit(1)


def _grade_batch(args: argparse.Namespace) -> None:
    from coursetools.grade import batch

    batch.main(module=args.module, submissions=args.submissions, results=args.results, jobs=args.jobs,
               force=args.force, dist=args.dist, engine=args.engine, scheduler=args.scheduler)


def _report(args: argparse.Namespace) -> None:
    from coursetools.report import class_report

    class_report.main(results=args.results, out=args.out)


def _validate(args: argparse.Namespace) -> None:
    from coursetools.validate import assessment

    if args.summary:
        from coursetools.manifest import load_course
        from coursetools.validate.validation_report import summary_markdown

        print(summary_markdown(load_course()), end="")
        return

    results = assessment.main(module=args.module, workers=args.workers,
                            catalogue_only=args.catalogue_only, sample=args.sample, survivors=args.survivors,
                            write=True if args.write else None)
    if any(result.problems() for result in results):
        sys.exit(1)


def _data(args: argparse.Namespace) -> None:
    from coursetools import data

    data.main(dest=args.dest, mirror=args.mirror)


def _ta_guide(args: argparse.Namespace) -> None:
    from coursetools.report import ta_guide

    sys.exit(ta_guide.main(grade=args.grade, workers=args.workers, check=args.check))


def _site(args: argparse.Namespace) -> None:
    from coursetools import site

    site.main(out=args.out, submissions=args.submissions)


def _nbgrader(args: argparse.Namespace) -> None:
    from coursetools.release import nbgrader_export

    nbgrader_export.main(module=args.module, dest=args.dest)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m coursetools", description="TinyTorch course toolchain")
    verbs = root.add_subparsers(dest="verb", required=True)

    release = verbs.add_parser("release", help="build skeleton, solution repo and grader bundles")
    release.add_argument("--module", help="module number, e.g. 01")
    release.add_argument("--all", action="store_true", help="every released module")
    release.add_argument("--dist", default="dist")
    release.set_defaults(run=_release)

    grade = verbs.add_parser("grade", help="grade a submission like Gradescope")
    grade.add_argument("--module", required=True)
    grade.add_argument("--submission", required=True, help="a folder or a .zip")
    grade.add_argument("--results", help="where results.json goes")
    grade.add_argument("--dist", default="dist")
    grade.add_argument("--rebuild", action="store_true", help="rebuild the bundle first")
    grade.set_defaults(run=_grade)

    strip = verbs.add_parser("stripcheck", help="solution full marks, skeleton zero, every region caught")
    strip.add_argument("--module", required=True)
    strip.add_argument("--dist", default="dist")
    strip.set_defaults(run=_stripcheck)
    many = verbs.add_parser("grade-batch", help="grade a folder of submissions in parallel (resumable)")
    many.add_argument("--module", required=True)
    many.add_argument("--submissions", required=True, help="a folder of submission folders or zips")
    many.add_argument("--results", required=True, help="where <name>/results.json go")
    many.add_argument("--jobs", type=int, default=2)
    many.add_argument("--force", action="store_true", help="regrade submissions that already have results")
    many.add_argument("--dist", default="dist")
    many.add_argument("--engine", choices=("local", "dask"), default="local",
                      help="local: JOBS worker processes on this machine; dask: one task per submission on a cluster")
    many.add_argument("--scheduler", help="HOST:PORT of a running `dask scheduler` (with --engine dask)")
    many.set_defaults(run=_grade_batch)

    summary = verbs.add_parser("report", help="class summary JSON, gradebook CSV and HTML page from results")
    summary.add_argument("--results", required=True, help="the folder make grade-batch wrote")
    summary.add_argument("--out", help="where to write (default: the results folder)")
    summary.set_defaults(run=_report)

    check = verbs.add_parser("validate", help="mutation analysis of the solution regions and the mistakes catalogue")
    check.add_argument("--module", default="all", help="module number, e.g. 01, or 'all' released modules")
    check.add_argument("--workers", type=int, default=2, help="variants graded at once")
    check.add_argument("--catalogue-only", action="store_true", help="grade the catalogued mistakes only")
    check.add_argument("--sample", type=int, help="grade only this many mutants (fixed seed per module)")
    check.add_argument("--summary", action="store_true", help="print the committed reports as one Markdown table")
    check.add_argument("--survivors", action="store_true",
                       help="regrade what the committed report did not catch, keep what it caught; writes the report")
    check.add_argument("--write", action="store_true", help="write validation/reports/ even for a partial run")
    check.set_defaults(run=_validate)

    data = verbs.add_parser("data", help="put the datasets where the loaders look (copy from a mirror or download)")
    data.add_argument("--dest", help="data folder (default: $TINYTORCH_DATA or ~/.tinytorch/data)")
    data.add_argument("--mirror", help="a local copy of the datasets (default: ../shared/datasets if present)")
    data.set_defaults(run=_data)

    guide = verbs.add_parser("ta-guide", help="write docs/guides/ta.md: each catalogued mistake, its symptoms, a hint")
    guide.add_argument("--grade", nargs="+", metavar="NN",
                       help="grade these modules' mistakes through the grader first ('all': every released one)")
    guide.add_argument("--workers", type=int, default=1, help="mistakes graded at once")
    guide.add_argument("--check", action="store_true", help="write nothing; exit 1 if the guide is out of date")
    guide.set_defaults(run=_ta_guide)

    web = verbs.add_parser("site", help="build the course website offline into dist/site/")
    web.add_argument("--out", default="dist/site", help="output folder")
    web.add_argument("--submissions", help="a folder of extra TinyMLPerf submission JSON files for the leaderboard")
    web.set_defaults(run=_site)

    nbgrader = verbs.add_parser("nbgrader", help="write a module as an nbgrader assignment (source notebook, config)")
    nbgrader.add_argument("--module", required=True, help="module number, e.g. 01")
    nbgrader.add_argument("--dest", default="dist/nbgrader", help="the nbgrader course folder")
    nbgrader.set_defaults(run=_nbgrader)
    from coursetools.distribute import collect, roster
    from coursetools.grade import gradescope_export

    for module in (roster, collect, gradescope_export):  # distribute, collect, import-gradescope
        module.register(verbs)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (ManifestError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
