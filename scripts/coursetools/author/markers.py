"""Solution markers: render a reference file as the solution or as the student's skeleton.

A region is the code between two comment lines that Jinja2 reads as block statements::

    #% solution hint="NumPy broadcasts for you"
    return Tensor._make(self.data + other.data, "AddBackward", self, other)
    #% endsolution

Python ignores the markers, so the reference runs as it stands. A marker may name the region
(``name="..."``), give the stub's hint (``hint="..."``) and declare the region's role for the
shortcut variants of ``make validate`` (``kind="vectorized"``, ``"integer"``, ``"in-place"`` or
``"slow-path"`` with ``fast="<the library call it must not just make>"``; coursetools.validate.shortcuts).
Solution rendering drops the marker lines; skeleton rendering replaces each region with a stub
that raises ``NotImplementedError`` (whole ``def``s inside a region keep their signature and
docstring). Any other Jinja statement with the same prefix (``#% if term == "spring"``) and variables
(``{{ course.name }}``) work too. Rules and examples: docs/DESIGN.md section 2.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension

_OPEN = re.compile(r"^\s*#%\s*solution\b(.*)$")
_CLOSE = re.compile(r"^\s*#%\s*endsolution\b")
_MARKER_LINE = re.compile(r"^[ \t]*#%(.*)$", re.MULTILINE)
_KWARG = re.compile(r"(\w+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")
MODES = ("solution", "skeleton")
MARKER_ARGUMENTS = ("hint", "name", "kind", "fast")
REGION_KINDS = ("slow-path", "integer", "vectorized", "in-place")
"""Roles a region may declare (``kind="..."``); each has a shortcut variant (``coursetools.validate.shortcuts``)."""


class MarkerError(ValueError):
    """A malformed region; the message names the file and line."""


@dataclass(frozen=True)
class Region:
    """One solution region of a reference file."""

    name: str
    """Qualified name of what the region implements (``Tensor.__add__``), unique in its file."""
    path: str
    start_line: int
    """Line of the ``#% solution`` marker (1-based)."""
    end_line: int
    """Line of the ``#% endsolution`` marker."""
    hint: str = ""
    kind: str = ""
    """The region's role, for shortcut variants (``coursetools.validate.shortcuts.KINDS``); empty: none declared."""
    fast: str = ""
    """For kind="slow-path": the fast library expression the region must not simply call."""

    def body(self, text: str) -> str:
        """The region's code in ``text`` (the file it was found in), markers excluded."""
        lines = text.splitlines(keepends=True)
        return "".join(lines[self.start_line : self.end_line - 1])


def find_regions(text: str, path: str = "<string>") -> list[Region]:
    """All regions of a file, in order, with their names and hints.

    Raises MarkerError for an unclosed, nested or stray marker.
    """
    spans = _marker_spans(text, path)
    scopes = _scopes(text)
    regions: list[Region] = []
    seen: dict[str, int] = {}
    for start, end, kwargs in spans:
        name = kwargs.get("name") or _default_name(scopes, start, end)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}#{seen[name]}"
        regions.append(Region(name, path, start, end, kwargs.get("hint", ""), kwargs.get("kind", ""),
                              kwargs.get("fast", "")))
    return regions


def render(
    text: str,
    *,
    mode: str,
    path: str = "<string>",
    module_label: str = "",
    context: dict | None = None,
    stub_only: set[str] | None = None,
) -> str:
    """Render a reference file.

    Args:
        mode: "solution" keeps the code, "skeleton" stubs the regions.
        module_label: how stubs name the module, e.g. "Module 01 (tensor)".
        context: Jinja variables (course name, term ...).
        stub_only: in skeleton mode, stub only the regions with these names.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    regions = {r.start_line: r for r in find_regions(text, path)}
    state = {"mode": mode, "regions": regions, "label": module_label, "stub_only": stub_only, "path": path}
    try:
        template = _environment().from_string(_MARKER_LINE.sub(r"{%\1 %}", text))
        return template.render({**(context or {}), "_tt_marker_state": state})
    except jinja2.TemplateSyntaxError as error:
        raise MarkerError(f"{path}:{error.lineno}: {error.message}") from None


def stub_for(body: str, region: Region, module_label: str) -> str:
    """The skeleton's replacement for a region's code, at the region's indentation."""
    indent = indent_of(body)
    code = textwrap.dedent(body)
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        raise MarkerError(
            f"{region.path}:{region.start_line}: the code of region '{region.name}' does not parse on its own "
            f"({error.msg}); a region must hold whole statements"
        ) from None
    message = _message(region, module_label)
    if tree.body and all(isinstance(node, _DEFS) for node in tree.body):
        stub = _stub_definitions(code, tree.body, message, region)
    else:
        stub = _raise_lines(message, region)
    return textwrap.indent(stub, indent, lambda line: line.strip() != "")


