"""Read a notes file of questions and answers: its layout, and each question with its answer.

People keep interview notes in a few layouts, and each has a parser here:

* ``details``: GitHub-style ``<details><summary>question</summary>answer</details>`` blocks (a
  summary that only says "Answer" takes its question from the line above the block);
* ``qa``: "Q: ... A: ..." pairs (also ``**Q:**`` / ``**A:**``, "Question:" / "Answer:", on one
  line or several);
* ``course``: numbered questions ("Q1: ...", "Question 3." ...), each followed by its answer,
  with or without a "Show answer" line between them (course pages copied from a browser);
* ``headings``: a Markdown heading per question ("## What is ...?"), the answer below it;
* ``numbered``: a numbered (or bulleted) list of questions, each answer below its item;
* ``lines``: questions on lines of their own, ending in "?", each followed by its answer.

Detection tries them in that order (the most explicit structure first) and keeps the first that
finds answered questions, unless a later one finds more questions outside those answers (a
"## What to revise" heading must not swallow the numbered questions under it). Text in fenced
code blocks is never read as structure. Nothing here invents an answer: a question whose answer
is empty (or a placeholder such as "TODO") is kept with an empty answer, for the importer to
report and skip.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from interviewer.textutil import strip_control

LAYOUTS: dict[str, str] = {
    "details": "<details><summary>question</summary> answer </details> blocks",
    "qa": "Q: ... A: ... pairs (also **Q:** / **A:**, Question: / Answer:)",
    "course": "numbered questions (Q1: ...), each followed by its answer (a 'Show answer' line "
    "between them is dropped)",
    "headings": "a Markdown heading per question (## What is ...?), the answer below it",
    "numbered": "a numbered or bulleted list of questions (1. What is ...?), the answer below "
    "each item",
    "lines": "questions on lines of their own ending in '?', each followed by its answer",
}
"""Every layout, in the order detection tries them, with what it looks like."""


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


@dataclass(frozen=True)
class ParsedNotes:
    """What a notes file holds: its layout, its title if it has one, and its questions."""

    layout: str
    title: str | None
    entries: tuple[NoteEntry, ...]
    tried: tuple[str, ...]
    """The layouts that were tried (all of them unless one was forced)."""

    @property
    def answered(self) -> list[NoteEntry]:
        return [e for e in self.entries if e.answer]

    @property
    def unanswered(self) -> list[NoteEntry]:
        return [e for e in self.entries if not e.answer]


# ----------------------------------------------------------------------------- the text


_SURROGATES = re.compile("[\ud800-\udfff]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_PILCROW = re.compile(r"[ \t]*[\u00b6\u00a7]+[ \t]*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--[\s\S]*?(?:-->|\Z)")


def normalize(text: str) -> str:
    """The text with line ends unified, invisible and control characters dropped, tabs
    expanded, and the permalink marks pages copied from a browser carry ("¶") removed.
    HTML comments are blanked line for line, so line numbers stay those of the file."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = _SURROGATES.sub("\ufffd", text)
    text = _INVISIBLE.sub("", text)
    text = strip_control(text).replace("\u00a0", " ").expandtabs(4)
    text = _COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text)
    return _PILCROW.sub("", text)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def fenced_lines(lines: list[str]) -> list[bool]:
    """Which lines belong to a fenced code block (the fences included)."""
    inside: list[bool] = []
    fence = ""
    for line in lines:
        match = _FENCE.match(line)
        if fence:
            inside.append(True)
            closes = match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)
            if closes and not line.strip().strip(fence[0]):
                fence = ""
        elif match:
            fence = match.group(1)
            inside.append(True)
        else:
            inside.append(False)
    return inside


# ----------------------------------------------------------------------------- questions

