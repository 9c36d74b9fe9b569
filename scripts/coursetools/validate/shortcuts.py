"""Shortcut variants: the region rewritten the way a student dodges what it was meant to teach.

Token mutants (``coursetools.validate.mutants``) change one operator or constant. Students more often
take a *shortcut* that computes the right values the wrong way: they call the fast library
routine from the function meant to show the slow algorithm, compute in float where integer
arithmetic is the point, loop in Python where a vectorized kernel is asked for, or allocate
fresh arrays where the update must be in place. A region declares which of these its tests
must rule out with a ``kind`` on its marker line (docs/DESIGN.md section 2)::

    #% solution kind="vectorized"
    #% solution kind="slow-path" fast="a @ b"

and this file generates one variant per such region, by rule:

- ``slow-path``: the region becomes ``return <fast>``, the library call named by ``fast=``
  (a region holding whole ``def``s gets it as each function's body);
- ``integer``: every cast to an integer dtype becomes a float32 cast, rounding calls
  (``np.rint``/``round``/``floor``/``trunc``) are dropped, ``//`` becomes ``/``;
- ``vectorized``: every matrix product (``a @ b``, ``np.matmul``, ``np.dot``, ``out=`` kept) is
  computed by a Python loop: over the rows of ``a`` for NumPy arrays, over the contraction index for autograd
  Tensors (slices, a broadcast multiply and a running sum, so the gradients stay right);
- ``in-place``: ``x[i] = v`` and ``x[i] += v`` on a name or attribute become a fresh copy with
  the slice set, bound back to the same name; ``x += v`` becomes ``x = x + v``.

Every rule computes the same values as the region (up to float summation order; the loops
are proven against the original in tests/toolchain/test_shortcuts.py). A variant that still
scores full marks is a survivor: the tests cannot tell the shortcut from the real thing.
"""

from __future__ import annotations

import ast
import textwrap

from coursetools.author.markers import REGION_KINDS, Region, find_regions, indent_of, is_docstring
from coursetools.validate.mutants import Mutant, unified_diff

KINDS = REGION_KINDS
"""The roles a region may declare with ``kind=...``."""

HELPER_PREFIX = "_shortcut_"

LOOP_MATMUL = '''

def _shortcut_loop_matmul(a, b, dot=False, out=None):
    """a @ b in a Python loop (a shortcut variant: the vectorized product written as loops)."""
    import numpy
    if dot and (numpy.ndim(a) > 2 or numpy.ndim(b) > 2):
        return numpy.dot(a, b, out=out)  # N-d np.dot is not a matmul; left as written
    if hasattr(a, "backward") or hasattr(b, "backward"):
        tensor = type(a) if hasattr(a, "backward") else type(b)
        a = a if hasattr(a, "backward") else tensor(a)
        b = b if hasattr(b, "backward") else tensor(b)
        if a.ndim < 2 or b.ndim < 2:
            return a @ b
        total = None
        for j in range(a.shape[-1]):
            term = a[..., j:j + 1] * b[..., j:j + 1, :]
            total = term if total is None else total + term
        return total
    a, b = numpy.asarray(a), numpy.asarray(b)
    vector_a, vector_b = a.ndim == 1, b.ndim == 1
    a = a[None, :] if vector_a else a
    b = b[:, None] if vector_b else b
    batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = numpy.broadcast_to(a, batch + a.shape[-2:])
    b = numpy.broadcast_to(b, batch + b.shape[-2:])
    result = numpy.empty(batch + (a.shape[-2], b.shape[-1]), dtype=numpy.result_type(a, b))
    for index in numpy.ndindex(*batch, a.shape[-2]):
        result[index] = a[index] @ b[index[:-1]]
    result = result[..., 0, :] if vector_a else result
    result = result[..., 0] if vector_b else result
    if out is None:
        return result
    out[...] = result
    return out
'''

FRESH_SETITEM = '''

def _shortcut_fresh_setitem(array, index, value):
    """A copy of array with array[index] = value (a shortcut variant: no in-place update)."""
    fresh = array.copy()
    fresh[index] = value
    return fresh
'''

INTEGER_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intp", "int_"}
ROUNDING_CALLS = {"rint", "round", "around", "floor", "ceil", "trunc", "fix"}
MATMUL_CALLS = {"matmul", "dot"}


COMPOUND = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
            ast.AsyncFor, ast.AsyncWith, ast.Match)
"""Statements whose bodies the rules walk into; only simple statements are rewritten."""


