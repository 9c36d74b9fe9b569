"""Solution markers: regions, names, hints, stubs, errors, Jinja variables."""

import ast
import re
from pathlib import Path

import pytest

from coursetools.author.markers import MarkerError, find_regions, render

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "tinytorch"

INSIDE_FUNCTION = '''\
def double(x):
    """Twice x."""
    y = 1
    #% solution hint="multiply"
    return x * 2
    #% endsolution


def other():
    return 0
'''

WHOLE_METHODS = '''\
class Box:
    #% solution
    @staticmethod
    def make(size: int) -> "Box":
        """A box of this size."""
        return Box()

    def area(self):
        return 1
    #% endsolution
'''

WHOLE_CLASS = '''\
#% solution name="Counter"
class Counter:
    """Counts."""
    LIMIT = 3

    def up(self):
        return 1
#% endsolution
'''


def _run(source: str, name: str):
    namespace: dict = {}
    exec(compile(source, "<skeleton>", "exec"), namespace)
    return namespace[name]


def test_region_inside_a_function_becomes_a_raise_with_the_hint():
    skeleton = render(INSIDE_FUNCTION, mode="skeleton", module_label="Module 99 (demo)")
    with pytest.raises(NotImplementedError, match=r"Module 99 \(demo\), region 'double'.*Hint: multiply"):
        _run(skeleton, "double")(3)
    assert '"""Twice x."""' in skeleton and "y = 1" in skeleton and "return x * 2" not in skeleton


def test_code_outside_regions_ships_verbatim():
    skeleton = render(INSIDE_FUNCTION, mode="skeleton")
    assert _run(skeleton, "other")() == 0


def test_solution_rendering_removes_only_the_markers():
    solution = render(INSIDE_FUNCTION, mode="solution")
    assert solution == "".join(line for line in INSIDE_FUNCTION.splitlines(True) if "#%" not in line)


def test_whole_methods_keep_decorators_signatures_and_docstrings():
    skeleton = render(WHOLE_METHODS, mode="skeleton")
    assert "@staticmethod" in skeleton and 'def make(size: int) -> "Box":' in skeleton
    assert '"""A box of this size."""' in skeleton and "return Box()" not in skeleton
    with pytest.raises(NotImplementedError):
        _run(skeleton, "Box").make(1)


def test_whole_class_body_keeps_methods_as_stubs_and_drops_statements():
    skeleton = render(WHOLE_CLASS, mode="skeleton")
    counter = _run(skeleton, "Counter")
    assert counter.__doc__ == "Counts." and not hasattr(counter, "LIMIT")
    with pytest.raises(NotImplementedError, match="Counter"):
        counter().up()


def test_region_names_default_to_the_enclosing_or_contained_definition():
    assert [r.name for r in find_regions(INSIDE_FUNCTION)] == ["double"]
    assert [r.name for r in find_regions(WHOLE_METHODS)] == ["Box.make"]
    assert [r.name for r in find_regions(WHOLE_CLASS)] == ["Counter"]


def test_second_region_in_one_function_gets_a_suffix():
    source = "def f():\n    #% solution\n    a = 1\n    #% endsolution\n    #% solution\n    return a\n    #% endsolution\n"
    assert [r.name for r in find_regions(source)] == ["f", "f#2"]


def test_stub_only_stubs_just_the_named_region():
    source = "def f():\n    #% solution\n    return 1\n    #% endsolution\n\n\ndef g():\n    #% solution\n    return 2\n    #% endsolution\n"
    out = render(source, mode="skeleton", stub_only={"g"})
    assert _run(out, "f")() == 1
    with pytest.raises(NotImplementedError):
        _run(out, "g")()


@pytest.mark.parametrize("source,problem", [
    ("def f():\n    #% solution\n    return 1\n", "never closed"),
    ("def f():\n    #% solution\n    #% solution\n    return 1\n    #% endsolution\n", "nest"),
    ("def f():\n    return 1\n    #% endsolution\n", "without an open"),
    ('def f():\n    #% solution colour="red"\n    return 1\n    #% endsolution\n', "unknown marker"),
])
def test_malformed_regions_raise_marker_errors_naming_the_line(source, problem):
    with pytest.raises(MarkerError, match=problem) as error:
        render(source, mode="skeleton", path="demo.py")
    assert "demo.py:" in str(error.value)


def test_jinja_variables_and_conditionals_render():
    source = 'NAME = "{{ course.name }}"\n#% if course.term == "Spring"\nSPRING = True\n#% endif\n\nEND = 1\n'
    out = render(source, mode="solution", context={"course": {"name": "TT", "term": "Fall"}})
    assert out == 'NAME = "TT"\n\nEND = 1\n'


@pytest.mark.parametrize("path", sorted(REFERENCE.rglob("*.py")), ids=lambda p: p.name)
def test_every_reference_file_round_trips_and_its_skeleton_parses(path):
    text = path.read_text(encoding="utf-8")
    solution = render(text, mode="solution", path=str(path))
    assert solution == "".join(line for line in text.splitlines(True) if not re.match(r"^\s*#%", line))
    ast.parse(render(text, mode="skeleton", path=str(path)))