_QUESTION_WORDS = (
    r"what|what's|whats|why|how|how's|when|where|which|who|whom|whose|explain|describe|compare|"
    r"contrast|define|discuss|outline|summari[sz]e|walk\s+(?:me|us)\s+through|tell\s+(?:me|us)|"
    r"derive|implement|distinguish|differentiate|illustrate|calculate|estimate|suppose|imagine|"
    r"give\s+an?\s+example|name\s+(?:some|a|the|two|three)|list\s+(?:some|the|two|three)"
)
_QUESTION_START = re.compile(rf"^(?:{_QUESTION_WORDS})\b", re.IGNORECASE)
_Q_LABEL = re.compile(
    r"^(?:Q|Question|Qn)[ \t]*(?:#?\d{1,4}[a-z]?)?[ \t]*(?:[:.)]|[ \t][-\u2013\u2014])[ \t]*",
    re.IGNORECASE,
)
_EMPHASIS_EDGES = re.compile(r"^(?:\*\*|__|\*|_)+|(?:\*\*|__|\*|_)+$")
_LINK = re.compile(r"!?\[([^\[\]\n]*)\]\([^)\n]*\)")  # no "[" inside: linear on "[[[[..."
_HTML_INLINE = re.compile(
    r"</?(?:b|strong|i|em|u|span|code|kbd|mark|small|sup|sub|a|font|br|p|div)\b[^>]*>",
    re.IGNORECASE,
)


def clean_inline(text: str) -> str:
    """One line of text as plain as it reads: links as their text, inline HTML tags and the
    emphasis around the whole line dropped, whitespace collapsed."""
    text = _LINK.sub(r"\1", text)
    text = _HTML_INLINE.sub("", text)
    text = html.unescape(text) if "&" in text else text
    text = " ".join(text.split())
    previous = None
    while previous != text:
        previous = text
        text = _EMPHASIS_EDGES.sub("", text).strip()
    return text


_NUMBERING = re.compile(r"^\(?\d{1,3}[.)][ \t]+")


def question_text(raw: str) -> str:
    """A question as the interviewer asks it: its "Q1:" label or "3." number and markup
    removed."""
    text = clean_inline(raw)
    text = _NUMBERING.sub("", text, count=1)
    text = _Q_LABEL.sub("", text, count=1)
    return clean_inline(text)


def question_strength(text: str) -> int:
    """2: clearly a question (ends with "?" or carries a "Q:" label); 1: reads as one (starts
    with what / how / explain / compare ...); 0: not a question."""
    plain = _NUMBERING.sub("", clean_inline(text), count=1)
    if _Q_LABEL.match(plain) and len(plain) > 3:
        return 2
    core = plain.rstrip(" :*_")
    if core.endswith("?") and re.search(r"[^\W\d_]{2}", core):
        return 2
    if _QUESTION_START.match(plain):
        return 1
    return 0


def _level_questions(strengths: list[int]) -> bool:
    """Whether a group of lines (headings of one level, items of one list) are questions: one
    clearly is, or at least two read as questions and they are at least half of the group."""
    strong = sum(s == 2 for s in strengths)
    some = sum(s > 0 for s in strengths)
    return strong >= 1 or (some >= 2 and 2 * some >= len(strengths))


# ----------------------------------------------------------------------------- answers

_TOGGLE = re.compile(
    r"^[\W_]*(?:(?:click|tap)\s+(?:here\s+)?to\s+)?(?:show|hide|reveal|view|see|toggle|expand|"
    r"open)?\s*(?:the\s+)?(?:answers?|solutions?|explanations?|details)?[\W_]*$",
    re.IGNORECASE,
)


def is_toggle(line: str) -> bool:
    """A "Show answer" / "Answer" / "Click to expand" line between a question and its answer."""
    stripped = line.strip()
    return (
        0 < len(stripped) <= 40
        and re.search(r"[^\W\d_]", stripped) is not None
        and _TOGGLE.match(stripped) is not None
    )


