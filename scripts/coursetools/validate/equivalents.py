"""Equivalent-mutant marks, and the randomized property check that must confirm each one.

``validation/NN_slug/equivalent.toml`` holds one table per mark::

    [[mutant]]
    id = "tinytorch/core/layers.py::Dropout.forward::ReplaceComparisonOperator_GtE_Gt::..."  # as printed
    reason = "the masks differ only where a float64 draw equals p exactly (2**-53 per element)"
    property = "dropout_masks"      # a function of validation/NN_slug/properties.py
    tolerance = 1e-6                # optional: relative float tolerance, when the reason is float rounding

A reason is a claim; the property is how ``make validate`` checks it before accepting the mark.
``properties.py`` defines ``def dropout_masks(rng) -> observation``: it draws its own shapes,
seeds and inputs from ``rng`` (a ``np.random.Generator``), runs the public API and returns what a
test could observe (arrays, numbers, strings, tuples/lists/dicts of them; an exception it lets
escape is observed as its type and message). The property runs on ``PROOF_TRIALS`` seeds against
the reference and against the mutant, each in a fresh interpreter that imports ``tinytorch`` from
its own tree; the mark is accepted only if every observation is identical (same dtype, same
bits), or, for a mark that declares ``tolerance``, if floats agree to that relative tolerance
(the reason must then say why the difference is rounding only). A marked survivor whose property is missing, fails, or tells the two apart stays a
survivor, with the reason in the report. A mark whose mutant is gone or now caught is stale.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import numpy as np

from coursetools.manifest import Course, Module

PROOF_TRIALS = 40
"""Seeds each property runs on (0 .. PROOF_TRIALS - 1), against the reference and the mutant."""
PROOF_TIMEOUT = 300.0
"""Seconds one side of a proof may take."""


class EquivalentMarkError(ValueError):
    """A malformed mark; the message names the file and the fix."""


@dataclass(frozen=True)
class Mark:
    mutant_id: str
    reason: str
    property: str = ""
    """Name of the function in validation/NN_slug/properties.py that must confirm the mark."""
    tolerance: float = 0.0
    """Relative tolerance for floats (0: bit-identical)."""


def marks_file(course: Course, module: Module) -> Path:
    return course.root / "validation" / module.dirname / "equivalent.toml"


def properties_file(course: Course, module: Module) -> Path:
    return course.root / "validation" / module.dirname / "properties.py"


def load_marks(course: Course, module: Module) -> dict[str, str]:
    """{mutant id: reason} for the module (empty when it has no file)."""
    return {mark.mutant_id: mark.reason for mark in load_mark_entries(course, module).values()}


def load_mark_entries(course: Course, module: Module) -> dict[str, Mark]:
    """{mutant id: Mark} for the module (empty when it has no file)."""
    path = marks_file(course, module)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise EquivalentMarkError(f"{path}: {error}") from None
    marks: dict[str, Mark] = {}
    for number, entry in enumerate(data.get("mutant", []), start=1):
        mutant_id, reason = entry.get("id", ""), str(entry.get("reason", "")).strip()
        if not mutant_id or not reason:
            raise EquivalentMarkError(f"{path}: mark {number} needs both 'id' and a non-empty 'reason' "
                                      "(why no test can tell the mutant from the reference)")
        if mutant_id in marks:
            raise EquivalentMarkError(f"{path}: mutant {mutant_id!r} is marked twice; keep one mark")
        tolerance = entry.get("tolerance", 0.0)
        if not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 0.01:
            raise EquivalentMarkError(f"{path}: mark {number} has tolerance {tolerance!r}; use a relative float "
                                      "tolerance in [0, 0.01) (rounding only), or none for bit-identical")
        marks[mutant_id] = Mark(mutant_id, reason, str(entry.get("property", "")).strip(), float(tolerance))
    return marks


# ---------------------------------------------------------------------- proving a mark
def prove_mark(course: Course, module: Module, mark: Mark, mutated: dict[str, str]) -> str:
    """Run the mark's property against the reference and the mutant; "" if it holds, else why not.

    Args:
        mutated: {path relative to reference/: text} of the mutant's changed files.
    """
    if not mark.property:
        return (f"no property: add property = \"<name>\" to the mark and def <name>(rng) to "
                f"{properties_file(course, module).relative_to(course.root)}")
    script = properties_file(course, module)
    if not script.is_file():
        return f"{script.relative_to(course.root)} does not exist (it must define {mark.property}(rng))"
    with tempfile.TemporaryDirectory(prefix="tt-proof-") as scratch:
        tree = Path(scratch) / "mutant"
        shutil.copytree(course.root / "reference" / "tinytorch", tree / "tinytorch")
        for relative, text in mutated.items():
            (tree / relative).write_text(text, encoding="utf-8")
        try:
            expected = observe(course.root / "reference", script, mark.property, Path(scratch) / "reference.pkl")
            actual = observe(tree, script, mark.property, Path(scratch) / "mutant.pkl")
        except PropertyError as error:
            return str(error)
    raised = [entry for entry in expected if entry[0] == "raised"]
    if len(raised) * 2 > len(expected):
        return (f"property {mark.property} raised on {len(raised)} of {len(expected)} seeds against the reference "
                f"({raised[0][1]}: {raised[0][2]}); a property must mostly return observations")
    for seed, (want, got) in enumerate(zip(expected, actual)):
        if want[0] != got[0]:
            difference = f"the reference {'raised ' + want[1] if want[0] == 'raised' else 'returned'}, " \
                         f"the mutant {'raised ' + got[1] if got[0] == 'raised' else 'returned'}"
        else:
            difference = first_difference(want[1] if want[0] == "value" else want[1:],
                                          got[1] if got[0] == "value" else got[1:], tolerance=mark.tolerance)
        if difference:
            return f"refuted by {mark.property} at seed {seed}: {difference}"
    return ""


class PropertyError(RuntimeError):
    """A property could not run; the message says where."""


def observe(tree: Path, script: Path, name: str, out: Path) -> list:
    """The property's observations for seeds 0..PROOF_TRIALS-1 with ``tinytorch`` imported from tree."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", "import sys; from coursetools.validate.equivalents import _observe_main; "
               "_observe_main(sys.argv[1:])", str(script), name, str(PROOF_TRIALS), str(out)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PROOF_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise PropertyError(f"property {name} took over {PROOF_TIMEOUT:g} s on {tree.name}") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PropertyError(f"property {name} failed to run on {tree.name}: {tail}")
    return pickle.loads(out.read_bytes())


