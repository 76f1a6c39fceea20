"""Griffe extension: reads the reStructuredText bits of paymux's docstrings as Markdown.

The code's docstrings use Sphinx roles (``:class:`Money```) and ``::`` literal blocks, which
read well in an editor. The API reference renders Markdown, so here roles become inline code and
a paragraph's closing ``::`` becomes ``:`` (the indented block after it is already code).
Loaded by mkdocstrings (``extensions`` in mkdocs.yml); the source is not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|data|attr|mod|exc|obj|const):`~?([^`]+)`")
_LITERAL = re.compile(r"(?m)^(?P<text>.*?)::[ \t]*$")


def markdown(text: str) -> str:
    text = _ROLE.sub(r"`\1`", text)
    return _LITERAL.sub(lambda m: m["text"] + ":" if m["text"].strip() else "", text)


class RstToMarkdown(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._convert(pkg, set())

    def _convert(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._convert(member, seen)  # type: ignore[arg-type]