_A_LABEL = re.compile(
    r"^[ \t]*(?:[-*+>][ \t]+)?(?P<open>\*\*|__)?[ \t]*(?P<label>A|Ans|Answer)[ \t]*"
    r"(?:#?\d{1,4})?[ \t]*(?P<close>\*\*|__)?[ \t]*(?P<sep>[:.)])[ \t]*(?:\*\*|__)?",
    re.IGNORECASE,
)
_INLINE_A = re.compile(
    r"(?:(?<=\s)|(?<=\*\*)|(?<=__))(?P<open>\*\*|__)?(?P<label>A|Ans|Answer)(?:\*\*|__)?[ \t]*:"
    r"(?:\*\*|__)?[ \t]*",
    re.IGNORECASE,
)
_HR = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|={3,})$")
_NAV = re.compile(
    r"^[\W_]*(?:back\s+to\s+(?:top|contents|index|the\s+top)|top|previous|next|prev|home|"
    r"table\s+of\s+contents|edit\s+(?:this\s+)?(?:page|on\s+github))\b.{0,60}$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(  # one [\W_]* after the word, not two in a row: linear, not quadratic
    r"^[\W_]*(?:(?:todo|tbd|tbc|tba|fixme|xxx|n/?a|none|nil|null|answer|coming\s+soon|"
    r"to\s+do|to\s+be\s+(?:done|written|added))[\W_]*)?$",
    re.IGNORECASE,
)
_INLINE_LIST = re.compile(r"(?<=\S)[ \t]+-[ \t]+(?=\S)")


def a_label(line: str, *, loose: bool = False) -> re.Match[str] | None:
    """The "A:" (or "**Answer:**", "Answer.") that starts ``line``, if one does. A bare "A."
    or "A)" is a list letter, not an answer label, unless ``loose`` (right after a "Q." label)."""
    match = _A_LABEL.match(line)
    if match is None:
        return None
    bold = bool(match.group("open") or match.group("close"))
    letter = match.group("sep") != ":" and not bold and match.group("label").lower() == "a"
    if letter and not loose:
        return None
    return match


def _is_nav(line: str) -> bool:
    """A navigation line of a copied page: "Back to top", "Previous | Next", a breadcrumb of
    paths ("06-exercises | ../Day-05/00-agenda")."""
    stripped = clean_inline(line)
    if not stripped:
        return False
    if _NAV.match(stripped):
        return True
    if stripped.startswith("|") or "|" not in stripped:
        return False
    parts = [p.strip() for p in stripped.split("|")]
    return len(parts) >= 2 and all(p and " " not in p and p[-1] not in ".?!" for p in parts)


def expand_inline_lists(line: str) -> list[str]:
    """A list flattened into one line ("Label: - one - two - three", as a copied web page
    has it) as its lead-in and one "- item" line per item; other lines unchanged."""
    lead, colon, rest = line.partition(": - ")
    if not colon:
        stripped = line.lstrip()
        if stripped.startswith("- ") and len(_INLINE_LIST.findall(stripped[2:])) >= 2:
            indent = line[: len(line) - len(stripped)]
            return [f"{indent}- {item.strip()}" for item in _INLINE_LIST.split(stripped[2:])]
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    items = [item.strip() for item in _INLINE_LIST.split(rest) if item.strip()]
    return [lead + ":", *(f"{indent}- {item}" for item in items)]


_CODE_START = re.compile(
    r"^\s*(?:(?:def|class|import|from|return|for|while|if|elif|else|try|except|finally|with|"
    r"print|lambda|yield|raise|assert|async|await|pip|python|git|docker|curl|export|cd|sudo|"
    r"conda|npm|torchrun|accelerate|huggingface-cli)\b|[\w.\[\]\"']+\s*(?:=|\+=|-=|\*=)\s*\S|"
    r"[\w.]+\([^)]*\)?[,):]?\s*(?:#.*)?$|[)\]}]+[,;:]?\s*$|[\w.]+\s*,\s*(?:#.*)?$|>>>|\$\s)"
)


