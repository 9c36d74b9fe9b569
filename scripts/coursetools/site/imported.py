"""Markdown taken from the repository (READMEs, guides, lessons), adapted to the site.

Links: a README or guide links to files by their repository paths (``../results/01_perceptron.json``,
``../SECURITY.md``). On the site each imported file has another path; a link to a file that is a
site page is pointed at that page, a link to anything else (a JSON file, a script) keeps its
text and loses the link, so no page of the site has a dead link.

Lists: GitHub (CommonMark) starts a list right after a paragraph line; Python-Markdown needs a
blank line first, or the items run into the paragraph. ``adapt`` inserts that blank line.
"""

from __future__ import annotations

import posixpath
import re

LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
EXTERNAL = ("http://", "https://", "mailto:", "#")
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s+\S")


def adapt(markdown: str, source: str, page: str, pages: dict[str, str]) -> str:
    """``markdown`` (the repository file ``source``) ready to be the site page ``page``."""
    return separate_lists(rewrite_links(markdown, source, page, pages))


def separate_lists(markdown: str) -> str:
    """A blank line before every list that follows a paragraph line directly (outside code)."""
    out: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        previous = out[-1] if out else ""
        if (not fenced and LIST_ITEM.match(line) and previous.strip() and not LIST_ITEM.match(previous)
                and not previous.startswith((" ", "\t", "|", "#", ">"))):
            out.append("")
        out.append(line)
    return "\n".join(out) + ("\n" if markdown.endswith("\n") else "")


def rewrite_links(markdown: str, source: str, page: str, pages: dict[str, str]) -> str:
    """Links of ``markdown`` (the repository file ``source``) made right for the site page ``page``.

    Args:
        pages: {repository path: site page path} of every imported file, both relative to their roots.
    """
    out, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line):
            fenced = not fenced
        out.append(line if fenced else _rewrite_line(line, source, page, pages))
    return "".join(out)


def _rewrite_line(line: str, source: str, page: str, pages: dict[str, str]) -> str:
    parts = re.split(r"(`[^`]*`)", line)  # leave inline code alone
    return "".join(part if part.startswith("`") else LINK.sub(lambda m: _target(m, source, page, pages), part)
                   for part in parts)


def _target(match: re.Match, source: str, page: str, pages: dict[str, str]) -> str:
    text, target = match.group("text"), match.group("target")
    if target.startswith(EXTERNAL):
        return match.group(0)
    path, _, fragment = target.partition("#")
    repository_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
    if repository_path not in pages:
        return text
    relative = posixpath.relpath(pages[repository_path], posixpath.dirname(page) or ".")
    return f"[{text}]({relative}{'#' + fragment if fragment else ''})"
