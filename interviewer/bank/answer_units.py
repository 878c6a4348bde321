"""An answer read into *units*, the pieces a rubric is drafted from (by
:mod:`interviewer.bank.drafting`): each list item, each sentence of prose, each table row where
the table is the answer's list, each with the lead-in it belongs to ("Use streaming when:",
"Step 2 — ...", a sub-heading), because an item means little without it ("Don't use streaming
when: you need random access"). Code and tables that illustrate a unit become its facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from interviewer.bank.notes import clean_inline, fenced_lines, looks_like_code
from interviewer.textutil import split_sentences

MAX_POINTS = 8
"""The most key points a drafted question has: a table that is the answer's list gives no more
units than that."""


@dataclass
class Unit:
    """One thing the answer says: a sentence, a list item or a table row, with its lead-in."""

    text: str
    label: str
    group: int
    emphasis: bool = False
    opening: bool = False
    """The answer's first sentence of prose: the direct answer to the question."""
    extras: list[str] = field(default_factory=list)
    """Code and table rows that illustrate it (facts, and a source of keywords)."""


# Compiled once: a 2,000-question import calls each tens of thousands of times.
_ANY_WORD = re.compile(r"\w")
_WORD_RUN = re.compile(r"\w+")

_LIST = re.compile(
    r"^(?P<indent>\s*)(?:[-*+\u2022\u25aa\u25e6]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+(?P<text>.*)$"
)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)([^*_]{1,80})(?:\*\*|__)\s*:?\s*$")
_EMPHASIS = re.compile(
    r"\*\*[^*]+\*\*|__[^_]+__|\b(?:always|never|must|crucial|critical|important|key|"
    r"essential|note)\b",
    re.IGNORECASE,
)


def _is_label(line: str, next_line: str | None) -> bool:
    """A lead-in for what follows: it ends with ":" and is short, or it is a short line
    without a sentence's end that a capitalised line follows ("Step 1 — Use MTEB ...")."""
    text = clean_inline(line)
    words = text.split()
    if not words:
        return False
    if text.endswith(":"):
        return len(words) <= 8
    if next_line is None or len(words) > 10 or len(text) > 70 or text[-1] in ".?!;,)":
        return False
    item = _LIST.match(next_line)
    following = clean_inline(item.group("text") if item else next_line)
    return bool(following) and following[0].isupper()


def _strip_label(text: str) -> str:
    return clean_inline(text).rstrip(":").strip()


def _table_rows(rows: list[str]) -> list[str]:
    """Table rows as text: "first cell: header value, header value"."""
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    cells = [c for c, row in zip(cells, rows, strict=True) if not _TABLE_RULE.match(row)]
    if not cells:
        return []
    header, body = (cells[0], cells[1:]) if len(cells) > 1 else ([], cells)
    texts: list[str] = []
    for row in body:
        if not any(_ANY_WORD.search(c) for c in row):
            continue
        head = row[0]
        rest = [
            f"{header[i]} {value}" if i < len(header) and header[i] else value
            for i, value in enumerate(row[1:], start=1)
            if value
        ]
        texts.append(clean_inline(f"{head}: {', '.join(rest)}" if rest else head))
    return [t for t in texts if _ANY_WORD.search(t)]