def looks_like_code(line: str) -> bool:
    """A line of code pasted without a fence: an assignment, a call, a statement keyword, a
    closing bracket; not a sentence (five plain words or more before any comment)."""
    if not _CODE_START.match(line):
        return False
    before_comment = re.split(r"\s#\s", line, maxsplit=1)[0]
    words = [w for w in before_comment.split() if re.fullmatch(r"[A-Za-z]+[,.;:]?", w)]
    return len(words) < 5


def _starts_upper(line: str) -> bool:
    text = clean_inline(line)
    return bool(text) and (text[0].isupper() or text[0] in "`*_[(\"'")


def restore_blocks(lines: list[str], *, unwrapped: bool = False) -> list[str]:
    """Lines with a blank line between blocks, so the answer renders as it reads: before and
    after a list, a table or a code block (a list item's continuation, indented or starting in
    lowercase, stays with it). ``unwrapped``: the notes were written one paragraph per line (a
    page copied from a browser), so every line is a paragraph, and pasted code lines are
    fenced. Only line breaks are added: the words stay as written."""
    fences = fenced_lines(lines)
    out: list[str] = []
    last = ""
    index = 0

    def emit(line: str, kind: str) -> None:
        nonlocal last
        if last and last != "blank" and kind != "blank" and separate(last, kind, line):
            out.append("")
        out.append(line)
        last = kind

    def separate(before: str, kind: str, line: str) -> bool:
        if before == kind == "fence" or kind == "continuation":
            return False
        if before == kind and kind in ("item", "table"):
            return False
        if before in ("item", "continuation") and kind == "text":
            return _starts_upper(line)
        if before == kind == "text":
            return unwrapped
        return True

    while index < len(lines):
        line = lines[index]
        if fences[index]:
            emit(line, "fence")
            index += 1
            continue
        if not line.strip():
            emit(line, "blank")
            index += 1
            continue
        if _LIST_ITEM.match(line):
            emit(line, "item")
        elif line.lstrip().startswith("|") and line.count("|") >= 2:
            emit(line, "table")
        elif unwrapped and looks_like_code(line):
            block = [line]
            while index + 1 < len(lines) and lines[index + 1].strip() and not fences[index + 1]:
                following = lines[index + 1]
                if not (
                    looks_like_code(following)
                    or block[-1].rstrip().endswith(("(", ",", "[", "{", ":"))
                ):
                    break
                block.append(following)
                index += 1
            emit("```", "fence")
            for code in block:
                out.append(code)
            out.append("```")
            last = "code-end"
        elif line[:1].isspace() and last in ("item", "continuation"):
            emit(line, "continuation")
        else:
            emit(line, "text")
        index += 1
    return out


