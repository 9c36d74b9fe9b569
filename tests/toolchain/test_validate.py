"""make validate: mutants stay inside regions, marks and mistakes behave, grading goes through the bundle."""

from pathlib import Path

import pytest

from coursetools.author.markers import find_regions
from coursetools.manifest import load_course
from coursetools.validate.assessment import (MistakeResult, ModuleValidation, MutantResult, committed_caught, grade_mistakes,
                                 validate_module)
from coursetools.validate.equivalents import EquivalentMarkError, load_marks
from coursetools.validate.mistakes import (CatalogueError, MIN_MISTAKES, apply_mistake, changed_lines_outside_regions,
                                  load_catalogue, write_mistake)
from coursetools.validate.mutants import mutants_of_file
from coursetools.validate.validation_report import write_reports
from coursetools.validate.variant_grading import GradingBench

ROOT = Path(__file__).resolve().parents[2]
COURSE = load_course(ROOT)
RELEASED = [m.number for m in COURSE.released()
            if all((COURSE.root / "reference" / f).is_file() for f in m.files)]

TOY_SOURCE = '''\
LIMIT = 10 + 1


def double(x):
    """Twice x."""
    if x > LIMIT:
        raise ValueError(f"x must be at most {LIMIT - 1}")
    #% solution
    return 2 * x
    #% endsolution


def triple(x):
    #% solution
    return 3 * x
    #% endsolution
'''

TOY_MANIFEST = '''
[course]
name = "Toy"
term = "Test"

[[module]]
number = "01"
slug = "toy"
title = "Toy"
package = "tinytorch.core.toy"
files = ["tinytorch/core/toy.py"]
depends = []
status = "released"
budget = 60

  [[module.group]]
  name = "double"
  title = "Doubling"
  points = 10
  visibility = "visible"
  timeout = 10

  [[module.group]]
  name = "hidden_triple"
  title = "Tripling"
  points = 10
  visibility = "after_due_date"
  timeout = 10
'''

TOY_TESTS = {
    "tests/01_toy/test_double.py":
        "from tinytorch.core.toy import double\n\n\ndef test_double_of_two_is_four():\n    assert double(2) == 4\n",
    "hidden_tests/01_toy/test_hidden_triple.py":
        "from tinytorch.core.toy import triple\n\n\ndef test_triple_of_two_is_six():\n    assert triple(2) == 6\n",
}


@pytest.fixture
def toy_course(tmp_path):
    """A one-module course with a visible and a hidden group, using this repository's grader runtime."""
    files = {"reference/course.toml": TOY_MANIFEST, "reference/tinytorch/__init__.py": "",
             "reference/tinytorch/core/__init__.py": "", "reference/tinytorch/core/toy.py": TOY_SOURCE,
             "conftest.py": "", **TOY_TESTS}
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    (tmp_path / "graders").symlink_to(ROOT / "graders")
    return load_course(tmp_path)


def test_mutants_change_only_region_code():
    regions = find_regions(TOY_SOURCE, "toy.py")
    mutants = mutants_of_file(TOY_SOURCE, "toy.py")
    assert mutants, "the toy regions hold a multiplication and constants"
    for mutant in mutants:
        before, after = TOY_SOURCE.splitlines(), mutant.mutated_text.splitlines()
        changed = [i + 1 for i, (a, b) in enumerate(zip(before, after)) if a != b]
        assert changed == [mutant.line]
        assert any(r.start_line < mutant.line < r.end_line for r in regions)


def test_code_outside_regions_is_never_mutated():
    mutated_lines = {m.line for m in mutants_of_file(TOY_SOURCE, "toy.py")}
    assert mutated_lines == {9, 15}  # the two return lines; not LIMIT or the check above the region


def test_the_wording_of_an_fstring_message_is_not_mutated():
    source = ('def check(x):\n    #% solution\n    if x > 1:\n'
              '        raise ValueError(f"at most {1 + 0}")\n    #% endsolution\n')
    mutants = mutants_of_file(source, "check.py")
    assert {m.operator for m in mutants} >= {"ReplaceComparisonOperator_Gt_GtE", "NumberReplacer", "AddNot"}
    assert {m.line for m in mutants} == {3}


def test_mutant_ids_survive_edits_outside_the_regions():
    before = {m.id for m in mutants_of_file(TOY_SOURCE, "toy.py")}
    shifted = "import math\n\n" + TOY_SOURCE.replace("Twice x.", "Twice x, for any number.")
    assert {m.id for m in mutants_of_file(shifted, "toy.py")} == before


def test_a_change_outside_every_region_is_refused_as_a_mistake():
    outside = TOY_SOURCE.replace("if x > LIMIT:", "if x >= LIMIT:")
    inside = TOY_SOURCE.replace("return 2 * x", "return x + x")
    assert changed_lines_outside_regions(TOY_SOURCE, outside, "toy.py") == [6]
    assert changed_lines_outside_regions(TOY_SOURCE, inside, "toy.py") == []


