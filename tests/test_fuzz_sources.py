"""Property tests of every reader of questions and answers (tests/strategies.py drives them):
any bytes, and edits of the real fixtures, given to the CSV/TSV, JSON, JSON Lines, Anki
package, Anki text and notes readers give questions (a bank when imported) or the project's
own error (an InterviewerError with a message and a hint); never a traceback.

Anki packages are fuzzed three ways: edits of a real package's bytes (mostly a broken zip),
a zip holding edited collection bytes (a broken database), and a well-formed collection whose
notes, note types and decks hold random values (the reader's own logic).
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewer.bank.importer import import_parsed
from interviewer.bank.sources import ALL_FORMATS, FORMATS, read_source
from interviewer.errors import InterviewerError
from tests.helpers import strategies as fz

SOURCES = Path(__file__).parent / "fixtures" / "sources"
PAGES = Path(__file__).parent / "fixtures" / "pages"
ORIGINALS = sorted(SOURCES.iterdir()) + sorted(PAGES.iterdir())
SUFFIXES = [".csv", ".tsv", ".json", ".jsonl", ".apkg", ".txt", ".md", ".bin"]


def _read_or_clear_error(data: bytes, name: str, fmt: str | None) -> None:
    """The property: questions that import as a bank, or our own error with a hint."""
    try:
        parsed = read_source(data, name, fmt)
    except InterviewerError as exc:
        assert str(exc) and exc.hint, repr(exc)
        return
    for entry in parsed.entries:
        assert entry.question.strip() and entry.line >= 1
        entry.question.encode("utf-8")
        entry.answer.encode("utf-8")
    if len(parsed.entries) > 40:
        return  # drafting a long bank is slow and is not where outside input is parsed
    try:
        imported = import_parsed(parsed, name)
    except InterviewerError as exc:
        assert str(exc) and exc.hint, repr(exc)
        return
    assert imported.bank.questions


@given(st.binary(max_size=600), st.sampled_from(SUFFIXES), st.sampled_from([None, *ALL_FORMATS]))
def test_any_bytes_give_questions_or_a_clear_error(data, suffix, fmt):
    _read_or_clear_error(data, f"fuzz{suffix}", fmt)


@given(fz.recipes, st.sampled_from(ORIGINALS), st.sampled_from([None, None, *FORMATS]))
def test_edited_fixtures_give_questions_or_a_clear_error(recipe_bytes, path, fmt):
    recipe = fz.Recipe(recipe_bytes)
    _read_or_clear_error(fz.text_edits(path.read_bytes(), recipe), path.name, fmt)


@given(st.lists(st.lists(st.text(max_size=30), max_size=5), max_size=8), st.sampled_from(",;\t|"))
def test_any_table_gives_questions_or_a_clear_error(rows, delimiter):
    text = "\n".join(delimiter.join(cells) for cells in rows)
    data = text.encode("utf-8", "surrogatepass")
    _read_or_clear_error(data, "sheet.csv", None)
    _read_or_clear_error(data, "sheet.tsv", "anki-text")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "question",
                    "answer",
                    "q",
                    "prompt",
                    "response",
                    "reference_answer",
                    "reference_answers",
                    "text",
                    "questions",
                    "title",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=15,
)


@given(_JSON)
def test_any_json_gives_questions_or_a_clear_error(value):
    text = json.dumps(value)
    _read_or_clear_error(text.encode("utf-8", "surrogatepass"), "data.json", None)
    lines = "\n".join(json.dumps(item) for item in (value if isinstance(value, list) else [value]))
    _read_or_clear_error(lines.encode("utf-8", "surrogatepass"), "data.jsonl", None)


@pytest.fixture(scope="module")
def package() -> bytes:
    import tempfile

    from tests.helpers.decks import DECK_CLOZES, DECK_NOTES, build_apkg

    with tempfile.TemporaryDirectory() as folder:
        return build_apkg(Path(folder) / "deck.apkg", DECK_NOTES, DECK_CLOZES).read_bytes()


def _collection(package: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return archive.read("collection.anki2")


def _zipped(collection: bytes, member: str = "collection.anki2") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, collection)
        archive.writestr("media", b"{}")
    return buffer.getvalue()


@settings(max_examples=150)
@given(fz.recipes)
def test_edited_packages_give_questions_or_a_clear_error(package, recipe_bytes):
    recipe = fz.Recipe(recipe_bytes)
    if recipe.below(2):
        data = fz.text_edits(package, recipe)
    else:
        data = _zipped(fz.text_edits(_collection(package), recipe))
    _read_or_clear_error(data, "deck.apkg", None)


_FIELD = st.text(max_size=40) | st.sampled_from(
    [
        "{{c1::x}}",
        "{{c2::y::hint}} and {{c1::z}}",
        "<b>b</b>",
        "<img src=x>",
        "[sound:a.mp3]",
        "{{c1::}}",
        "{{c",
        "\x1f",
        "&amp;",
    ]
)


@settings(max_examples=150)
@given(
    st.lists(st.tuples(st.integers(), st.lists(_FIELD, max_size=4)), max_size=6),
    st.sampled_from(
        [
            '{"1": {"flds": [{"name": "Front"}, {"name": "Back"}]}}',
            "{}",
            "[]",
            '{"1": {"flds": "x"}}',
            "not json",
            '{"x": 1}',
        ]
    ),
    st.sampled_from(['{"1": {"name": "Deck"}}', "{}", "[1]", "null", '{"1": {"name": 3}}']),
)
def test_any_collection_gives_questions_or_a_clear_error(package, notes, models, decks):
    db = sqlite3.connect(":memory:")
    db.deserialize(_collection(package))
    db.execute("delete from notes")
    db.execute("update col set models = ?, decks = ?", (models, decks))
    for number, (mid, fields) in enumerate(notes):
        db.execute(
            "insert into notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data) "
            "values (?, ?, ?, 0, 0, '', ?, '', 0, 0, '')",
            (number + 1, f"g{number}", mid % 2**62, "\x1f".join(fields)),
        )
    data = _zipped(db.serialize())
    db.close()
    _read_or_clear_error(data, "deck.apkg", None)
