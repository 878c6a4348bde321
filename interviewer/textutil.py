"""Small text helpers: showing candidate text safely, sentence boundaries, function words."""

from __future__ import annotations

import bisect
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def strip_control(text: str) -> str:
    """Drop control characters (ANSI escapes included) but keep newlines and tabs."""
    return _CONTROL.sub("", text)


def escape_markdown(text: str) -> str:
    """Make text render literally inside a Markdown document."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", strip_control(text))


def visible_control(text: str) -> str:
    """Show control characters as visible symbols (ESC as ␛) instead of dropping them.

    Newlines and tabs stay as they are; C0 characters and DEL become their Unicode control
    pictures, C1 characters the replacement character. For reports, where text must show what
    the candidate sent without letting it act on a terminal.
    """
    return _CONTROL.sub(_picture, text)


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


# Function words: articles, pronouns, prepositions, conjunctions, auxiliaries and question
# words, which say nothing about a subject. Negations and quantifiers ("not", "no", "never",
# "only", "all", "any", "some") are not among them: a wrong claim often turns on one, so they
# count as content (the evidence signal's misconception gate needs them).
FUNCTION_WORDS = frozenset(
    """a an and are as at be but by can do for from how i if in is it its my of on or so that
    the their them then there these they this to was we were what when which while who will
    with you your""".split()  # noqa: SIM905
)

# What else carries no subject in an answer, on top of the function words: negations,
# quantifiers, more pronouns and prepositions, fillers ("um", "basically") and the verbs of any
# answer ("use", "make", "know"). Only the prefilter drops these (:data:`STOPWORDS`): it asks
# whether an answer is on the question's subject at all, and "not" or "use" never make it so.
SUBJECTLESS_WORDS = frozenset(
    """about above actually after again against all also am any anything basically because been
    before being below between both could did does doing don't down during each everything few
    further get gets go goes got guess had has have having he her here hers him his i'd i'll i'm
    i've into isn't it's itself just kind know let's like lot lots made make makes maybe me mean
    more most much must need needs no nor not now off ok okay once one only other our ours out
    over own probably really said same say see she should some someone something such sure than
    that's theirs thing things think those through too uh um under until up us use used uses
    using very want way we're well where whom why would yeah yes you'd you're yours""".split()  # noqa: SIM905
)

STOPWORDS = FUNCTION_WORDS | SUBJECTLESS_WORDS
"""Words that carry no subject: the function words and :data:`SUBJECTLESS_WORDS`."""


# Sentence boundaries. A sentence ends at a run of . ! ? or … (closing quotes, brackets or
# Markdown emphasis may follow) before whitespace, or at the end of a text that is whole. Not at
# a mark inside a word or number ("0.5", "v2.1", "model.generate()", "config.json"), inside a
# code span or block, after an abbreviation ("e.g.", "Dr."), after a list number at the start
# of a line ("1. Load the model"), or after a single capital that is an initial ("John F.
# Kennedy"; but "Plan A. Then ..." and "use option B. Endpoints ..." end: see _initial).
_END_MARKS = re.compile(r"(?:[.!?\u2026]+|;)[\"')\]\u201d\u2019*_`]*")
_ABBREVIATIONS = {"e.g", "i.e", "a.k.a", "etc", "vs", "cf", "approx", "incl", "esp", "resp"}
_TITLES = {"Dr", "Mr", "Mrs", "Ms", "Prof", "St"}  # case as written: "200 ms." ends a sentence
_CODE = re.compile(r"```[\s\S]*?(?:```|\Z)|`[^`\n]+`")
_NEXT_WORD = re.compile(r"\s*[\"'(\[\u201c\u2018*_]*([A-Za-z]*)")


def sentence_ends(
    text: str, *, final: bool = True, lines: bool = False, semicolons: bool = False
) -> list[tuple[int, str]]:
    """Where each sentence of ``text`` ends: the offset just past its closing mark (and any
    closing quote or bracket), with the mark (``.``, ``!``, ``?`` or ``…``; ``\\n`` for a line
    break when ``lines``).

    ``final``: the text is whole, so a mark at its very end ends a sentence. Without it the text
    is still growing (a streamed reply): an end is reported only once what follows has settled
    it, so ends found in a text stay ends as it grows. ``lines``: a line break ends a sentence
    too (an answer's list items and pasted lines). ``semicolons``: so does a semicolon, for
    readers that take each half of "X; Y" as a claim of its own (mark ``;``).
    """
    code = [m.span() for m in _CODE.finditer(text)]
    if not final:  # an inline code span still being written runs to the end
        opened = text.find("`", max(code[-1][1] if code else 0, text.rfind("\n") + 1))
        if opened >= 0:
            code.append((opened, len(text)))
    ends: list[tuple[int, str]] = []
    for match in _END_MARKS.finditer(text):
        start, end = match.span()
        if end < len(text) and not text[end].isspace():
            continue  # inside a word or number, or followed by more punctuation
        if end == len(text) and not final:
            continue  # it may yet be "3.5" or "e.g."
        inside = bisect.bisect_right(code, (start, len(text) + 1)) - 1
        if inside >= 0 and start < code[inside][1]:
            continue  # in a code span or block
        marks = match.group(0).rstrip("\"')]\u201d\u2019*_`")
        if marks == ";" and not semicolons:
            continue
        if marks == "." and not _ends_at_dot(text, start, end, final=final):
            continue
        ends.append((end, marks[-1]))
    if lines:
        ends = _with_line_ends(text, ends)
    return ends


