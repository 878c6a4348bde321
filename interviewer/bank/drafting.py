"""Draft a question's rubric from its answer, by rule: no model, deterministic, instant.

The answer's own structure says what its points are. It is read into *units*: each list item,
each sentence of prose, each table row where the table is the answer's list, each with the
lead-in it belongs to ("Use streaming when:", "Step 2 — ...", a sub-heading), because an item
means little without it ("Don't use streaming when: you need random access"). Code and tables
that illustrate a unit become its facts. Units then become key points, at most
:data:`MAX_POINTS`: neighbours under the same lead-in merge first, the shortest pair first.

Each point's statement is the answer's own words; its facts are its units; its keywords are
what is distinctive in them: code spans and identifiers, numbers with units, acronyms, and the
words and word pairs that are rare elsewhere in the document and in the other points. Every
keyword is in the reference answer and none is in the question (asking would give it away).
Weights follow emphasis and substance: the opening sentence that answers the question, bold or
"always"/"never" wording, and points merged from several units weigh more.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from interviewer.bank.answer_units import MAX_POINTS, Unit, answer_units
from interviewer.bank.models import KeyPoint, Question
from interviewer.bank.notes import clean_inline
from interviewer.textutil import STOPWORDS

MAX_FACTS = 6
MAX_KEYWORDS = 6
TITLE_MAX = 60

# Words too general to show a point on their own, on top of the function words.
_GENERIC = frozenset(
    """able across allow allows already always among another answer anyway approach around
    available based best better big both called case cases certain change changes common
    correct different done easy either else enough especially even every example examples
    fact fast faster first following general give given gives good great help helps high
    however important instead large larger least less level lets likely long low main many
    may means might mostly name new next often order part possible problem problems
    question rather right second several simple since small specific still take takes
    three time times true two typically usually various via whether without work works
    write yes""".split()  # noqa: SIM905
)

# Capitalised or dotted tokens that name nothing: units, abbreviations, "ID".
_NOT_NAMES = frozenset(
    """e.g i.e etc vs cf id ok gb mb kb tb gib mib kib pb ms ns us am pm usd eur n/a tl;dr fyi
    faq todo""".split()  # noqa: SIM905
)

_UNITS = (
    r"%|\u00d7|x(?![\w])|[kKMBGT](?![\w])|[kKMGT]i?B|bytes?|bits?|ms|µs|us|ns|s(?![\w])|secs?|"
    r"seconds?|minutes?|mins?|hours?|hrs?|h(?![\w])|days?|weeks?|params?|parameters?|tokens?|"
    r"requests?(?:/\w+)?|req/\w+|steps?|epochs?|layers?|heads?|dims?|dimensions?|examples?|"
    r"samples?|queries|pairs|tasks?|languages?|GPUs?|CPUs?|cores?|threads?|fps|[kMG]?Hz|"
    r"[kM]?W(?![\w])|dB|px|rows?|columns?|files?|documents?|words?|characters?|chars?|"
    r"points?|percent|times|replicas?|nodes?|shards?|batch(?:es)?"
)
_NUMBER_UNIT = re.compile(
    rf"(?<![\w.])(\d+(?:[.,]\d+)?(?:\s?[-\u2013]\s?\d+(?:[.,]\d+)?)?)\s?({_UNITS})(?![\w])"
)
_CODE_SPAN = re.compile(r"`([^`\n]{1,60})`")
_TOKEN = re.compile(r"[^\s,;()\[\]{}<>\"'`|]+")
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")


_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# Compiled once: a 2,000-question import calls each tens of thousands of times.
_ANY_WORD = re.compile(r"\w")
_ANY_ALNUM = re.compile(r"[a-z0-9]")
_NON_WORDS = re.compile(r"[^\w]+")
_ALNUM_RUN = re.compile(r"[a-z0-9]+")


def _contains(haystack: str, term: str) -> bool:
    """Whole-word containment, as the evidence signal matches keywords (both lowercase): an
    occurrence of ``term`` with no ASCII letter or digit either side. A scan, not a regex per
    term: a 2,000-question import has tens of thousands of distinct terms to compile."""
    start = haystack.find(term)
    while start >= 0:
        end = start + len(term)
        if (start == 0 or haystack[start - 1] not in _ALNUM) and (
            end >= len(haystack) or haystack[end] not in _ALNUM
        ):
            return True
        start = haystack.find(term, start + 1)
    return False


# ----------------------------------------------------------------------------- vocabulary


@functools.lru_cache(maxsize=4096)
def _plain_words(text: str) -> tuple[str | None, ...]:
    """The words of ``text``, lowercased, with None where punctuation, a number or an
    identifier ("add_generation_prompt", "v1.5") breaks the run of plain words. Cached: the
    vocabulary, the word pairs and the words of one text all read it."""
    words: list[str | None] = []
    for token in text.lower().split():
        core = token.strip(".,;:!?()[]{}\"'`*_~\u2014\u2013")
        if _WORD.fullmatch(core) and "'" not in core:
            words.append(core)
            if core != token.strip("\"'`*(["):
                words.append(None)  # "ends." or "cost," end the run
        else:
            words.append(None)
    return tuple(words)


def _content_words(text: str) -> list[str]:
    return [w for w in _plain_words(text) if w and w not in STOPWORDS and len(w) > 1]


def _bigrams(text: str) -> list[str]:
    """Adjacent plain words, neither a function word, with nothing between them."""
    words = _plain_words(text)
    return [
        f"{a} {b}"
        for a, b in itertools.pairwise(words)
        if a and b and a not in STOPWORDS and b not in STOPWORDS and len(a) > 2 and len(b) > 2
    ]


class Vocabulary:
    """How many answers of the document use each word and word pair: what is rare in it."""

    def __init__(self, answers: Iterable[str]) -> None:
        self.documents = 0
        self.frequency: Counter[str] = Counter()
        for answer in answers:
            self.documents += 1
            self.frequency.update(set(_content_words(answer)) | set(_bigrams(answer)))

    def rarity(self, term: str) -> float:
        """The share of the document's answers that do *not* use ``term`` (1.0: only one)."""
        if self.documents <= 1:
            return 1.0
        used = max(self.frequency.get(term.lower(), 1), 1)
        return 1.0 - (used - 1) / (self.documents - 1)


