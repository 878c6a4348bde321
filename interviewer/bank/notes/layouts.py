"""One parser per layout of a notes file (see :mod:`interviewer.bank.notes`), each over a
:class:`Doc`: the lines, which of them are fenced code, and where each starts."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from interviewer.bank.notes.markup import is_decoration, is_placeholder, is_toc_item
from interviewer.bank.notes.text import (
    HR_LINE,
    INLINE_ANSWER,
    LIST_ITEM,
    a_label,
    clean_answer,
    clean_inline,
    fenced_lines,
    html_to_text,
    is_toggle,
    level_questions,
    question_strength,
    question_text,
)

EMPTY_BLOCK = "<details></details>"
"""The placeholder of a ``<details>`` block with nothing in it."""


@dataclass(frozen=True)
class NoteEntry:
    """One question of a notes file and its answer, as written."""

    question: str
    answer: str
    """The answer's text with the layout's own markup removed ("" when there is none)."""
    line: int
    """The 1-based line of the question."""
    end: int
    """The 1-based last line of its answer (the entry's span, for detection)."""
    placeholder: str = ""
    """What stood where the answer should be ("Answer here", "TODO"), when the answer is empty
    because it was only a placeholder."""
    source: str = ""
    """The file it came from, when a folder of files is read as one bank."""
    unit: str = ""
    """What ``line`` counts where it is not a line ("item" of a JSON list, "note" of a deck),
    when a folder of files is read as one bank."""


@dataclass(frozen=True)
class Doc:
    lines: list[str]
    fenced: list[bool]
    offsets: list[int]
    """The offset in ``text`` where each line starts."""
    text: str
    unwrapped: bool
    """One paragraph per line (long lines): a page copied from a browser, not wrapped Markdown."""
    barriers: tuple[int, ...] = ()
    """Lines (0-based, sorted) where an explicit question starts (a ``<details>`` block, a
    question table, a "Q:" label): no other layout's answer runs past one."""

    def stop_before(self, start: int, end: int) -> int:
        """``end``, or the line before the first barrier after ``start`` when that is sooner."""
        position = bisect.bisect_right(self.barriers, start)
        if position < len(self.barriers) and self.barriers[position] <= end:
            return self.barriers[position] - 1
        return end

    def line_at(self, offset: int) -> int:
        """The 0-based line of ``offset``."""
        low, high = 0, len(self.offsets) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.offsets[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low


def read_doc(text: str) -> Doc:
    lines = text.split("\n")
    offsets: list[int] = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    fenced = fenced_lines(lines)
    return Doc(lines, fenced, offsets, text, _unwrapped(lines, fenced))


def _unwrapped(lines: list[str], fenced: list[bool]) -> bool:
    """Whether the text keeps one paragraph per line (a page copied from a browser) rather
    than wrapping its paragraphs: long lines, and hardly a line that breaks mid-sentence (ends
    without punctuation and the next goes on in lowercase)."""
    prose = [
        index
        for index, line in enumerate(lines)
        if line.strip()
        and not fenced[index]
        and not line.lstrip().startswith(("|", "#", "<"))
        and not LIST_ITEM.match(line)
    ]
    long_lines = sum(1 for index in prose if len(lines[index]) > 100)
    broken = sum(
        1
        for index in prose
        if index + 1 < len(lines)
        and not lines[index].rstrip().endswith((".", "!", "?", ":", ";", ")", '"', "'", "`", "*"))
        and lines[index + 1].strip()[:1].islower()
    )
    return long_lines >= max(2, len(prose) // 10) and broken * 10 <= len(prose)


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def atx_heading(doc: Doc, index: int) -> tuple[int, str] | None:
    if doc.fenced[index]:
        return None
    match = _ATX.match(doc.lines[index])
    if match is None:
        return None
    return len(match.group(1)), (match.group(2) or "").strip()


def headings_of(doc: Doc) -> list[tuple[int, int, str]]:
    """(line, level, text) of each ATX heading and setext heading (a one-line paragraph
    underlined with === or ---)."""
    found: list[tuple[int, int, str]] = []
    for index, line in enumerate(doc.lines):
        heading = atx_heading(doc, index)
        if heading is not None:
            found.append((index, heading[0], heading[1]))
            continue
        if (
            index + 1 < len(doc.lines)
            and not doc.fenced[index]
            and not doc.fenced[index + 1]
            and line.strip()
            and (index == 0 or not doc.lines[index - 1].strip())
            and re.match(r"^ {0,3}(?:=+|-{2,})[ \t]*$", doc.lines[index + 1])
            and not LIST_ITEM.match(line)
            and not line.startswith("    ")
        ):
            level = 1 if "=" in doc.lines[index + 1] else 2
            found.append((index, level, line.strip()))
    return found


def placeholder_of(body: list[str], answer: str) -> str:
    """The placeholder that stood for an empty ``answer`` ("" when there was nothing)."""
    if answer:
        return ""
    said = " ".join(
        " ".join(line.split()) for line in body if line.strip() and not is_decoration(line)
    )
    said = clean_inline(html_to_text(said)) if said else ""
    return said[:60] if re.search(r"\w|\.\.\.|\u2026", said) and is_placeholder(said) else ""


def make_entry(doc: Doc, question: str, start: int, body: list[str], end: int) -> NoteEntry | None:
    text = question_text(question)
    if not re.search(r"\w", text):
        return None
    answer = clean_answer(body, unwrapped=doc.unwrapped)
    return NoteEntry(text, answer, start + 1, end + 1, placeholder_of(body, answer))


def _trim_end(doc: Doc, start: int, end: int) -> int:
    """``end`` moved back over blank lines, never before ``start``."""
    while end > start and not doc.lines[end].strip():
        end -= 1
    return end


def _text_below(doc: Doc, line: int) -> bool:
    """Whether the heading at ``line`` has text under it before the next heading."""
    for index in range(line + 1, min(line + 4, len(doc.lines))):
        if atx_heading(doc, index) is not None:
            return False
        if doc.lines[index].strip() and not re.match(
            r"^ {0,3}(?:=+|-{2,})[ \t]*$", doc.lines[index]
        ):
            return True
    return False


def _question_headings(
    doc: Doc, headings: list[tuple[int, int, str]], forced: bool, every: bool = False
) -> set[int]:
    """The lines of the headings that are questions (see :func:`parse_headings`). ``every``:
    also every other heading with text under it at the levels of those (or, where none asks,
    at the level forcing would choose)."""
    if every:
        asked = _question_headings(doc, headings, forced)
        levels = {level for line, level, _ in headings if line in asked}
        if not levels:
            levels = {
                level
                for line, level, _ in headings
                if line in _question_headings(doc, headings, True)
            }
        return asked | {
            line for line, level, _ in headings if level in levels and _text_below(doc, line)
        }
    by_level: dict[int, list[tuple[int, int, str]]] = {}
    for heading in headings:
        by_level.setdefault(heading[1], []).append(heading)
    strength = {line: question_strength(text) for line, _, text in headings}
    if forced:
        # Every heading of one level: the level with the most headings that read as
        # questions, else the one with the most headings with text under them.
        def score(level: int) -> tuple[int, int]:
            group = by_level[level]
            return (
                sum(1 for line, _, _ in group if strength[line]),
                sum(1 for line, _, _ in group if _text_below(doc, line)),
            )

        chosen = max(sorted(by_level), key=score)
        return {line for line, _, _ in by_level[chosen]}
    any_strong = any(s == 2 for s in strength.values())
    lines: set[int] = set()
    for group in by_level.values():
        strengths = [strength[line] for line, _, _ in group]
        if not level_questions(strengths):
            continue
        # A heading that only reads as a question ("When it helps") counts where its level
        # has a clear question too, or where the document has none at all.
        level_strong = any(s == 2 for s in strengths)
        lines.update(
            line
            for (line, _, _), s in zip(group, strengths, strict=True)
            if s == 2 or (s == 1 and (level_strong or not any_strong))
        )
    # A heading under a question heading is part of its answer unless it clearly asks one.
    enclosing: list[int] = []  # levels of the question headings the current one is under
    for line, level, _ in headings:
        while enclosing and enclosing[-1] >= level:
            enclosing.pop()
        if line in lines and enclosing and strength[line] < 2:
            lines.discard(line)
        if line in lines:
            enclosing.append(level)
    return lines


def parse_headings(doc: Doc, *, forced: bool = False, every: bool = False) -> list[NoteEntry]:
    """A heading per question; its answer runs to the next heading of its level or above, or
    the next question heading. Forced: every heading of one level (the one that asks the
    most, else the one with the most text under its headings). ``every``
    (--questions-from-headings): every heading with text under it at a level that asks."""
    headings = headings_of(doc)
    if not headings:
        return []
    question_lines = _question_headings(doc, headings, forced, every)
    entries: list[NoteEntry] = []
    for position, (line, level, text) in enumerate(headings):
        if line not in question_lines:
            continue
        end = len(doc.lines) - 1
        for later_line, later_level, _ in headings[position + 1 :]:
            if later_level <= level or later_line in question_lines:
                end = later_line - 1
                break
        first = line + (2 if atx_heading(doc, line) is None else 1)
        end = _trim_end(doc, line, doc.stop_before(line, end))
        entry = make_entry(doc, text, line, doc.lines[first : end + 1], end)
        if entry is not None:
            entries.append(entry)
    return entries


_DETAILS_OPEN = re.compile(r"<details\b[^>]*>", re.IGNORECASE)
_DETAILS_TAG = re.compile(r"<(/?)details\b[^>]*>", re.IGNORECASE)
_SUMMARY = re.compile(r"^\s*<summary\b[^>]*>([\s\S]*?)</summary\s*>", re.IGNORECASE)


def parse_details(doc: Doc) -> list[NoteEntry]:
    """``<details>`` blocks: the summary is the question (or, when it only says "Answer", the
    line above the block is), the rest of the block the answer."""
    text = doc.text
    entries: list[NoteEntry] = []
    position = 0
    while True:
        opened = _DETAILS_OPEN.search(text, position)
        if opened is None:
            break
        if doc.fenced[doc.line_at(opened.start())]:
            position = opened.end()
            continue
        depth, cursor, close_start, close_end = 1, opened.end(), len(text), len(text)
        for tag in _DETAILS_TAG.finditer(text, opened.end()):
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                close_start, close_end, cursor = tag.start(), tag.end(), tag.end()
                break
        else:
            cursor = len(text)
        inner = text[opened.end() : close_start]
        position = max(cursor, opened.end())
        summary = _SUMMARY.match(inner)
        start_line = doc.line_at(opened.start())
        end_line = doc.line_at(max(close_end - 1, opened.start()))
        if summary is None:
            continue
        question = clean_inline(html_to_text(summary.group(1)).replace("\n", " "))
        body = html_to_text(inner[summary.end() :])
        if question_strength(question) < 2 and (is_toggle(question) or not question):
            above = _line_above(doc, start_line, opened.start())
            if above is None:
                continue
            question, start_line = above
        if not re.search(r"\w", question_text(question)):
            continue
        answer = clean_answer(body.split("\n"), unwrapped=doc.unwrapped)
        entries.append(
            NoteEntry(
                question_text(question),
                answer,
                start_line + 1,
                end_line + 1,
                placeholder_of(body.split("\n"), answer) or ("" if answer else EMPTY_BLOCK),
            )
        )
    return entries


def _line_above(doc: Doc, line: int, offset: int) -> tuple[str, int] | None:
    """The question a "Show answer" block belongs to: the text before the block on its own
    line, or the nearest non-blank line above it (a heading, a list item, a paragraph)."""
    before = doc.text[doc.offsets[line] : offset]
    candidate = _strip_structure(before)
    if re.search(r"\w", candidate):
        return candidate, line
    index = line - 1
    while index >= 0 and not doc.lines[index].strip():
        index -= 1
    if index < 0 or "</details>" in doc.lines[index].lower():
        return None
    candidate = _strip_structure(doc.lines[index])
    return (candidate, index) if re.search(r"\w", candidate) else None


def _strip_structure(line: str) -> str:
    """A line without its heading hashes, list marker or quote mark."""
    line = re.sub(r"^ {0,3}#{1,6}[ \t]+", "", line.strip())
    line = re.sub(r"^(?:>[ \t]*)+", "", line)
    match = LIST_ITEM.match(line)
    return (match.group("text") if match else line).strip()


_Q_LINE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+)?(?:>[ \t]*)?(?:[-*+][ \t]+)?(?:\d{1,3}[.)][ \t]+)?"
    r"(?P<open>\*\*|__|\*|_)?[ \t]*(?P<label>Q(?:uestion)?|Qn)[ \t]*(?P<num>#?\d{1,4}[a-z]?)?"
    r"[ \t]*(?:(?P=open)[ \t]*)?(?P<sep>[:.)]|[ \t][-\u2013\u2014](?=[ \t]))?[ \t]*(?:(?P=open))?",
    re.IGNORECASE,
)