class ShortcutError(ValueError):
    """A region's declared kind cannot be applied; the message names the region and the fix."""


def shortcuts_of_file(text: str, path: str) -> list[Mutant]:
    """One variant per region that declares a kind, in file order, as a Mutant (so reports treat
    both families alike): id ``<file>::<region>::shortcut:<kind>``, stable while the region keeps
    its name and kind; ``line`` is the region's marker line."""
    found = []
    for region in find_regions(text, path):
        if not region.kind:
            continue
        variant = apply_shortcut(text, region)
        operator = f"shortcut:{region.kind}"
        found.append(Mutant(f"{path}::{region.name}::{operator}", path, region.name, operator,
                            region.start_line, variant, unified_diff(text, variant, path)))
    return found


def apply_shortcut(text: str, region: Region) -> str:
    """The whole file with this region rewritten by its kind's rule (helpers appended at the end).

    Only the statements a rule changes are rewritten (``ast.unparse``); every other line of the
    region stays as written, so the variant's diff shows the shortcut and nothing else.
    """
    body = region.body(text)
    indent = indent_of(body)
    try:
        tree = ast.parse(textwrap.dedent(body))
    except SyntaxError as error:
        raise ShortcutError(f"{region.path}:{region.start_line}: region '{region.name}' does not parse on its own "
                            f"({error.msg})") from None
    if region.kind not in KINDS:
        raise ShortcutError(f"{region.path}:{region.start_line}: unknown kind {region.kind!r}; known: {', '.join(KINDS)}")
    if region.kind == "slow-path":
        code = ast.unparse(_slow_path(tree, region))
        replacements = [(1, len(body.splitlines()), 0, code)]
        helper = ""
    else:
        changer, helper, what = RULES[region.kind]()
        replacements = _changed_statements(tree, changer)
        _require(changer.changed, region, what)
    region_lines = body.splitlines(keepends=True)
    for first, last, column, code in sorted(replacements, reverse=True):
        lead = indent + " " * column
        region_lines[first - 1:last] = [textwrap.indent(code + "\n", lead)]
    lines = text.splitlines(keepends=True)
    rewritten = "".join(lines[: region.start_line]) + "".join(region_lines) + "".join(lines[region.end_line - 1:])
    if helper and helper not in rewritten:
        rewritten = rewritten.rstrip("\n") + "\n" + helper
    return rewritten


