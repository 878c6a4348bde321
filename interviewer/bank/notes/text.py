"""The text of a notes file: normalised, its inline markup and HTML cleaned, its code blocks
and inline lists restored, before and after the layouts read it (:mod:`.layouts`)."""

from __future__ import annotations

import html
import re

from interviewer.bank.notes.markup import drop_decoration, is_placeholder, strip_markers
from interviewer.textutil import strip_control

LIST_ITEM = re.compile(
    r"^(?P<indent>[ \t]*)(?P<marker>[-*+\u2022]|\(?\d{1,3}[.)])[ \t]+(?P<text>.*)$"
)

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

_SOME = r"(?:some|a|an|the|two|three|four|five|few|several|different|various|common|main|key|"
_SOME += r"popular|all|any|typical|important|\d+|at\s+least|one)"
_QUESTION_WORDS = (
    r"what|what's|whats|why|how|how's|when|where|which|who|whom|whose|explain|describe|compare|"
    r"contrast|define|discuss|outline|summari[sz]e|walk\s+(?:me|us)\s+through|tell\s+(?:me|us)|"
    r"derive|implement|distinguish|differentiate|illustrate|calculate|estimate|suppose|imagine|"
    r"elaborate|justify|interpret|evaluate|analy[sz]e|clarify|demonstrate|"
    r"can\s+you|could\s+you|would\s+you|should\s+you|do\s+you|have\s+you|"
    r"give\s+an?\s+example|difference\s+between|differences\s+between|pros\s+and\s+cons|"
    r"(?:advantages|disadvantages|benefits|drawbacks|limitations)\s+(?:and\s+\w+\s+)?of|"
    rf"(?:name|list|give|state|mention|identify|enumerate|provide|suggest|propose)\s+{_SOME}|"
    r"(?:write|design|build|sketch|draw|code)\s+(?:a|an|the|some)|"
    r"(?:show|prove)\s+(?:that|how|why)"
)
QUESTION_START = re.compile(rf"^(?:{_QUESTION_WORDS})\b", re.IGNORECASE)
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


_NUMBERING = re.compile(r"^(?:\(?\d{1,3}[.)][ \t]+)?(?:#{1,6}[ \t]+)?")
"""A question's number, and a heading's hashes after it ("1. ### What is X?" in a list)."""


def question_text(raw: str) -> str:
    """A question as the interviewer asks it: its "Q1:" label or "3." number, the markers
    around it (an emoji for its difficulty, a link to its source) and markup removed."""
    text = clean_inline(strip_markers(raw))
    text = strip_markers(text)
    text = _NUMBERING.sub("", text, count=1)
    text = _Q_LABEL.sub("", text, count=1)
    return clean_inline(text)


def question_strength(text: str) -> int:
    """2: clearly a question (ends with "?" or carries a "Q:" label); 1: reads as one (starts
    with what / how / explain / compare ...); 0: not a question."""
    plain = _NUMBERING.sub("", strip_markers(clean_inline(strip_markers(text))), count=1)
    if _Q_LABEL.match(plain) and len(plain) > 3:
        return 2
    core = plain.rstrip(" :*_")
    if core.endswith("?") and re.search(r"[^\W\d_]{2}", core):
        return 2
    if QUESTION_START.match(plain):
        return 1
    return 0


def level_questions(strengths: list[int]) -> bool:
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
INLINE_ANSWER = re.compile(
    r"(?:(?<=\s)|(?<=\*\*)|(?<=__))(?P<open>\*\*|__)?(?P<label>A|Ans|Answer)(?:\*\*|__)?[ \t]*:"
    r"(?:\*\*|__)?[ \t]*",
    re.IGNORECASE,
)
HR_LINE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|={3,})$")
_NAV = re.compile(
    r"^[\W_]*(?:back\s+to\s+(?:top|contents|index|the\s+top)|top|previous|next|prev|home|"
    r"table\s+of\s+contents|edit\s+(?:this\s+)?(?:page|on\s+github))\b.{0,60}$",
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
        if LIST_ITEM.match(line):
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
    lines = drop_decoration([line.rstrip() for line in lines], fenced_lines(lines))
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
        if not last or HR_LINE.match(last) or _is_nav(last):
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
    if is_placeholder(text) or not re.search(r"\w", text):
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