def _q_line(doc: Doc, index: int) -> re.Match[str] | None:
    if doc.fenced[index]:
        return None
    match = _Q_LINE.match(doc.lines[index])
    if match is None:
        return None
    rest = doc.lines[index][match.end() :]
    if match.group("sep") is None:
        # "Question 3" alone on its line (the question follows), or "Q3 What is ...?"
        if not match.group("num") or (rest.strip() and not question_strength(rest)):
            return None
        if rest.strip() and not re.match(r"[ \t]", doc.lines[index][match.end() - 1 :]):
            return None  # "Q3x" is a word
        return match
    bare = match.group("sep") in (".", ")") and not (match.group("num") or match.group("open"))
    if bare and not rest.strip():
        return None  # "Q. What is ...?" is a question label; "Q." ending a sentence is not
    return match if re.search(r"\w", rest) or match.group("num") else None


def _ends_question(text: str) -> bool:
    return clean_inline(text).rstrip(" *_").endswith(("?", ":", "."))


def _after_label(lines: list[str], loose: bool) -> list[str]:
    """``lines`` with the "A:" label that starts the first one removed."""
    match = a_label(lines[0], loose=loose)
    if match is None:
        return lines
    return [lines[0][match.end() :], *lines[1:]]


def _split_question(
    lines: list[str], first: str, *, allow_inline: bool, loose: bool = False
) -> tuple[str, list[str], bool]:
    """Split a block that starts with a question into (question, answer lines, labelled): the
    question runs to an "A:" label, else to the end of its line ("?" or ":" ends it), else to
    the end of its paragraph (three lines at most)."""
    inline = INLINE_ANSWER.search(first)
    if inline is not None and inline.start() > 0 and re.search(r"\w", first[: inline.start()]):
        return first[: inline.start()], [first[inline.end() :], *lines], True
    question = [first]
    index = 0
    while index < len(lines):
        line = lines[index]
        if a_label(line, loose=loose):
            return " ".join(question), _after_label(lines[index:], loose), True
        if not line.strip() or is_toggle(line) or HR_LINE.match(line):
            break
        if _ends_question(" ".join(question)) or len(question) >= 3:
            break
        if LIST_ITEM.match(line) or _ATX.match(line) or line[:1].isspace():
            break
        question.append(line)
        index += 1
    rest = lines[index:]
    probe = index
    while probe < len(lines) and (not lines[probe].strip() or is_toggle(lines[probe])):
        probe += 1
    if probe < len(lines) and a_label(lines[probe], loose=loose):
        return " ".join(question), _after_label(lines[probe:], loose), True
    joined = " ".join(question)
    if allow_inline and not any(line.strip() for line in rest):
        # "Q: What is X? X is ..." on one line, with nothing after it: split at the "?".
        mark = joined.find("? ")
        remainder = joined[mark + 2 :].strip() if mark >= 0 else ""
        if remainder and len(remainder.split()) >= 3 and not remainder.rstrip().endswith("?"):
            return joined[: mark + 1], [remainder], False
    return joined, rest, False


