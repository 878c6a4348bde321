"""The decoration public question pages carry around their questions and answers, recognised so
that it is never read as a question nor kept in an answer:

* markers after (or before) a question: an emoji or symbol for its difficulty ("👶", "⭐️",
  "🚀", "🟢"), a difficulty word in brackets ("(Easy)", "[hard]", "- Medium"), a link to its
  source ("[[src]](url)", "[source](url)", "[🔗](url)");
* lines that are decoration: ``<br/>`` separators, images and badges, HTML blocks (a
  ``<table>`` disclaimer, a centred ``<p>``), a table of contents of links, a legend of markers;
* placeholders where an answer should be ("Answer here", "TODO", "TBD", "...").
"""

from __future__ import annotations

import re
import unicodedata

_DIFFICULTY = (
    r"(?:very\s+)?(?:easy|medium|moderate|intermediate|hard|advanced|expert|basic|beginner|"
    r"difficult|simple|tricky|junior|mid(?:-level)?|senior|staff|principal|l[3-7]|e[3-7])"
)
_DIFFICULTY_WORD = re.compile(_DIFFICULTY, re.IGNORECASE)
_TRAILING_LINKS = re.compile(
    r"(?:[ \t]*(?:\[\[[^\[\]\n]{0,40}\]\]|\[[^\[\]\n]{0,40}\])\([^()\s]*\)|"
    r"[ \t]*<a\b[^>]*>[^<]{0,40}</a>)+[ \t]*$",
    re.IGNORECASE,
)
_TRAILING_DIFFICULTY = re.compile(
    rf"[ \t]*(?:[(\[{{]\s*(?:difficulty\s*[:=]?\s*)?{_DIFFICULTY}\s*[)\]}}]|"
    rf"[-\u2013\u2014|:][ \t]*(?:difficulty\s*[:=]?\s*)?{_DIFFICULTY}|"
    rf"difficulty\s*[:=]\s*{_DIFFICULTY})[ \t]*$",
    re.IGNORECASE,
)
_LEADING_DIFFICULTY = re.compile(
    rf"^[ \t]*[(\[]\s*{_DIFFICULTY}\s*[)\]][ \t]*[-\u2013\u2014:]?[ \t]*", re.IGNORECASE
)


def _is_marker_char(char: str) -> bool:
    """An emoji, symbol, variation selector or joiner: what difficulty markers are made of."""
    if char in "\ufe0f\ufe0e\u200d\u20e3":
        return True
    if ord(char) < 0x2000:  # ASCII and Latin symbols ("`", "^", "°") are text
        return False
    category = unicodedata.category(char)
    return category in ("So", "Sk", "Cs", "Co") or (category == "Mn" and ord(char) > 0x2000)


def _strip_symbols_end(text: str) -> str:
    end = len(text)
    while end > 0 and (_is_marker_char(text[end - 1]) or text[end - 1] in " \t"):
        end -= 1
    return text[:end]


def _strip_symbols_start(text: str) -> str:
    start = 0
    while start < len(text) and (_is_marker_char(text[start]) or text[start] in " \t"):
        start += 1
    return text[start:]


def strip_markers(text: str) -> str:
    """``text`` without the markers pages put around a question (see the module docstring),
    at either end and inside the emphasis around it ("**What is X? 👶**")."""
    previous = None
    while previous != text:
        previous = text
        if text.endswith((")", ">")):  # the patterns scan from every position: only try
            text = _TRAILING_LINKS.sub("", text)  # them where the end can match
        text = _strip_symbols_end(text)
        if _DIFFICULTY_WORD.search(text[-40:]):
            text = _TRAILING_DIFFICULTY.sub("", text)
        text = _strip_symbols_start(text)
        if text.startswith(("(", "[")):
            text = _LEADING_DIFFICULTY.sub("", text)
        for mark in ("**", "__"):  # "**What is X? 👶**": the marker inside the emphasis
            if text.startswith(mark) and text.endswith(mark) and len(text) > 4:
                inner = text[2:-2]
                stripped = strip_markers(inner)
                if stripped != inner and stripped:
                    text = f"{mark}{stripped}{mark}"
    return text.strip()


# ----------------------------------------------------------------------------- decoration