class _UnitReader:
    """Reads an answer's lines into units, keeping track of what each one belongs to: the
    sub-part it is in (a heading, a "Step 2 — ..." line) and the lead-in of its list or table
    ("Use streaming when:"), which ends where prose follows the items."""

    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.pending: list[str] = []  # code or table rows seen before any unit
        self.paragraph: list[str] = []
        self.section = ""
        self.lead = ""
        self.group = 0
        self.items = 0
        self.list_indent: int | None = None
        self.item_lead: tuple[int, str] | None = None
        """(indent, the lead-in before it) of a list item that is itself one ("Required:")."""
        self.open_item: int | None = None
        """The indent of the list item just read, while its text may go on on the next line."""

    def set_label(self, text: str, *, section: bool = False) -> None:
        if section:
            self.section, self.lead = _strip_label(text), ""
        else:
            self.lead = _strip_label(text)
        self.group += 1
        self.items = 0

    def attach(self, texts: list[str]) -> None:
        """Code or table rows that illustrate the unit before them (or the next one)."""
        (self.units[-1].extras if self.units else self.pending).extend(texts)

    def add(self, text: str, *, prose: bool = False) -> None:
        cleaned = clean_inline(text)
        if not _ANY_WORD.search(cleaned):
            return
        if prose and self.lead and self.items:
            self.lead, self.group = "", self.group + 1  # prose after the list: lead-in over
        if not prose:
            self.items += 1
        unit = Unit(
            cleaned,
            self.lead or self.section,
            self.group,
            emphasis=bool(_EMPHASIS.search(text)),
            opening=prose and not self.units,
        )
        unit.extras.extend(self.pending)
        self.pending.clear()
        self.units.append(unit)

    def flush(self) -> None:
        """The paragraph read so far, as sentences (a short one ending with ":" is a lead-in)."""
        if not self.paragraph:
            return
        text = " ".join(line.strip() for line in self.paragraph)
        self.paragraph.clear()
        for sentence in split_sentences(text):
            lead_in = sentence.rstrip().endswith(":")
            if not (lead_in and len(sentence.split()) <= 8):
                self.add(sentence, prose=True)
            if lead_in:
                self.set_label(sentence)

    def continues_item(self, line: str) -> bool:
        """Whether ``line`` goes on with the list item before it (indented under it, or a lazy
        continuation in lowercase), and if so adds its text to that item."""
        if self.open_item is None or not self.units or not self.units[-1].text:
            return False
        indent = len(line) - len(line.lstrip())
        text = clean_inline(line)
        if not text or not (indent > self.open_item or text[0].islower()):
            return False
        self.units[-1].text = f"{self.units[-1].text} {text}"
        return True

    def item(self, indent: int, text: str) -> None:
        self.open_item = None
        if self.list_indent is None:
            self.list_indent = indent
        if self.item_lead is not None and indent <= self.item_lead[0]:
            self.lead, self.item_lead = self.item_lead[1], None  # out of "Required:"'s items
        if clean_inline(text).endswith(":") and len(text.split()) <= 10:
            self.item_lead = (indent, self.lead)
            self.set_label(text)
        elif indent > self.list_indent and self.units and self.item_lead is None:
            self.units[-1].extras.append(clean_inline(text))  # a detail of the item above
        else:
            self.add(text)
            self.open_item = indent

    def table(self, rows: list[str]) -> None:
        texts = _table_rows(rows)
        if not self.units or self.units[-1].group != self.group:
            for text in texts[:MAX_POINTS]:
                self.add(text)  # the table is what the lead-in introduces
        else:
            self.attach(texts[:4])  # the table illustrates the sentence before it

    def read(self, lines: list[str]) -> list[Unit]:
        fenced = fenced_lines(lines)
        index = 0
        while index < len(lines):
            line = lines[index]
            stripped = line.strip()
            if fenced[index]:
                self.flush()
                self.open_item = None
                block: list[str] = []
                while index < len(lines) and fenced[index]:
                    if not re.match(r"^\s*(?:`{3,}|~{3,})", lines[index]):
                        block.append(lines[index].strip())
                    index += 1
                code = " ".join(b for b in block if b)
                if code:
                    self.attach([code[:300]])
                continue
            following = next(
                (lines[j] for j in range(index + 1, len(lines)) if lines[j].strip()), None
            )
            index += 1
            if not stripped:
                self.flush()
                self.list_indent = self.item_lead = self.open_item = None
                continue
            if _LIST.match(line) is None and self.continues_item(line):
                continue
            self.open_item = None
            if stripped.startswith("|") and stripped.count("|") >= 2:
                self.flush()
                rows = [line]
                while index < len(lines) and lines[index].strip().startswith("|"):
                    rows.append(lines[index])
                    index += 1
                self.table(rows)
                continue
            heading = _HEADING.match(line) or _BOLD_LINE.match(line)
            if heading:
                self.flush()
                self.set_label(heading.group(1), section=True)
                continue
            item = _LIST.match(line)
            if item is None and looks_like_code(line):
                self.flush()
                block = [stripped]
                while (
                    index < len(lines)
                    and lines[index].strip()
                    and (
                        looks_like_code(lines[index])
                        or block[-1].endswith(("(", ",", "[", "{", ":"))
                    )
                ):
                    block.append(lines[index].strip())
                    index += 1
                self.attach([" ".join(block)[:300]])
                continue
            if item is not None:
                self.flush()
                self.item(len(item.group("indent")), item.group("text"))
                continue
            if not self.paragraph and _is_label(line, following):
                self.set_label(line, section=not clean_inline(line).endswith(":"))
                self.list_indent = self.item_lead = None
                continue
            self.paragraph.append(line)
            if clean_inline(stripped).endswith((".", "!", "?", ":")):
                self.flush()
        self.flush()
        if self.pending and self.units:
            self.units[-1].extras.extend(self.pending)
        elif self.pending:
            self.add(self.pending[0][:200])
        return _absorb_fragments(self.units)


def answer_units(answer: str) -> list[Unit]:
    """The units of ``answer`` (see the module docstring), in order."""
    return _UnitReader().read(answer.split("\n"))


def _absorb_fragments(units: list[Unit]) -> list[Unit]:
    """A unit of one or two words ("Yes.", "Exactly.") joins the unit after it."""
    kept: list[Unit] = []
    carry = ""
    for unit in units:
        if len(_WORD_RUN.findall(unit.text)) <= 2 and not unit.extras and not unit.label:
            carry = f"{carry} {unit.text}".strip()
            continue
        if carry:
            unit.text = f"{carry} {unit.text}"
            carry = ""
        kept.append(unit)
    if carry:
        if kept:
            kept[-1].text = f"{kept[-1].text} {carry}"
        else:
            kept.append(Unit(carry, "", 0))
    return kept
