"""MkDocs hook: the lessons' ``$...$`` and ``$$...$$`` math as MathML, converted at build time.

``pymdownx.arithmatex`` (generic mode) finds the math and leaves it as escaped LaTeX in
``<span class="arithmatex">\\(...\\)</span>`` or ``<div class="arithmatex">\\[...\\]</div>``;
this hook turns each into MathML with latex2mathml. Browsers draw MathML natively, so the
site needs no MathJax or KaTeX script, which would have to come from a CDN (the site is
offline). LaTeX that latex2mathml cannot read stays visible as code with the class
``math-error``; the site test fails on any such span and names its page.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

INLINE = re.compile(r'<span class="arithmatex">\\\((?P<tex>.*?)\\\)</span>', re.S)
BLOCK = re.compile(r'<div class="arithmatex">\\\[(?P<tex>.*?)\\\]</div>', re.S)


def to_mathml(tex: str, *, display: bool) -> str:
    source = html.unescape(tex).strip()
    try:
        return convert(source, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of errors for LaTeX it does not know
        return f'<code class="math-error" title="latex2mathml could not read this">{html.escape(source)}</code>'


def on_page_content(html_text: str, **_) -> str:
    """MkDocs calls this with each page's HTML body; returns it with MathML in place of the LaTeX."""
    html_text = BLOCK.sub(lambda m: f'<div class="math">{to_mathml(m.group("tex"), display=True)}</div>', html_text)
    return INLINE.sub(lambda m: to_mathml(m.group("tex"), display=False), html_text)