def clean_answer(lines: list[str], *, unwrapped: bool = False) -> str:
    """An answer's lines as its text: a leading "Show answer" toggle or "A:" label, trailing
    rules and navigation lines, the common indentation and surrounding blank lines removed;
    flattened inline lists restored, blocks set apart (:func:`restore_blocks`); "" for a
    placeholder such as "TODO"."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and is_toggle(lines[0]):
        lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
    if lines:
        match = a_label(lines[0])
        if match is not None:
            indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
            lines[0] = indent + lines[0][match.end() :].strip()
    changed = True
    while changed and lines:
        changed = False
        last = lines[-1].strip()
        if not last or _HR.match(last) or _is_nav(last):
            lines.pop()
            changed = True
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    fences = fenced_lines(lines)
    expanded: list[str] = []
    for line, fenced in zip(lines, fences, strict=True):
        expanded.extend([line] if fenced else expand_inline_lists(line))
    margin = min((len(line) - len(line.lstrip()) for line in expanded if line.strip()), default=0)
    text_lines = restore_blocks([line[margin:] for line in expanded], unwrapped=unwrapped)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(text_lines)).strip()
    if _PLACEHOLDER.match(text) or not re.search(r"\w", text):
        return ""
    return text


# ----------------------------------------------------------------------------- HTML


_HTML_BLOCKS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<br\s*/?>", re.IGNORECASE), "\n"),
    (re.compile(r"</?p\b[^>]*>", re.IGNORECASE), "\n\n"),
    (re.compile(r"<li\b[^>]*>", re.IGNORECASE), "\n- "),
    (re.compile(r"</li>|</?[uo]l\b[^>]*>|</?div\b[^>]*>", re.IGNORECASE), "\n"),
    (re.compile(r"<pre\b[^>]*>\s*(?:<code\b[^>]*>)?", re.IGNORECASE), "\n```\n"),
    (re.compile(r"(?:</code>\s*)?</pre>", re.IGNORECASE), "\n```\n"),
    (re.compile(r"</?code\b[^>]*>", re.IGNORECASE), "`"),
    (re.compile(r"</?(?:b|strong)\b[^>]*>", re.IGNORECASE), "**"),
    (re.compile(r"</?details\b[^>]*>|<summary\b[^>]*>", re.IGNORECASE), ""),
    (re.compile(r"</summary\s*>", re.IGNORECASE), "\n"),
    (
        re.compile(
            r"</?(?:i|em|u|span|a|font|small|mark|kbd|sup|sub|blockquote|h[1-6]|table|thead|"
            r"tbody|tr|td|th|img|hr|center|section|dl|dt|dd)\b[^>]*>",
            re.IGNORECASE,
        ),
        "",
    ),
]


def html_to_text(fragment: str) -> str:
    """HTML as a notes page writes it inside a ``<details>`` block, as Markdown-ish text: line
    breaks, paragraphs, list items and code kept; other known tags dropped. Text that only
    looks like a tag (``<|im_start|>``, ``List<int>``) stays."""
    for pattern, replacement in _HTML_BLOCKS:
        fragment = pattern.sub(replacement, fragment)
    return html.unescape(fragment)


# ----------------------------------------------------------------------------- parsers


@dataclass(frozen=True)
class _Doc:
    lines: list[str]
    fenced: list[bool]
    offsets: list[int]
    """The offset in ``text`` where each line starts."""
    text: str
    unwrapped: bool
    """One paragraph per line (long lines): a page copied from a browser, not wrapped Markdown."""

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


def _doc(text: str) -> _Doc:
    lines = text.split("\n")
    offsets: list[int] = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    fenced = fenced_lines(lines)
    return _Doc(lines, fenced, offsets, text, _unwrapped(lines, fenced))


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
        and not _LIST_ITEM.match(line)
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


def _atx(doc: _Doc, index: int) -> tuple[int, str] | None:
    if doc.fenced[index]:
        return None
    match = _ATX.match(doc.lines[index])
    if match is None:
        return None
    return len(match.group(1)), (match.group(2) or "").strip()


def _headings(doc: _Doc) -> list[tuple[int, int, str]]:
    """(line, level, text) of each ATX heading and setext heading (a one-line paragraph
    underlined with === or ---)."""
    found: list[tuple[int, int, str]] = []
    for index, line in enumerate(doc.lines):
        heading = _atx(doc, index)
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
            and not _LIST_ITEM.match(line)
            and not line.startswith("    ")
        ):
            level = 1 if "=" in doc.lines[index + 1] else 2
            found.append((index, level, line.strip()))
    return found


def _entry(doc: _Doc, question: str, start: int, body: list[str], end: int) -> NoteEntry | None:
    text = question_text(question)
    if not re.search(r"\w", text):
        return None
    return NoteEntry(text, clean_answer(body, unwrapped=doc.unwrapped), start + 1, end + 1)


def _trim_end(doc: _Doc, start: int, end: int) -> int:
    """``end`` moved back over blank lines, never before ``start``."""
    while end > start and not doc.lines[end].strip():
        end -= 1
    return end


def _text_below(doc: _Doc, line: int) -> bool:
    """Whether the heading at ``line`` has text under it before the next heading."""
    for index in range(line + 1, min(line + 4, len(doc.lines))):
        if _atx(doc, index) is not None:
            return False
        if doc.lines[index].strip() and not re.match(
            r"^ {0,3}(?:=+|-{2,})[ \t]*$", doc.lines[index]
        ):
            return True
    return False


def _question_headings(doc: _Doc, headings: list[tuple[int, int, str]], forced: bool) -> set[int]:
    """The lines of the headings that are questions (see :func:`parse_headings`)."""
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
        if not _level_questions(strengths):
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


def parse_headings(doc: _Doc, *, forced: bool = False) -> list[NoteEntry]:
    """A heading per question; its answer runs to the next heading of its level or above, or
    the next question heading. Forced: every heading of one level (the one that asks the
    most, else the one with the most text under its headings)."""
    headings = _headings(doc)
    if not headings:
        return []
    question_lines = _question_headings(doc, headings, forced)
    entries: list[NoteEntry] = []
    for position, (line, level, text) in enumerate(headings):
        if line not in question_lines:
            continue
        end = len(doc.lines) - 1
        for later_line, later_level, _ in headings[position + 1 :]:
            if later_level <= level or later_line in question_lines:
                end = later_line - 1
                break
        first = line + (2 if _atx(doc, line) is None else 1)
        end = _trim_end(doc, line, end)
        entry = _entry(doc, text, line, doc.lines[first : end + 1], end)
        if entry is not None:
            entries.append(entry)
    return entries


_DETAILS_OPEN = re.compile(r"<details\b[^>]*>", re.IGNORECASE)
_DETAILS_TAG = re.compile(r"<(/?)details\b[^>]*>", re.IGNORECASE)
_SUMMARY = re.compile(r"^\s*<summary\b[^>]*>([\s\S]*?)</summary\s*>", re.IGNORECASE)


def parse_details(doc: _Doc) -> list[NoteEntry]:
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
        entries.append(
            NoteEntry(
                question_text(question),
                clean_answer(body.split("\n"), unwrapped=doc.unwrapped),
                start_line + 1,
                end_line + 1,
            )
        )
    return entries


def _line_above(doc: _Doc, line: int, offset: int) -> tuple[str, int] | None:
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


_LIST_ITEM = re.compile(
    r"^(?P<indent>[ \t]*)(?P<marker>[-*+\u2022]|\(?\d{1,3}[.)])[ \t]+(?P<text>.*)$"
)


def _strip_structure(line: str) -> str:
    """A line without its heading hashes, list marker or quote mark."""
    line = re.sub(r"^ {0,3}#{1,6}[ \t]+", "", line.strip())
    line = re.sub(r"^(?:>[ \t]*)+", "", line)
    match = _LIST_ITEM.match(line)
    return (match.group("text") if match else line).strip()


_Q_LINE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+)?(?:>[ \t]*)?(?:[-*+][ \t]+)?(?:\d{1,3}[.)][ \t]+)?"
    r"(?P<open>\*\*|__|\*|_)?[ \t]*(?P<label>Q(?:uestion)?|Qn)[ \t]*(?P<num>#?\d{1,4}[a-z]?)?"
    r"[ \t]*(?:(?P=open)[ \t]*)?(?P<sep>[:.)]|[ \t][-\u2013\u2014](?=[ \t]))?[ \t]*(?:(?P=open))?",
    re.IGNORECASE,
)


def _q_line(doc: _Doc, index: int) -> re.Match[str] | None:
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
    inline = _INLINE_A.search(first)
    if inline is not None and inline.start() > 0 and re.search(r"\w", first[: inline.start()]):
        return first[: inline.start()], [first[inline.end() :], *lines], True
    question = [first]
    index = 0
    while index < len(lines):
        line = lines[index]
        if a_label(line, loose=loose):
            return " ".join(question), _after_label(lines[index:], loose), True
        if not line.strip() or is_toggle(line) or _HR.match(line):
            break
        if _ends_question(" ".join(question)) or len(question) >= 3:
            break
        if _LIST_ITEM.match(line) or _ATX.match(line) or line[:1].isspace():
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


def _blocks(doc: _Doc, starts: list[int], *, stop_at_heading: bool) -> list[tuple[int, int]]:
    """(first, last) line of each block: from a start to the line before the next one, or to
    a heading that ends it (a section heading; not an "Answer" heading, nor one deeper than the
    heading the question itself is on)."""
    blocks: list[tuple[int, int]] = []
    for position, start in enumerate(starts):
        limit = starts[position + 1] - 1 if position + 1 < len(starts) else len(doc.lines) - 1
        end = limit
        own = _atx(doc, start)
        if stop_at_heading:
            for index in range(start + 1, limit + 1):
                heading = _atx(doc, index)
                if heading is None or is_toggle(heading[1]):
                    continue
                if own is not None and heading[0] > own[0]:
                    continue
                end = index - 1
                break
        blocks.append((start, _trim_end(doc, start, end)))
    return blocks


def parse_markers(doc: _Doc) -> tuple[list[NoteEntry], int]:
    """Questions that start with a "Q:" / "Q1:" / "Question 2." label; the answer follows (after
    an "A:" label, a "Show answer" line, or directly). Also returns how many had an "A:"."""
    starts = [i for i in range(len(doc.lines)) if _q_line(doc, i) is not None]
    entries: list[NoteEntry] = []
    labelled = 0
    for start, end in _blocks(doc, starts, stop_at_heading=True):
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
        entry = _entry(doc, question, start, answer, end)
        if entry is not None:
            entries.append(entry)
    return entries, labelled


def parse_numbered(doc: _Doc, *, forced: bool = False) -> list[NoteEntry]:
    """A list whose items are questions: the items at the list's outermost indentation that
    read as questions start blocks; each answer is what follows its item."""
    items: list[tuple[int, int, str]] = []
    for index, line in enumerate(doc.lines):
        if doc.fenced[index]:
            continue
        match = _LIST_ITEM.match(line)
        if match is not None and len(match.group("indent")) <= 3:
            items.append((index, len(match.group("indent")), match.group("text")))
    if not items:
        return []
    outer = min(indent for _, indent, _ in items)
    top = [(index, text) for index, indent, text in items if indent == outer]
    strengths = [question_strength(text) for _, text in top]
    if forced:
        starts = [index for index, _ in top]
    elif _level_questions(strengths):
        starts = [index for (index, _), s in zip(top, strengths, strict=True) if s]
    else:
        return []
    entries: list[NoteEntry] = []
    for start, end in _blocks(doc, starts, stop_at_heading=True):
        match = _LIST_ITEM.match(doc.lines[start])
        assert match is not None
        question, answer, _ = _split_question(
            doc.lines[start + 1 : end + 1], match.group("text"), allow_inline=True
        )
        entry = _entry(doc, question, start, answer, end)
        if entry is not None:
            entries.append(entry)
    return entries


def parse_lines(doc: _Doc, *, forced: bool = False) -> list[NoteEntry]:
    """Questions on lines of their own: a line (not a heading or list item) that ends with "?"
    and is bold, starts with a question word, or starts its paragraph."""
    starts: list[int] = []
    for index, line in enumerate(doc.lines):
        stripped = line.strip()
        if (
            doc.fenced[index]
            or not stripped
            or _atx(doc, index) is not None
            or _LIST_ITEM.match(line)
            or stripped.startswith(("|", ">", "<"))
        ):
            continue
        plain = clean_inline(stripped)
        if not plain.endswith("?") or len(plain) > 300 or not re.search(r"[^\W\d_]{2}", plain):
            continue
        bold = stripped.startswith(("**", "__")) and stripped.rstrip(" :").endswith(("**", "__"))
        paragraph_start = index == 0 or not doc.lines[index - 1].strip()
        if forced or bold or _QUESTION_START.match(plain) or paragraph_start:
            starts.append(index)
    entries: list[NoteEntry] = []
    for start, end in _blocks(doc, starts, stop_at_heading=True):
        entry = _entry(doc, doc.lines[start], start, doc.lines[start + 1 : end + 1], end)
        if entry is not None:
            entries.append(entry)
    return entries


# ----------------------------------------------------------------------------- detection


def _parsers(labelled: list[int]) -> dict[str, Callable[[_Doc, bool], list[NoteEntry]]]:
    def markers(doc: _Doc, forced: bool) -> list[NoteEntry]:
        entries, count = parse_markers(doc)
        labelled.append(count)
        return entries

    return {
        "details": lambda doc, forced: parse_details(doc),
        "markers": markers,
        "headings": lambda doc, forced: parse_headings(doc, forced=forced),
        "numbered": lambda doc, forced: parse_numbered(doc, forced=forced),
        "lines": lambda doc, forced: parse_lines(doc, forced=forced),
    }


def _outside(entries: list[NoteEntry], spans: list[NoteEntry]) -> int:
    """How many answered ``entries`` start outside every span of ``spans``."""
    return sum(
        1
        for entry in entries
        if entry.answer and not any(s.line <= entry.line <= s.end for s in spans)
    )


def parse_notes(text: str, layout: str | None = None) -> ParsedNotes:
    """The questions of a notes document (see the module docstring). ``layout`` forces one of
    :data:`LAYOUTS`; otherwise it is detected. Never raises: a document with no question gives
    no entries (the importer says what was tried)."""
    doc = _doc(normalize(text))
    labelled: list[int] = []
    parsers = _parsers(labelled)
    if layout is not None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}")
        key = "markers" if layout in ("qa", "course") else layout
        entries = parsers[key](doc, True)
        return ParsedNotes(layout, _title(doc, entries), tuple(entries), (layout,))
    best_name, best = "", list[NoteEntry]()
    unanswered: tuple[str, list[NoteEntry]] | None = None  # questions, but no answers at all
    for name, parse in parsers.items():
        entries = parse(doc, False)
        answered = sum(1 for e in entries if e.answer)
        if entries and unanswered is None:
            unanswered = (name, entries)
        if not best_name:
            if answered:
                best_name, best = name, entries
            continue
        if _outside(entries, best) > sum(1 for e in best if e.answer):
            best_name, best = name, entries
    if not best_name and unanswered is not None:
        best_name, best = unanswered
    if best_name == "markers":
        best_name = "qa" if 2 * labelled[0] >= len(best) else "course"
    tried = tuple(LAYOUTS)
    return ParsedNotes(best_name or "none", _title(doc, best), tuple(best), tried)


def _title(doc: _Doc, entries: list[NoteEntry]) -> str | None:
    """The document's title: its front matter's ``title:``, else its first heading or short
    line before the first question, when that is not itself a question."""
    first_question = entries[0].line - 1 if entries else len(doc.lines)
    lines = doc.lines
    start = 0
    if lines and lines[0].strip() == "---":
        for index in range(1, min(len(lines), 60)):
            found = re.match(r"^title:\s*(.+)$", lines[index].strip())
            if found:
                title = clean_inline(found.group(1).strip("'\" "))
                if re.search(r"\w", title):
                    return title[:120]
            if lines[index].strip() in ("---", "..."):
                start = index + 1
                break
    for index in range(start, min(first_question, len(lines))):
        if doc.fenced[index] or not lines[index].strip():
            continue
        raw = lines[index].strip()
        heading = _atx(doc, index)
        candidate = clean_inline(heading[1] if heading is not None else raw)
        if (
            re.search(r"\w", candidate)
            and question_strength(candidate) == 0
            and len(candidate) <= 100
            and (heading is not None or not candidate.endswith((".", "?", "!", ":", ",")))
        ):
            return candidate
        return None
    return None


def first_lines(text: str, count: int = 5) -> list[str]:
    """The first ``count`` non-blank lines of ``text``, shortened, for an error message."""
    shown: list[str] = []
    for line in normalize(text).split("\n"):
        if line.strip():
            line = line.strip()
            shown.append(line if len(line) <= 100 else line[:99] + "…")
            if len(shown) == count:
                break
    return shown