# ----------------------------------------------------------------------------- points


@dataclass
class _Draft:
    units: list[Unit]

    @property
    def label(self) -> str:
        labels = {u.label for u in self.units}
        return self.units[0].label if len(labels) == 1 else ""

    @property
    def texts(self) -> list[str]:
        return [u.text for u in self.units]

    @property
    def size(self) -> int:
        return sum(len(u.text) for u in self.units)


def _with_label(label: str, text: str) -> str:
    if not label or text.lower().startswith(label.lower()):
        return text
    return f"{label}: {text}"


def merge_units(units: Sequence[Unit], limit: int = MAX_POINTS) -> list[_Draft]:
    """Group ``units`` into at most ``limit`` points: neighbours under the same lead-in first,
    the shortest pair first, then any neighbours."""
    drafts = [_Draft([u]) for u in units]
    while len(drafts) > limit:
        best: tuple[int, int] | None = None
        for i in range(len(drafts) - 1):
            a, b = drafts[i], drafts[i + 1]
            same = a.units[-1].group == b.units[0].group
            cost = a.size + b.size + (0 if same else 100_000)
            if best is None or cost < best[1]:
                best = (i, cost)
        assert best is not None
        i = best[0]
        drafts[i : i + 2] = [_Draft(drafts[i].units + drafts[i + 1].units)]
    return drafts


def _statement(draft: _Draft) -> str:
    label = draft.label
    texts = draft.texts
    if len(texts) == 1:
        return _with_label(label, texts[0])
    if label:
        return f"{label}: " + "; ".join(t.rstrip(".;") for t in texts)
    joined = " ".join(t if t.endswith((".", "!", "?", ":")) else t + "." for t in texts)
    return joined


def _weight(draft: _Draft) -> float:
    weight = 1.0
    if len(draft.units) >= 2:
        weight += 0.5
    if len(draft.units) >= 4:
        weight += 0.5
    if any(u.opening for u in draft.units):
        weight += 0.5
    if any(u.emphasis for u in draft.units):
        weight += 0.5
    return min(weight, 2.5)