_BR_LINE = re.compile(r"^\s*(?:<br\s*/?>|<hr\s*/?>|</?p>|&nbsp;|\s)+\s*$", re.IGNORECASE)
_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)|<img\b[^>]*>", re.I)
_BADGE = re.compile(r"\[\s*!\[[^\[\]\n]*\]\([^()\n]*\)\s*\]\([^()\n]*\)")
_LINK_ONLY = re.compile(
    r"^\s*(?:[-*+]|\d{1,3}[.)])?\s*(?:\*\*|__)?\[[^\]\n]*\]\([^)\n]*\)(?:\*\*|__)?\s*"
    r"(?:[\u00b7|\u2022,-]\s*\[[^\]\n]*\]\([^)\n]*\)\s*)*$"
)
_HTML_BLOCK_OPEN = re.compile(
    r"^\s*<(table|p|div|center|blockquote|picture|figure|img|a|h[1-6]|sub|sup)\b[^>]*>",
    re.IGNORECASE,
)


def is_decoration(line: str) -> bool:
    """A line that is neither question nor answer: a ``<br/>``, an image or badge (alone or a
    row of them), a line that is only a link (a table of contents entry, a "[source](url)")."""
    stripped = line.strip()
    if not stripped:
        return False
    if _BR_LINE.match(stripped):
        return True
    rest = _BADGE.sub("", stripped)
    rest = _IMAGE.sub("", rest)
    if rest != stripped and not re.search(r"\w", re.sub(r"<[^>]*>", "", rest)):
        return True
    return bool(_LINK_ONLY.match(stripped))


def is_toc_item(text: str) -> bool:
    """A table of contents entry: a list item (or line) that is only a link, or links."""
    return bool(_LINK_ONLY.match(text.strip()))


_DROPPED_BLOCKS = ("table", "picture", "figure")
"""HTML blocks that are never part of an answer: a disclaimer table, an illustration."""


def html_block_end(lines: list[str], index: int) -> int | None:
    """Where the HTML block starting at ``lines[index]`` ends (its last line) when it is
    decoration, else None: a ``<table>``, ``<picture>`` or ``<figure>``, an image, or any
    block (a centred ``<p>``, a ``<div>``) with no words but its tags' (images, badges). A
    block ends at its closing tag, else at a blank line."""
    match = _HTML_BLOCK_OPEN.match(lines[index])
    if match is None:
        return None
    tag = match.group(1).lower()
    if tag == "img":
        return index if not _words_outside_tags(lines[index]) else None
    closing = re.compile(rf"</{tag}\s*>", re.IGNORECASE)
    opening = re.compile(rf"<{tag}\b", re.IGNORECASE)
    depth = 0
    end = index
    for end in range(index, min(len(lines), index + 400)):
        depth += len(opening.findall(lines[end])) - len(closing.findall(lines[end]))
        if depth <= 0 or (end > index and not lines[end].strip()):
            break
    if tag in _DROPPED_BLOCKS:
        return end
    block = " ".join(lines[index : end + 1])
    return end if not _words_outside_tags(block) else None


def _words_outside_tags(text: str) -> bool:
    plain = _BADGE.sub("", _IMAGE.sub("", text))
    plain = re.sub(r"<[^>]*>|&nbsp;|\[[^\]]*\]\([^)]*\)", " ", plain)
    return re.search(r"[^\W\d_]{2}", plain) is not None


def drop_decoration(lines: list[str], fenced: list[bool]) -> list[str]:
    """``lines`` without decoration lines and HTML blocks (outside code), and without the
    images inside a line."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if fenced[index]:
            out.append(line)
            index += 1
            continue
        end = html_block_end(lines, index)
        if end is not None:
            index = end + 1
            continue
        if is_decoration(line):
            index += 1
            continue
        if "![" in line or "<img" in line.lower():
            line = _IMAGE.sub("", _BADGE.sub("", line)).rstrip()
        out.append(line)
        index += 1
    return out


# ----------------------------------------------------------------------------- placeholders

_PLACEHOLDER = re.compile(  # one [\W_]* after the words, not two in a row: linear
    r"^[\W_]*(?:(?:todo|tbd|tbc|tba|fixme|xxx|wip|n/?a|none|nil|null|pending|answer|"
    r"(?:(?:your|the|an?|add|write|put|insert)\s+)*(?:answer|solution|explanation)s?"
    r"(?:\s+(?:here|goes\s+here|to\s+come|coming\s+soon|pending|tbd|todo))?|"
    r"work\s+in\s+progress|coming\s+soon|to\s+do|to\s+be\s+(?:done|written|added|filled(?:\s+in)?|"
    r"completed|updated)|fill\s+(?:this\s+)?in|(?:not\s+)?answered(?:\s+yet)?|"
    r"no\s+answer(?:\s+yet)?)[\W_]*)?$",
    re.IGNORECASE,
)


def is_placeholder(text: str) -> bool:
    """Whether an answer's text is only a placeholder ("Answer here", "TODO", "...", "")."""
    return len(text) <= 80 and _PLACEHOLDER.match(" ".join(text.split())) is not None