def _ends_at_dot(text: str, dot: int, end: int, *, final: bool) -> bool:
    """Whether the single full stop at ``dot`` (its closers run to ``end``) ends a sentence."""
    word_start = dot
    while word_start > 0 and (text[word_start - 1].isalnum() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot]
    if word.lower() in _ABBREVIATIONS or word in _TITLES:
        return False
    if word.isdigit() and len(word) <= 3:  # a list number if it starts its line: "1. Load it"
        line = text.rfind("\n", 0, word_start) + 1
        if not text[line:word_start].strip():
            return False
    if len(word) == 1 and word.isupper():
        return not _initial(text, word_start, end, final=final)
    return True


def _initial(text: str, letter: int, end: int, *, final: bool) -> bool:
    """Whether the capital at ``letter`` (its full stop and closers run to ``end``) is an
    initial, as in "John F. Kennedy", rather than the end of "... use option B.": the next word
    is capitalised but no function word ("Plan A. Then ..." ends), and the word before is
    capitalised or there is none ("pick option B. Endpoints ..." ends)."""
    following = _NEXT_WORD.match(text, end)
    assert following is not None  # every part of the pattern may be empty
    if following.end() == len(text) and not final:
        return True  # not settled until the next word is whole: no end yet
    after = following.group(1)
    if not after[:1].isupper() or after.lower() in FUNCTION_WORDS:
        return False
    before = letter
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    previous = before
    while previous > 0 and not text[previous - 1].isspace():
        previous -= 1
    word = text[previous:before]
    return not word or word[0].isupper() or word[-1] in ".!?:"


def _with_line_ends(text: str, ends: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``ends`` and the end of every line (its last character that is not a space)."""
    found = dict(ends)
    for index, char in enumerate(text):
        if char == "\n":
            line_end = index
            while line_end > 0 and text[line_end - 1].isspace():
                line_end -= 1
            if line_end:
                found.setdefault(line_end, "\n")
    return sorted(found.items())


def sentence_spans(
    text: str, *, lines: bool = False, semicolons: bool = False
) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each sentence of ``text`` (a whole text), without the whitespace
    around it; an unfinished last sentence is one too."""
    spans: list[tuple[int, int]] = []
    start = 0
    ends = sentence_ends(text, lines=lines, semicolons=semicolons)
    for end, _mark in [*ends, (len(text), "")]:
        piece = text[start:end]
        first = start + len(piece) - len(piece.lstrip())
        last = start + len(piece.rstrip())
        if first < last:
            spans.append((first, last))
        start = end
    return spans


def split_sentences(text: str, *, lines: bool = False, semicolons: bool = False) -> list[str]:
    """The sentences of ``text`` as written (see :func:`sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text, lines=lines, semicolons=semicolons)]


_FINISHED = re.compile(r"[.!?:;)\]\"'*_`\u2026]\s*$")


def finish_at_sentence(text: str) -> str:
    """``text`` without an unfinished last sentence (a generation that ran out of tokens stops
    mid-word): cut after the last complete one, or, with none, end it with an ellipsis."""
    text = text.rstrip()
    if not text or _FINISHED.search(text) or text.endswith("```"):
        return text
    ends = sentence_ends(text)
    if ends:
        return text[: ends[-1][0]].rstrip()
    return text + "…"


_LOCAL_PATH = re.compile(r"(?<![\w.-])(?:~|[A-Za-z]:)?[/\\][^\s,;()]*[/\\]([^\s/\\,;()]+)[/\\]?")


def shown_name(name: str) -> str:
    """``name`` (a model id or a grader such as ``llm:<model>``) with each local folder path
    cut to the folder's own name: a shared report does not reveal where files live on the
    candidate's machine (the JSON transcript keeps the whole path)."""
    return _LOCAL_PATH.sub(lambda m: m.group(1), name)