def blocks(doc: Doc, starts: list[int], *, stop_at_heading: bool) -> list[tuple[int, int]]:
    """(first, last) line of each block: from a start to the line before the next one, or to
    a heading that ends it (a section heading; not an "Answer" heading, nor one deeper than the
    heading the question itself is on)."""
    blocks: list[tuple[int, int]] = []
    for position, start in enumerate(starts):
        limit = starts[position + 1] - 1 if position + 1 < len(starts) else len(doc.lines) - 1
        limit = doc.stop_before(start, limit)
        end = limit
        own = atx_heading(doc, start)
        if stop_at_heading:
            for index in range(start + 1, limit + 1):
                heading = atx_heading(doc, index)
                if heading is None or is_toggle(heading[1]):
                    continue
                if own is not None and heading[0] > own[0]:
                    continue
                end = index - 1
                break
        blocks.append((start, _trim_end(doc, start, end)))
    return blocks


def parse_markers(doc: Doc) -> tuple[list[NoteEntry], int]:
    """Questions that start with a "Q:" / "Q1:" / "Question 2." label; the answer follows (after
    an "A:" label, a "Show answer" line, or directly). Also returns how many had an "A:"."""
    starts = [i for i in range(len(doc.lines)) if _q_line(doc, i) is not None]
    entries: list[NoteEntry] = []
    labelled = 0
    for start, end in blocks(doc, starts, stop_at_heading=True):
        match = _q_line(doc, start)
        assert match is not None
        first = doc.lines[start][match.end() :]
        body = doc.lines[start + 1 : end + 1]
        if not first.strip():  # "Question 3" on its own line: the question is the next one
            while body and not body[0].strip():
                body.pop(0)
            first, body = (body[0], body[1:]) if body else ("", [])
        question, answer, has_label = _split_question(body, first, allow_inline=True, loose=True)
        labelled += has_label
        entry = make_entry(doc, question, start, answer, end)
        if entry is not None:
            entries.append(entry)
    return entries, labelled