def _changed_statements(tree: ast.Module, changer: ast.NodeTransformer) -> list[tuple[int, int, int, str]]:
    """(first line, last line, column, new code) of every simple statement the rule changes."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, COMPOUND):
            continue
        before = ast.dump(node)
        copy = ast.parse(ast.unparse(node)).body[0]
        changed = ast.fix_missing_locations(ast.Module(body=[changer.visit(copy)], type_ignores=[])).body[0]
        if ast.dump(changed) != before:
            found.append((node.lineno, node.end_lineno or node.lineno, node.col_offset, ast.unparse(changed)))
    return found


# ---------------------------------------------------------------------- the four rules
def _slow_path(tree: ast.Module, region: Region) -> ast.Module:
    if not region.fast:
        raise ShortcutError(f"{region.path}:{region.start_line}: region '{region.name}' is kind=\"slow-path\" but "
                            "names no fast call; add fast=\"<the library expression it must not call>\"")
    try:
        fast_return = ast.parse(f"return ({region.fast})").body[0]
    except SyntaxError:
        raise ShortcutError(f"{region.path}:{region.start_line}: fast={region.fast!r} is not a Python expression") from None
    definitions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if definitions:
        for node in definitions:
            keep = node.body[:1] if is_docstring(node.body[0]) else []
            node.body = keep + [fast_return]
        return tree
    tree.body = [fast_return]
    return tree


def _require(changed: int, region: Region, what: str) -> None:
    if not changed:
        raise ShortcutError(f"{region.path}:{region.start_line}: region '{region.name}' declares kind={region.kind!r} "
                            f"but holds no {what}; remove the kind or mark the region that does")


class _FloatInsteadOfInteger(ast.NodeTransformer):
    def __init__(self):
        self.changed = 0

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        name = _attribute_name(node.func)
        if name in ROUNDING_CALLS and isinstance(node.func, ast.Attribute) and len(node.args) == 1 and not node.keywords:
            self.changed += 1
            return node.args[0]
        if _is_integer_dtype(node.func) and len(node.args) == 1 and not node.keywords:  # np.int16(value)
            self.changed += 1
            node.func = _float32()
            return node
        if name == "astype" and node.args and _is_integer_dtype(node.args[0]):
            self.changed += 1
            node.args[0] = _float32()
        for keyword in node.keywords:
            if keyword.arg == "dtype" and _is_integer_dtype(keyword.value):
                self.changed += 1
                keyword.value = _float32()
        return node

    def visit_BinOp(self, node: ast.BinOp):
        self.generic_visit(node)
        if isinstance(node.op, ast.FloorDiv):
            self.changed += 1
            node.op = ast.Div()
        return node

    def visit_AugAssign(self, node: ast.AugAssign):
        self.generic_visit(node)
        if isinstance(node.op, ast.FloorDiv):
            self.changed += 1
            node.op = ast.Div()
        return node


class _LoopedMatmul(ast.NodeTransformer):
    def __init__(self):
        self.changed = 0

    def visit_BinOp(self, node: ast.BinOp):
        self.generic_visit(node)
        if isinstance(node.op, ast.MatMult):
            self.changed += 1
            return _call("_shortcut_loop_matmul", [node.left, node.right])
        return node

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        if (isinstance(node.func, ast.Attribute) and node.func.attr in MATMUL_CALLS and len(node.args) == 2
                and all(keyword.arg == "out" for keyword in node.keywords) and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("np", "numpy")):
            self.changed += 1
            call = _call("_shortcut_loop_matmul", node.args)
            call.keywords = list(node.keywords)  # out=... is kept: the loop writes its result there
            if node.func.attr == "dot":
                call.keywords.append(ast.keyword(arg="dot", value=ast.Constant(True)))
            return call
        return node


class _FreshAllocation(ast.NodeTransformer):
    def __init__(self):
        self.changed = 0

    def visit_Assign(self, node: ast.Assign):
        if len(node.targets) == 1 and _rebindable_subscript(node.targets[0]):
            self.changed += 1
            return _fresh(node.targets[0], node.value)
        return node

    def visit_AugAssign(self, node: ast.AugAssign):
        target = node.target
        if _rebindable_subscript(target):
            self.changed += 1
            current = ast.Subscript(value=_load(target.value), slice=target.slice, ctx=ast.Load())
            return _fresh(target, ast.BinOp(left=current, op=node.op, right=node.value))
        if isinstance(target, (ast.Name, ast.Attribute)):
            self.changed += 1
            return ast.Assign(targets=[target], value=ast.BinOp(left=_load(target), op=node.op, right=node.value))
        return node


RULES = {
    "integer": lambda: (_FloatInsteadOfInteger(), "", "integer casts, rounding calls or floor divisions"),
    "vectorized": lambda: (_LoopedMatmul(), LOOP_MATMUL, "matrix products (a @ b, np.matmul, np.dot)"),
    "in-place": lambda: (_FreshAllocation(), FRESH_SETITEM, "in-place updates (x[i] = v, x[i] += v, x += v)"),
}
"""kind -> (a fresh rewriting visitor, the helper it calls, what it looks for)."""


def _fresh(target: ast.Subscript, value: ast.expr) -> ast.Assign:
    """``x = _shortcut_fresh_setitem(x, np.s_[index], value)`` for ``x[index] = value``."""
    index = ast.Subscript(value=ast.Attribute(value=_call("__import__", [ast.Constant("numpy")]), attr="s_",
                                              ctx=ast.Load()), slice=target.slice, ctx=ast.Load())
    call = _call("_shortcut_fresh_setitem", [_load(target.value), index, value])
    store = _store(target.value)
    return ast.Assign(targets=[store], value=call)


# ---------------------------------------------------------------------- small AST helpers
def _rebindable_subscript(node: ast.expr) -> bool:
    return isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute))


def _load(node: ast.expr) -> ast.expr:
    copy = ast.parse(ast.unparse(node), mode="eval").body
    return copy


def _store(node: ast.expr) -> ast.expr:
    copy = _load(node)
    copy.ctx = ast.Store()
    return copy


def _call(name: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _float32() -> ast.expr:
    return ast.Attribute(value=_call("__import__", [ast.Constant("numpy")]), attr="float32", ctx=ast.Load())


def _attribute_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _is_integer_dtype(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in INTEGER_DTYPES
    if isinstance(node, ast.Name):
        return node.id == "int"
    return isinstance(node, ast.Attribute) and node.attr in INTEGER_DTYPES