def _observe_main(argv: list[str]) -> None:
    """Child side of ``observe``: run the property per seed, pickle what it returned or raised."""
    import importlib.util

    script, name, trials, out = argv[0], argv[1], int(argv[2]), argv[3]
    spec = importlib.util.spec_from_file_location("_tt_properties", script)
    properties = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(properties)
    check = getattr(properties, name, None)
    if not callable(check):
        raise SystemExit(f"{script} defines no function {name}(rng)")
    observations = []
    for seed in range(trials):
        try:
            observations.append(("value", check(np.random.default_rng(seed))))
        except Exception as error:  # an escaping exception is an observation too
            observations.append(("raised", type(error).__name__, str(error)))
    Path(out).write_bytes(pickle.dumps(observations))


def first_difference(want, got, where: str = "result", tolerance: float = 0.0) -> str:
    """"" when two observations are identical (arrays: same dtype, shape and bits; floats within the
    relative ``tolerance`` if one is given), else where they differ."""
    if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
        want_array, got_array = np.asarray(want), np.asarray(got)
        if want_array.dtype != got_array.dtype or want_array.shape != got_array.shape:
            return f"{where}: {want_array.dtype}{want_array.shape} vs {got_array.dtype}{got_array.shape}"
        if tolerance and want_array.dtype.kind in "fc":
            scale = float(np.nanmax(np.abs(want_array))) if want_array.size else 0.0
            same = np.allclose(got_array, want_array, rtol=tolerance, atol=tolerance * scale, equal_nan=True)
        else:
            same = np.array_equal(want_array, got_array, equal_nan=want_array.dtype.kind in "fc")
        if not same:
            return f"{where}: values differ" + (f" beyond the relative tolerance {tolerance:g}" if tolerance else "")
        return ""
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        if type(want) is not type(got) or len(want) != len(got):
            return f"{where}: {type(want).__name__} of {len(want)} vs {type(got).__name__} of {len(got)}"
        for index, (a, b) in enumerate(zip(want, got)):
            found = first_difference(a, b, f"{where}[{index}]", tolerance)
            if found:
                return found
        return ""
    if isinstance(want, dict) and isinstance(got, dict):
        if set(want) != set(got):
            return f"{where}: keys {sorted(map(str, want))} vs {sorted(map(str, got))}"
        for key in want:
            found = first_difference(want[key], got[key], f"{where}[{key!r}]", tolerance)
            if found:
                return found
        return ""
    if type(want) is not type(got):
        return f"{where}: {type(want).__name__} vs {type(got).__name__}"
    if isinstance(want, float) and np.isnan(want) and np.isnan(got):
        return ""
    if isinstance(want, float) and tolerance:
        return "" if abs(want - got) <= tolerance * abs(want) else f"{where}: {want!r} vs {got!r}"
    return "" if want == got else f"{where}: {want!r} vs {got!r}"