def test_an_equivalent_mark_leaves_the_score_denominator():
    mutants = mutants_of_file(TOY_SOURCE, "toy.py")[:4]
    module = COURSE.module("01")
    result = ModuleValidation(module=module, max_score=100, mutants_run=True, mutants=[
        MutantResult(mutants[0], caught=True), MutantResult(mutants[1], caught=True),
        MutantResult(mutants[2], caught=False), MutantResult(mutants[3], caught=False)])
    assert result.score == 50.0
    result.mutants[3].equivalent_reason = "no test can tell"
    assert result.score == pytest.approx(66.7)
    assert [m.mutant for m in result.survivors] == [mutants[2]]


def test_an_uncaught_mistake_fails_validation():
    result = ModuleValidation(module=COURSE.module("01"), max_score=100, mistakes=[
        MistakeResult(f"m{i}", "", points_lost=1.0, caught_by=["t"]) for i in range(MIN_MISTAKES)])
    assert result.problems() == []
    result.mistakes[0].points_lost = 0.0
    assert result.problems() == ["mistake 'm0' loses no points"]


def test_a_mark_without_a_reason_is_refused(toy_course):
    marks = toy_course.root / "validation" / "01_toy" / "equivalent.toml"
    marks.parent.mkdir(parents=True)
    marks.write_text('[[mutant]]\nid = "toy.py::double::NumberReplacer::return 2 * x"\n')
    with pytest.raises(EquivalentMarkError, match="reason"):
        load_marks(toy_course, toy_course.module("01"))
    marks.write_text('[[mutant]]\nid = "x"\nreason = "both round the same way"\n')
    assert load_marks(toy_course, toy_course.module("01")) == {"x": "both round the same way"}


def test_a_catalogued_mistake_round_trips_through_its_patch(toy_course):
    module = toy_course.module("01")
    write_mistake(toy_course, module, "off_by_one", "Adds one after doubling.", "return 2 * x", "return 2 * x + 1")
    [mistake] = load_catalogue(toy_course, module)
    assert mistake.description == "Adds one after doubling."
    assert "return 2 * x + 1" in apply_mistake(toy_course, module, mistake)["tinytorch/core/toy.py"]


def test_a_stale_patch_is_reported_with_the_fix(toy_course):
    module = toy_course.module("01")
    write_mistake(toy_course, module, "adds_instead", "Adds 2.", "return 2 * x", "return 2 + x")
    source = toy_course.root / "reference" / "tinytorch" / "core" / "toy.py"
    source.write_text(TOY_SOURCE.replace("return 2 * x", "return x * 2"))
    [mistake] = load_catalogue(toy_course, module)
    with pytest.raises(CatalogueError, match="regenerate"):
        apply_mistake(toy_course, module, mistake)


@pytest.mark.slow
def test_toy_module_is_graded_through_its_bundle(toy_course, tmp_path, capsys):
    module = toy_course.module("01")
    write_mistake(toy_course, module, "off_by_one", "Adds one after doubling.", "return 2 * x", "return 2 * x + 1")
    write_mistake(toy_course, module, "same_value", "2 * x written as x + x: not a mistake.", "return 2 * x",
                  "return x + x")
    marks = toy_course.root / "validation" / "01_toy" / "equivalent.toml"
    marks.write_text('[[mutant]]\nid = "tinytorch/core/toy.py::double::NumberReplacer::return 2 * x"\n'
                     'reason = "kept to show a mark that is no longer needed"\n')
    result = validate_module(toy_course, module, workers=2)
    by_name = {m.name: m for m in result.mistakes}
    assert by_name["off_by_one"].points_lost == 10
    assert by_name["off_by_one"].caught_by == ["Doubling › test_double_of_two_is_four"]
    assert by_name["same_value"].points_lost == 0
    assert "mistake 'same_value' loses no points" in result.problems()
    assert len(result.mutants) == 4 and result.score == 100.0  # * -> / and constant + 1 in both regions
    assert result.stale_marks == ["tinytorch/core/toy.py::double::NumberReplacer::return 2 * x"]
    write_reports(toy_course, result)
    again = validate_module(toy_course, module, workers=2, caught_before=committed_caught(toy_course, module))
    assert again.carried_over == 4 and again.score == 100.0  # nothing left to regrade


@pytest.mark.slow
@pytest.mark.parametrize("number", RELEASED)
def test_every_catalogued_mistake_loses_points(number, tmp_path):
    """What CI runs for every released module: each catalogued mistake, graded until it loses points."""
    module = COURSE.module(number)
    mistakes = load_catalogue(COURSE, module)
    assert len(mistakes) >= MIN_MISTAKES, f"module {number} catalogues {len(mistakes)} mistakes"
    bench = GradingBench.build(COURSE, module, tmp_path)
    uncaught = [m.name for m in grade_mistakes(bench, mistakes, workers=2, full=False) if m.points_lost <= 0]
    assert uncaught == []