def parse_numbered(doc: Doc, *, forced: bool = False) -> list[NoteEntry]:
    """A list whose items are questions: the items at the list's outermost indentation that
    read as questions start blocks; each answer is what follows its item."""
    items: list[tuple[int, int, str]] = []
    for index, line in enumerate(doc.lines):
        if doc.fenced[index]:
            continue
        match = LIST_ITEM.match(line)
        if match is not None and len(match.group("indent")) <= 3 and not is_toc_item(line):
            items.append((index, len(match.group("indent")), match.group("text")))
    if not items:
        return []
    outer = min(indent for _, indent, _ in items)
    top = [(index, text) for index, indent, text in items if indent == outer]
    strengths = [question_strength(text) for _, text in top]
    if forced:
        starts = [index for index, _ in top]
    elif level_questions(strengths):
        starts = [index for (index, _), s in zip(top, strengths, strict=True) if s]
    else:
        return []
    entries: list[NoteEntry] = []
    for start, end in blocks(doc, starts, stop_at_heading=True):
        match = LIST_ITEM.match(doc.lines[start])
        assert match is not None
        question, answer, _ = _split_question(
            doc.lines[start + 1 : end + 1], match.group("text"), allow_inline=True
        )
        entry = make_entry(doc, question, start, answer, end)
        if entry is not None:
            entries.append(entry)
    return entries
