"""The note search query language: terms, "quoted phrases", AND / OR / NOT, parentheses.

Adjacent terms are ANDed; ``OR`` binds looser than AND; ``NOT term`` or ``-term`` excludes.
Chinese text needs no spaces: ``肺转移`` is one phrase. Terms are folded like the indexed text
(:func:`medlake.search.text.fold`: case, full-width forms). ``parse_query`` returns a small tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medlake.errors import ValidationFailed
from medlake.search.text import fold

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+))')


@dataclass(frozen=True)
class Term:
    text: str


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Term | And | Or | Not


def _tokens(q: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    q = q.strip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise ValidationFailed(f"cannot parse the search query near {q[pos : pos + 10]!r}")
        pos = m.end()
        if m.group(1):
            out.append(("(", "("))
        elif m.group(2):
            out.append((")", ")"))
        elif m.group(3) is not None:
            out.append(("term", m.group(3)))
        else:
            word = m.group(4)
            if word in ("AND", "OR", "NOT"):
                out.append((word, word))
            elif word.startswith("-") and len(word) > 1:
                out.append(("NOT", "NOT"))
                out.append(("term", word[1:]))
            else:
                out.append(("term", word))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.t[self.i][0] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.t[self.i]
        self.i += 1
        return tok

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.peek() in ("AND", "NOT", "term", "("):
            if self.peek() == "AND":
                self.take()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        kind = self.peek()
        if kind == "NOT":
            self.take()
            return Not(self.parse_unary())
        if kind == "(":
            self.take()
            node = self.parse_or()
            if self.peek() != ")":
                raise ValidationFailed("unbalanced parenthesis in the search query")
            self.take()
            return node
        if kind == "term":
            text = fold(self.take()[1]).strip()
            if not text:
                raise ValidationFailed("empty phrase in the search query")
            return Term(text)
        raise ValidationFailed(f"unexpected {kind or 'end of query'} in the search query")


def parse_query(q: str) -> Node:
    tokens = _tokens(q)
    if not tokens:
        raise ValidationFailed("empty search query")
    p = _Parser(tokens)
    node = p.parse_or()
    if p.peek() is not None:
        raise ValidationFailed(f"unexpected {p.peek()} in the search query")
    if isinstance(node, Not) or (isinstance(node, And) and all(isinstance(i, Not) for i in node.items)):
        raise ValidationFailed("a query needs at least one positive term", hint="e.g. 肺转移 NOT 未见")
    return node


def positive_terms(node: Node) -> list[str]:
    if isinstance(node, Term):
        return [node.text]
    if isinstance(node, Not):
        return []
    out: list[str] = []
    for item in node.items:
        out.extend(positive_terms(item))
    return out


def all_terms(node: Node) -> list[str]:
    if isinstance(node, Term):
        return [node.text]
    if isinstance(node, Not):
        return all_terms(node.item)
    out: list[str] = []
    for item in node.items:
        out.extend(all_terms(item))
    return out