# ---------------------------------------------------------------------- Jinja side
class SolutionExtension(Extension):
    """The ``solution ... endsolution`` block tag."""

    tags = {"solution"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        while parser.stream.current.type != "block_end":  # keyword arguments, read by find_regions
            parser.stream.skip()
        body = parser.parse_statements(("name:endsolution",), drop_needle=True)
        call = self.call_method("_region", [nodes.Const(lineno), nodes.Name("_tt_marker_state", "load")])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _region(self, lineno: int, state: dict, caller) -> str:
        body = caller()
        region = state["regions"].get(lineno)
        if region is None:
            raise MarkerError(f"{state['path']}:{lineno}: solution marker not found by the region scan")
        stub_only = state["stub_only"]
        if state["mode"] == "solution" or (stub_only is not None and region.name not in stub_only):
            return body
        return stub_for(body, region, state["label"])


def _environment() -> jinja2.Environment:
    # Marker lines become block tags; trim_blocks and lstrip_blocks then remove each marker line
    # whole. (Jinja's own line statements would also swallow the blank lines that follow them.)
    return jinja2.Environment(
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=[SolutionExtension],
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


# ---------------------------------------------------------------------- scanning
def _marker_spans(text: str, path: str) -> list[tuple[int, int, dict]]:
    spans: list[tuple[int, int, dict]] = []
    open_at: tuple[int, dict] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening, closing = _OPEN.match(line), _CLOSE.match(line)
        if opening:
            if open_at:
                raise MarkerError(f"{path}:{number}: a solution region opens inside the one opened at line {open_at[0]}; regions may not nest")
            open_at = (number, _kwargs(opening.group(1), path, number))
        elif closing:
            if not open_at:
                raise MarkerError(f"{path}:{number}: 'endsolution' without an open 'solution' region")
            spans.append((open_at[0], number, open_at[1]))
            open_at = None
    if open_at:
        raise MarkerError(f"{path}:{open_at[0]}: solution region is never closed; add '#% endsolution'")
    return spans


def _kwargs(rest: str, path: str, line: int) -> dict:
    found = {key: ast.literal_eval(value) for key, value in _KWARG.findall(rest)}
    leftover = _KWARG.sub("", rest).replace(",", "").strip()
    if leftover:
        raise MarkerError(f"{path}:{line}: cannot read '{leftover}' in the solution marker; use key=\"value\" pairs ({', '.join(MARKER_ARGUMENTS)})")
    unknown = set(found) - set(MARKER_ARGUMENTS)
    if unknown:
        raise MarkerError(f"{path}:{line}: unknown marker argument(s) {sorted(unknown)}; known: {', '.join(MARKER_ARGUMENTS)}")
    if "kind" in found and found["kind"] not in REGION_KINDS:
        raise MarkerError(f"{path}:{line}: kind={found['kind']!r} is not a region role; use one of {', '.join(REGION_KINDS)}")
    if "fast" in found and found.get("kind") != "slow-path":
        raise MarkerError(f"{path}:{line}: fast=\"...\" names the library call of a slow-path region; add kind=\"slow-path\"")
    return found


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _scopes(text: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every def and class in the file."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _DEFS):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                found.append((first, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _default_name(scopes: list[tuple[int, int, str]], start: int, end: int) -> str:
    inside = [s for s in scopes if start < s[0] and s[1] < end]
    if inside:  # the region holds whole definitions: name it after the first
        return min(inside)[2]
    enclosing = [s for s in scopes if s[0] < start <= s[1]]
    if enclosing:
        return max(enclosing)[2]
    return f"line {start}"


# ---------------------------------------------------------------------- stubs
def _message(region: Region, module_label: str) -> str:
    who = f"{module_label}, " if module_label else ""
    text = f"{who}region '{region.name}' is not implemented yet."
    return f"{text} Hint: {region.hint}" if region.hint else text


def _raise_lines(message: str, region: Region) -> str:
    lines = [f"# TODO: implement '{region.name}'.\n"]
    if region.hint:
        lines.append(f"# HINT: {region.hint}\n")
    lines.append(f"raise NotImplementedError({message!r})\n")
    return "".join(lines)


def _stub_definitions(code: str, statements: list[ast.stmt], message: str, region: Region) -> str:
    lines = code.splitlines(keepends=True)
    out: list[str] = []
    for node in statements:
        if isinstance(node, _DEFS):
            out.extend(_stub_definition(lines, node, message, region))
    return "".join(out)


def _stub_definition(lines: list[str], node: ast.stmt, message: str, region: Region) -> list[str]:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    body = node.body
    if body[0].lineno == node.lineno:
        raise MarkerError(f"{region.path}:{region.start_line}: put the body of '{node.name}' on its own line")
    keep_until = body[0].end_lineno if is_docstring(body[0]) else body[0].lineno - 1
    head = lines[first - 1 : keep_until]
    body_indent = indent_of("".join(lines[body[0].lineno - 1 : body[0].lineno]))
    if isinstance(node, ast.ClassDef):
        methods = [child for child in body if isinstance(child, _DEFS)]
        if not methods:
            return head + [f"{body_indent}pass\n"] if not is_docstring(body[0]) else head
        inner: list[str] = []
        for child in methods:
            inner.extend(_stub_definition(lines, child, message, region))
        return head + inner
    stub = textwrap.indent(_raise_lines(message, region), body_indent)
    return head + [stub]


def is_docstring(node: ast.stmt) -> bool:
    """A statement that is only a string literal (a docstring when it comes first)."""
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def indent_of(text: str) -> str:
    """The leading whitespace of the first non-blank line."""
    for line in text.splitlines():
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return ""