# ----------------------------------------------------------------------------- keywords


_CALL_ARGS = re.compile(r"\(.*$")
_LETTER = re.compile(r"[A-Za-z]")
_INNER_CAPS = re.compile(r"[a-z][A-Z]")
_ACRONYM = re.compile(r"[A-Z][A-Z0-9]+s?")
_DIGIT = re.compile(r"\d")
_STRUCTURED = re.compile(r"\w[_.@/=]\w")


@functools.lru_cache(maxsize=16384)
def _identifier(token: str) -> str | None:
    """The keyword an identifier-like token gives ("load_in_4bit=True" -> "load_in_4bit",
    "dataset.take(10000)" -> "dataset.take", "NF4", "QLoRA", "tokenizer_config.json")."""
    token = _CALL_ARGS.sub("", token.strip(".:;!?*_~")).rstrip(".:")
    if not token or token.startswith(("http", "www.")) or len(token) > 60:
        return None
    if "=" in token:
        name, _, value = token.partition("=")
        token = name if "_" in name or not value else f"{name}={value}"
    if not _LETTER.search(token):
        return None
    word = token.strip("-/.")
    if len(word) < 2 or word.lower().rstrip("s") in _NOT_NAMES:
        return None
    if (
        _INNER_CAPS.search(word)
        or _ACRONYM.fullmatch(word)
        or _DIGIT.search(word)
        or "_" in word
        or _STRUCTURED.search(word)
    ):
        return word
    return None


def _candidates(text: str) -> list[tuple[int, str]]:
    """(priority, keyword) of everything distinctive in ``text``: code spans and identifiers
    (0), numbers with units (1), acronyms and mixed-case names (within 0), then word pairs (2)
    and words (3)."""
    found: list[tuple[int, str]] = []
    for span in _CODE_SPAN.findall(text):
        ident = _identifier(span) if " " not in span.strip() else None
        value = ident or span.strip()
        if _ANY_WORD.search(value) and len(value) <= 40:
            found.append((0, value))
    plain = _CODE_SPAN.sub(lambda m: f" {m.group(1)} ", text)
    for token in _TOKEN.findall(plain):
        ident = _identifier(token)
        if ident:
            found.append((0, ident))
    for match in _NUMBER_UNIT.finditer(plain):
        found.append((1, match.group(0)))  # as written: "80ms", "14 GB", "300 requests/hour"
    for pair in _bigrams(plain):
        found.append((2, pair))
    for word in _content_words(plain):
        if len(word) >= 4 and word not in _GENERIC and not word.isdigit():
            found.append((3, word))
    return found


def choose_keywords(
    texts: Sequence[str],
    others: Sequence[str],
    *,
    reference: str,
    question: str,
    vocabulary: Vocabulary,
) -> list[str]:
    """The keywords of one point: its distinctive terms that the reference answer contains,
    the question does not, and the question's other points (``others``) use least."""
    reference_l, question_l = reference.lower(), question.lower()
    others_l = [o.lower() for o in others]
    scored: dict[str, tuple[float, str]] = {}
    for text in texts:
        for priority, term in _candidates(text):
            key = term.lower().strip()
            if key in scored or len(key) < 2 or not _ANY_ALNUM.search(key):
                continue
            if not _contains(reference_l, key) or _contains(question_l, key):
                continue
            if priority >= 2 and any(_contains(question_l, w) for w in key.split()):
                continue  # a pair or word of the question's own topic shows nothing
            if priority == 2 and any(
                w in _GENERIC or "'" in w or vocabulary.rarity(w) < 0.5 for w in key.split()
            ):
                continue
            shared = sum(1 for o in others_l if _contains(o, key))
            rarity = vocabulary.rarity(key) if priority >= 2 else 1.0
            if priority >= 2 and (rarity < 0.5 or shared):
                continue
            scored[key] = (priority + shared * 2 + (1 - rarity) * 2, term)
    ranked = sorted(scored.items(), key=lambda item: item[1][0])
    chosen: list[str] = []
    for key, (_score, _term) in ranked:
        if any(key == c or (" " in c and key in c.split()) for c in chosen):
            continue
        chosen.append(key)
        if len(chosen) == MAX_KEYWORDS:
            break
    return chosen


