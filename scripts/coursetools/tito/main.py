"""The ``tito`` command line: argparse subcommands over the command modules.

Exit codes: 0 ok, 1 the thing checked failed (tests, checksums), 2 usage error or a missing
prerequisite. ``--json`` (before or after the command) prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

from coursetools.tito import benchmark, data, grade, milestone, module, system
from coursetools.tito.errors import FAILED, USAGE, TitoError
from coursetools.tito.output import Output
from coursetools.tito.workspace import find_workspace


def _json_flag() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document on stdout instead of tables")
    return shared


def _add(group, name: str, handler, help_text: str, shared) -> argparse.ArgumentParser:
    command = group.add_parser(name, help=help_text, description=help_text, parents=[shared])
    command.set_defaults(handler=handler)
    return command


def _number(command: argparse.ArgumentParser) -> None:
    command.add_argument("number", help="module number, e.g. 01")


def parser() -> argparse.ArgumentParser:
    shared = _json_flag()
    root = argparse.ArgumentParser(prog="tito", parents=[shared],
                                   description="TinyTorch student command line: modules, tests, grading, data.")
    verbs = root.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    setup = _add(verbs, "setup", system.setup, "install what is missing, create the data folder, run the doctor", shared)
    setup.add_argument("--check", action="store_true", help="only report, install nothing")

    system_cmd = verbs.add_parser("system", help="the machine: doctor", parents=[shared])
    system_verbs = system_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(system_verbs, "doctor", system.doctor, "Python, NumPy and its BLAS, test tools, data folder, fixes", shared)

    module_cmd = verbs.add_parser("module", help="list, status, start, test, complete, reset", parents=[shared])
    module_verbs = module_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(module_verbs, "list", module.list_modules, "every module of the manifest", shared)
    status = _add(module_verbs, "status", module.status, "each module's state: stubs left, last test, completed", shared)
    status.add_argument("number", nargs="?", help="only this module")
    _number(_add(module_verbs, "start", module.start,
                 "create the module's missing files and notebook (never overwrites; a deleted file comes back from its notebook)",
                 shared))
    test = _add(module_verbs, "test", module.test, "run the module's visible tests", shared)
    _number(test)
    test.add_argument("--trace", action="store_true", help="show pytest's full tracebacks (default: one line per failure)")
    test.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARG",
                      help="after --, passed on to pytest: tito module test 01 -- -k matmul")
    complete = _add(module_verbs, "complete", module.complete, "run the tests; mark the module completed when all pass", shared)
    _number(complete)
    complete.add_argument("--trace", action="store_true", help="show pytest's full tracebacks")
    reset = _add(module_verbs, "reset", module.reset, "back up your files, then restore the starter code", shared)
    _number(reset)
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    milestone_cmd = verbs.add_parser("milestone", help="the historical milestones", parents=[shared])
    milestone_verbs = milestone_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(milestone_verbs, "list", milestone.list_milestones, "the milestones and their scripts", shared)
    _add(milestone_verbs, "status", milestone.status, "recorded milestone results", shared)
    run = _add(milestone_verbs, "run", milestone.run_one, "run a milestone on this repository's tinytorch", shared)
    run.add_argument("number", help="milestone number, e.g. 03")
    run.add_argument("--quick", action="store_true", help="small data and schedule")

    bench = verbs.add_parser("benchmark", help="TinyMLPerf events (module 19)", parents=[shared])
    bench_verbs = bench.add_subparsers(dest="action", required=True, metavar="ACTION")
    event = _add(bench_verbs, "run", benchmark.run, "run one TinyMLPerf event", shared)
    event.add_argument("--event", required=True, choices=benchmark.EVENTS)
    event.add_argument("--steps", type=int, help="baseline training steps (default: the event's)")
    event.add_argument("--model", help="FILE.py:FUNCTION returning your trained model, instead of the baseline")
    event.add_argument("--data", help="dataset folder (default: $TINYTORCH_DATA or ~/.tinytorch/data)")
    event.add_argument("--out", help="write the submission JSON here")
    event.add_argument("--threads", type=int, help="BLAS threads (default: the free cores, printed)")

    graded = _add(verbs, "grade", grade.grade, "the autograder's points for your visible tests, run locally", shared)
    _number(graded)
    graded.add_argument("--submission", help="course repository only: grade this folder or zip instead of the reference")

    fetch = _add(verbs, "data", data.fetch, "download or import the datasets (progress bar, md5 checks)", shared)
    fetch.add_argument("--dest", help="data folder (default: $TINYTORCH_DATA or ~/.tinytorch/data)")
    fetch.add_argument("--mirror", help="a local copy of the datasets to import instead of downloading")
    fetch.add_argument("--check", action="store_true", help="only verify the checksums of what is there")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Output(as_json=getattr(args, "json", False))
    try:
        code = args.handler(find_workspace(), out, args)
    except TitoError as error:
        out.error(str(error))
        code = error.code
    except BrokenPipeError:  # the reader (head, less) went away: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    except KeyboardInterrupt:
        out.error("interrupted")
        code = USAGE
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