@pytest.mark.parametrize("number", RELEASED)
def test_every_catalogued_mistake_still_applies_to_the_reference(number):
    """A reference edit (even a marker attribute in a patch's context) must come with regenerated patches."""
    module = COURSE.module(number)
    for mistake in load_catalogue(COURSE, module):
        apply_mistake(COURSE, module, mistake)


CLAMP_SOURCE = TOY_SOURCE + '''

def clamp(x):
    #% solution
    if x > 0:
        return x
    return 0
    #% endsolution
'''

CLAMP_PROPERTIES = '''
from tinytorch.core.toy import clamp, double


def clamps(rng):
    return [clamp(int(v)) for v in rng.integers(-3, 4, size=5)]


def doubles(rng):
    return [double(int(v)) for v in rng.integers(-3, 4, size=5)]


def always_raises(rng):
    raise KeyError("bug in the property")
'''


def _toy_mutant(course, operator, region):
    text = (course.root / "reference" / "tinytorch" / "core" / "toy.py").read_text()
    [mutant] = [m for m in mutants_of_file(text, "tinytorch/core/toy.py") if m.operator == operator and m.region == region]
    return mutant


def test_a_mark_is_accepted_only_when_its_property_confirms_it(toy_course):
    from coursetools.validate.equivalents import Mark, prove_mark

    (toy_course.root / "reference" / "tinytorch" / "core" / "toy.py").write_text(CLAMP_SOURCE)
    (toy_course.root / "validation" / "01_toy").mkdir(parents=True)
    (toy_course.root / "validation" / "01_toy" / "properties.py").write_text(CLAMP_PROPERTIES)
    module = toy_course.module("01")
    boundary = _toy_mutant(toy_course, "ReplaceComparisonOperator_Gt_GtE", "clamp")  # x >= 0 returns 0 at 0 too
    changed = {boundary.path: boundary.mutated_text}
    assert prove_mark(toy_course, module, Mark(boundary.id, "at 0 both give 0", "clamps"), changed) == ""
    assert "no property" in prove_mark(toy_course, module, Mark(boundary.id, "at 0 both give 0"), changed)
    assert "raised on 40 of 40 seeds" in prove_mark(toy_course, module, Mark(boundary.id, "r", "always_raises"), changed)
    wrong = _toy_mutant(toy_course, "NumberReplacer", "double")  # 3 * x: a false mark
    refuted = prove_mark(toy_course, module, Mark(wrong.id, "claimed equal", "doubles"), {wrong.path: wrong.mutated_text})
    assert refuted.startswith("refuted by doubles at seed 0")


def test_a_float_tolerance_must_be_small_and_is_applied(toy_course):
    from coursetools.validate.equivalents import first_difference, load_mark_entries

    marks = toy_course.root / "validation" / "01_toy" / "equivalent.toml"
    marks.parent.mkdir(parents=True)
    marks.write_text('[[mutant]]\nid = "x"\nreason = "rounding only"\nproperty = "p"\ntolerance = 0.5\n')
    with pytest.raises(EquivalentMarkError, match="tolerance"):
        load_mark_entries(toy_course, toy_course.module("01"))
    marks.write_text('[[mutant]]\nid = "x"\nreason = "rounding only"\nproperty = "p"\ntolerance = 1e-6\n')
    assert load_mark_entries(toy_course, toy_course.module("01"))["x"].tolerance == 1e-6
    import numpy as np

    near = np.float32([1.0, 2.0]), np.float32([1.0, 2.0000002])
    assert first_difference(*near) == "result: values differ"
    assert first_difference(*near, tolerance=1e-6) == ""
    assert "float32" in first_difference(np.float32([1]), np.float64([1]), tolerance=1e-6)


def test_the_summary_table_shows_shortcuts_run_kind_time_and_mark_reasons(toy_course):
    import json

    from coursetools.validate.validation_report import summary_markdown

    reports = toy_course.root / "validation" / "reports"
    reports.mkdir(parents=True)
    (reports / "01_toy.json").write_text(json.dumps({
        "seconds": 12.5, "full_run": True, "mistakes": [{"points_lost": 1.0}, {"points_lost": 0.0}],
        "mutation": {"generated": 10, "caught": 8, "survived": 1, "equivalent_marked": 1, "score": 88.9,
                     "sampled": False, "carried_over": 0},
        "shortcuts": {"generated": 2, "caught": 2, "survived": 0},
        "equivalent": [{"id": "tinytorch/core/toy.py::clamp::AddNot::if x > 0:", "reason": "why (confirmed)"}]}))
    table = summary_markdown(toy_course)
    assert "| 01_toy | 10 | 8 | 1 | 1 | 88.9% | 2/2 | 1/2 | full run | 12.5 s |" in table
    assert "- 01_toy `clamp::AddNot::if x > 0:`: why (confirmed)" in table
