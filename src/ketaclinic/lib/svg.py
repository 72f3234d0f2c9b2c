"""SVG drawn by matplotlib, made fit to inline under the Content-Security-Policy (issue 15).

matplotlib writes its colours and strokes as ``style="fill: #fff; stroke-width: 0.8"``
attributes and one ``<style>`` rule; inlined in a page, the policy's ``style-src 'self'``
refuses both, and the chart would lose every colour and line. The same properties are SVG
presentation attributes (``fill="#fff"``), which no policy governs: the drawing stays the same.
"""

from __future__ import annotations

import html
import re

__all__ = ["svg_without_inline_style"]

# Properties that SVG also accepts as attributes (SVG 1.1 "Presentation attributes", the ones
# matplotlib writes and a few neighbours). Anything else in a style attribute is dropped.
_PRESENTATION = frozenset(
    {
        "clip-path",
        "clip-rule",
        "color",
        "display",
        "dominant-baseline",
        "fill",
        "fill-opacity",
        "fill-rule",
        "font-family",
        "font-size",
        "font-stretch",
        "font-style",
        "font-variant",
        "font-weight",
        "letter-spacing",
        "opacity",
        "shape-rendering",
        "stop-color",
        "stop-opacity",
        "stroke",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-opacity",
        "stroke-width",
        "text-anchor",
        "text-decoration",
        "visibility",
        "word-spacing",
    }
)

_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL)
_SVG_OPEN = re.compile(r"<svg\b")
_ATTR_NAME = re.compile(r"\s([a-zA-Z:-]+)=")
# matplotlib's one rule: ``*{stroke-linejoin: round; stroke-linecap: butt}``.
_STAR_RULE = re.compile(r"\*\s*\{([^}]*)\}")


def _declarations(css: str) -> list[tuple[str, str]]:
    pairs = []
    for part in html.unescape(css).split(";"):
        name, sep, value = part.partition(":")
        name, value = name.strip().lower(), value.strip()
        if sep and name in _PRESENTATION and value:
            pairs.append((name, value))
    return pairs


def _attributes(pairs: list[tuple[str, str]], existing: set[str]) -> str:
    return "".join(
        f' {name}="{html.escape(value)}"' for name, value in pairs if name not in existing
    )


def _replace_style_attr(match: re.Match[str], tag_attrs: set[str]) -> str:
    return _attributes(_declarations(match.group(1)), tag_attrs)


def svg_without_inline_style(svg: str) -> str:
    """``svg`` with each style attribute turned into presentation attributes and the
    ``<style>`` elements removed (their ``*`` rule moved onto the root, where it is inherited)."""
    inherited: list[tuple[str, str]] = []
    for css in _STYLE_ELEMENT.findall(svg):
        for rule in _STAR_RULE.findall(css):
            inherited.extend(_declarations(rule))
    svg = _STYLE_ELEMENT.sub("", svg)

    def one_tag(tag: re.Match[str]) -> str:
        text = tag.group(0)
        existing = set(_ATTR_NAME.findall(text))
        return _STYLE_ATTR.sub(lambda m: _replace_style_attr(m, existing), text)

    svg = re.sub(r"<[a-zA-Z][^<>]*>", one_tag, svg)
    if inherited:
        svg = _SVG_OPEN.sub("<svg" + _attributes(inherited, set()), svg, count=1)
    return svg
