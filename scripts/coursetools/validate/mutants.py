"""Mutants of a module's solution regions, made with Cosmic Ray's mutation operators.

Cosmic Ray (a maintained mutation tool) supplies the operators and the code rewriting
(``mutation_positions`` / ``mutate_code`` on a parso tree, which keeps every other byte of the
file). What it cannot do is restrict a run to line ranges or grade through our bundle, so this
file does the selection: it keeps only the positions that fall inside a solution region, and
gives each mutant an id that survives edits elsewhere in the file (region, operator, the
mutated line's text and an ordinal), so an equivalent-mutant mark stays attached to it.
Code inside f-strings (the wording of error messages) is not mutated.
Why Cosmic Ray and not mutmut or poodle: docs/DESIGN.md, "Assessment validity".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import mutate_code
from cosmic_ray.plugins import get_operator

from coursetools.author.markers import Region, find_regions

OPERATORS = (
    # arithmetic: the slip a student makes is the inverse operation, not any other operator
    "ReplaceBinaryOperator_Add_Sub",
    "ReplaceBinaryOperator_Sub_Add",
    "ReplaceBinaryOperator_Mul_Div",
    "ReplaceBinaryOperator_Div_Mul",
    "ReplaceBinaryOperator_Div_FloorDiv",
    "ReplaceBinaryOperator_FloorDiv_Div",
    "ReplaceBinaryOperator_Pow_Mul",
    # comparisons: off by one at a boundary, a flipped test
    "ReplaceComparisonOperator_Lt_LtE",
    "ReplaceComparisonOperator_LtE_Lt",
    "ReplaceComparisonOperator_Gt_GtE",
    "ReplaceComparisonOperator_GtE_Gt",
    "ReplaceComparisonOperator_Eq_NotEq",
    "ReplaceComparisonOperator_NotEq_Eq",
    "ReplaceComparisonOperator_Is_IsNot",
    "ReplaceComparisonOperator_IsNot_Is",
    # a forgotten sign or negation
    "ReplaceUnaryOperator_Delete_USub",
    "ReplaceUnaryOperator_Delete_Not",
    # conditions and flags
    "AddNot",
    "ReplaceTrueWithFalse",
    "ReplaceFalseWithTrue",
    "ReplaceAndWithOr",
    "ReplaceOrWithAnd",
    # loops
    "ReplaceBreakWithContinue",
    "ReplaceContinueWithBreak",
    "ZeroIterationForLoop",
    # constants: axis -1 vs 0, eps, an index off by one
    "NumberReplacer",
)
"""Cosmic Ray core operators used (provider ``core/``): the mistakes a student plausibly makes.

The other core operators are left out on purpose: replacing every binary operator by each of
the eleven others multiplies the run time without adding realistic mistakes, and
VariableReplacer/VariableInserter produce random code no test could be expected to explain.
"""

ONE_VARIANT_ONLY = {"NumberReplacer"}
"""Operators that offer two variants per position (a constant plus one, minus one); only the first is
kept: either variant tests the same thing (is this constant checked?) and they are half the mutants."""


@dataclass(frozen=True)
class Mutant:
    """One change to a solution region: a token mutant of one line, or a whole-region shortcut
    variant (validate.shortcuts, operator ``shortcut:<kind>``)."""

    id: str
    """Stable id: ``<file>::<region>::<operator>::<line text>`` plus ``#k`` for the k-th alike
    (shortcut variants: ``<file>::<region>::shortcut:<kind>``)."""
    path: str
    """The owned file, relative to reference/."""
    region: str
    operator: str
    line: int
    """1-based line of the change in the reference file."""
    mutated_text: str
    """The whole reference file with the change applied (markers still in)."""
    diff: str
    """Unified diff against the reference file."""


def mutants_of_file(text: str, path: str, operators: tuple[str, ...] = OPERATORS) -> list[Mutant]:
    """Every mutant of the regions of one reference file, in file order per operator."""
    regions = find_regions(text, path)
    found: list[Mutant] = []
    seen: dict[str, int] = {}
    lines = text.splitlines()
    for name in operators:
        operator = get_operator(f"core/{name}")()
        positions = [(node, start) for node in ast_nodes(get_ast(text))
                     for start, _ in operator.mutation_positions(node)]
        for occurrence, (node, (line, _column)) in enumerate(positions):
            region = region_at(regions, line)
            if region is None or in_fstring(node) or (name in ONE_VARIANT_ONLY and occurrence % 2):
                continue
            mutated = mutate_code(text, operator, occurrence)
            if mutated is None or mutated == text:
                continue
            key = f"{path}::{region.name}::{name}::{lines[line - 1].strip()}"
            seen[key] = seen.get(key, 0) + 1
            mutant_id = key if seen[key] == 1 else f"{key}#{seen[key]}"
            found.append(Mutant(mutant_id, path, region.name, name, line, mutated, unified_diff(text, mutated, path)))
    return found


def region_at(regions: list[Region], line: int) -> Region | None:
    """The region whose code (marker lines excluded) holds this line, if any."""
    for region in regions:
        if region.start_line < line < region.end_line:
            return region
    return None


def in_fstring(node) -> bool:
    """Whether the node is part of an f-string: the wording of a message, not behaviour we grade."""
    while node is not None:
        if node.type == "fstring":
            return True
        node = node.parent
    return False


def unified_diff(before: str, after: str, path: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}", n=1))