# ----------------------------------------------------------------------------- ids, titles


def slug(text: str, *, words: int = 6, length: int = 48) -> str:
    """A kebab-case id from the content words of ``text`` ("" when it has none)."""
    spaced = _NON_WORDS.sub(" ", text)
    ascii_text = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode().lower()
    tokens = _ALNUM_RUN.findall(ascii_text)
    tokens = [t for t in tokens if len(t) > 1 or t.isdigit()] or tokens
    content = [t for t in tokens if t not in STOPWORDS and t not in _QUESTION_WORDS]
    picked: list[str] = []
    for token in content or tokens:
        if token not in picked:
            picked.append(token)
        if len(picked) == words:
            break
    result = ""
    for token in picked:
        candidate = f"{result}-{token}" if result else token
        if len(candidate) > length:
            break
        result = candidate
    return result or (picked[0][:length] if picked else "")


_QUESTION_WORDS = frozenset(
    """what whats why how when where which who whom whose explain describe compare contrast
    define discuss outline summarize summarise walk tell give name list does difference would
    should could""".split()  # noqa: SIM905
)
_TITLE_LEAD = re.compile(
    r"^(?:what(?:'s| is| are)|explain|describe|define|discuss|outline)\s+(?:the\s+|a\s+|an\s+)?",
    re.IGNORECASE,
)


def title_for(question: str) -> str:
    """A short title: the question without its opening question words, cut to 60 characters
    at a word boundary."""
    text = question.strip().rstrip("?").strip()
    shortened = _TITLE_LEAD.sub("", text).strip() or text
    shortened = shortened[:1].upper() + shortened[1:]
    if len(shortened) <= TITLE_MAX:
        return shortened
    cut = shortened[: TITLE_MAX - 1]
    if " " in cut[20:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


def unique(base: str, used: set[str], fallback: str) -> str:
    """``base`` (or ``fallback``), with -2, -3 ... appended until unused; recorded in ``used``."""
    base = base or fallback
    candidate, number = base, 2
    while candidate in used:
        suffix = f"-{number}"
        candidate = base[: 64 - len(suffix)].rstrip("-") + suffix
        number += 1
    used.add(candidate)
    return candidate


# ----------------------------------------------------------------------------- questions


def draft_points(
    question: str, answer: str, vocabulary: Vocabulary, *, limit: int = MAX_POINTS
) -> list[KeyPoint]:
    """The key points of ``answer`` (at least one: an answer with any words has one)."""
    units = answer_units(answer) or [Unit(clean_inline(" ".join(answer.split()))[:300], "", 0)]
    drafts = merge_units(units, limit)
    statements = [_statement(d) for d in drafts]
    points: list[KeyPoint] = []
    used: set[str] = set()
    for index, draft in enumerate(drafts):
        facts = [_with_label(draft.label or u.label, u.text) for u in draft.units]
        facts += [extra for u in draft.units for extra in u.extras]
        facts = list(dict.fromkeys(f for f in facts if _ANY_WORD.search(f)))[:MAX_FACTS]
        own_texts = [*draft.texts, *(e for u in draft.units for e in u.extras)]
        others = [s for j, s in enumerate(statements) if j != index]
        keywords = choose_keywords(
            own_texts, others, reference=answer, question=question, vocabulary=vocabulary
        )
        point_id = unique(
            slug(" ".join(draft.texts), words=4, length=40), used, f"point-{index + 1}"
        )
        points.append(
            KeyPoint(
                id=point_id,
                statement=statements[index],
                weight=_weight(draft),
                facts=facts or [statements[index]],
                keywords=keywords,
            )
        )
    return points


def draft_question(
    question: str,
    answer: str,
    *,
    question_id: str,
    vocabulary: Vocabulary,
    sources: Sequence[str] = (),
) -> Question:
    """A whole question drafted from its answer (no misconceptions or follow-up angles: those
    are not in an answer, and are never invented)."""
    return Question(
        id=question_id,
        title=title_for(question),
        question=question,
        reference_answer=answer,
        key_points=draft_points(question, answer, vocabulary),
        sources=list(sources),
    )
