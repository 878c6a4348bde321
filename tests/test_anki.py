"""Anki export: the .apkg opened as what it is (a zip holding an SQLite database): one note per
missed key point, every field intact and literal, the same ids on a second export."""

from __future__ import annotations

import html
import json
import sqlite3
import zipfile
from pathlib import Path

from click.testing import CliRunner

from interviewer.bank import load_bank
from interviewer.cli import cli
from interviewer.config import Settings
from interviewer.report.anki import FIELDS, MODEL_ID, deck_id, note_guid, reference_excerpt
from interviewer.resources import default_bank_dir
from interviewer.session.stores import open_store

EXAMPLE = Path(__file__).parents[1] / "examples" / "answers.json"
HOSTILE = "<script>alert(1)</script> & {{Back}} \x1f the add_generation_prompt flag"


def notes(path: Path) -> list[tuple[str, int, dict[str, str]]]:
    with zipfile.ZipFile(path) as archive:
        assert "collection.anki2" in archive.namelist()
        folder = path.parent / f"{path.stem}-unzipped"
        archive.extract("collection.anki2", folder)
    db = sqlite3.connect(folder / "collection.anki2")
    try:
        rows = db.execute("SELECT guid, mid, flds FROM notes ORDER BY guid").fetchall()
        decks = json.loads(db.execute("SELECT decks FROM col").fetchone()[0])
    finally:
        db.close()
    assert any(d["name"].startswith("interviewer::") for d in decks.values())
    return [
        (guid, mid, dict(zip(FIELDS, flds.split("\x1f"), strict=True))) for guid, mid, flds in rows
    ]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_one_note_per_missed_point_with_stable_ids(tmp_path):
    answers = json.loads(EXAMPLE.read_text())
    answers["answers"]["model-repo-files"] = [HOSTILE]  # candidate text that looks like markup
    file = tmp_path / "answers.json"
    file.write_text(json.dumps(answers))
    invoke("run", "--headless", "--backend", "scripted", "--answers", str(file))
    store = open_store(Settings())
    transcript = store.load_transcript(store.latest().id)
    bank = load_bank(default_bank_dir())
    missed = {
        (r.question_id, v.key_point_id)
        for r in transcript.results
        if r.grade is not None and r.status == "answered"
        for v in r.grade.key_points
        if v.verdict == "missing"
    } | {
        (r.question_id, p.id)
        for r in transcript.results
        if r.status == "skipped"
        for p in bank.question(r.question_id).key_points
    }
    assert len(missed) > 10

    deck = tmp_path / "deck.apkg"
    invoke("export", "--format", "anki", "-o", str(deck))
    found = notes(deck)
    assert len(found) == len(missed)  # one note per missed point, no more
    by_key = {tuple(f["Key"].split("/")[1:]): (guid, mid, f) for guid, mid, f in found}
    assert set(by_key) == missed
    for (question_id, point_id), (guid, mid, fields) in by_key.items():
        question = bank.question(question_id)
        point = question.key_point(point_id)
        assert guid == note_guid(bank.id, question_id, point_id) and mid == MODEL_ID
        assert fields["Question"] == html.escape(question.question, quote=True).replace(
            "\n", "<br>"
        )
        assert fields["Statement"] == html.escape(point.statement, quote=True)
        for fact in point.facts:
            assert f"<li>{html.escape(fact, quote=True)}</li>" in fields["Facts"]
        assert fields["Sources"] == "<br>".join(
            html.escape(s, quote=True) for s in question.sources
        )
        assert fields["Reference"] == html.escape(reference_excerpt(question, point), quote=True)
        assert html.escape(point_id.replace("-", " ")) in fields["Prompt"]
        assert "<script>" not in "".join(fields.values())  # nothing renders as markup
    # Bank text with markup characters stays literal too.
    tokens = by_key[("apply-chat-template", "formats-differ")][2]
    assert "&lt;|im_start|&gt;" in tokens["Facts"]

    # Again, and with --missed (every session): the same notes, the same ids.
    again = tmp_path / "again.apkg"
    invoke("export", "--format", "anki", "-o", str(again))
    assert [(g, f) for g, _, f in notes(again)] == [(g, f) for g, _, f in found]
    everything = tmp_path / "all.apkg"
    invoke("export", "--missed", "-o", str(everything))
    assert {g for g, _, _ in notes(everything)} == {g for g, _, _ in found}
    # An existing file is only replaced with --force.
    refused = CliRunner().invoke(cli, ["export", "--format", "anki", "-o", str(deck)])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert deck_id(bank.id) == deck_id(bank.id)


def test_anki_needs_a_file_and_missed_needs_anki(tmp_path):
    invoke("run", "--headless", "--backend", "scripted", "--answers", str(EXAMPLE))
    result = CliRunner().invoke(cli, ["export", "--format", "anki"])
    assert result.exit_code == 1 and "-o deck.apkg" in result.output
    result = CliRunner().invoke(cli, ["export", "--missed", "--format", "md"])
    assert result.exit_code == 1 and "--format anki" in result.output
    # The suffix picks the format.
    invoke("export", "-o", str(tmp_path / "x.apkg"))
    assert zipfile.is_zipfile(tmp_path / "x.apkg")


def test_candidate_words_are_literal_in_a_note(tmp_path):
    from datetime import UTC, datetime

    from interviewer.report.anki import MissedPoint, anki_deck_bytes, note_fields

    bank = load_bank(default_bank_dir())
    question = bank.question("apply-chat-template")
    missed = MissedPoint(
        bank.id,
        bank.title,
        question,
        question.key_point("add-generation-prompt"),
        HOSTILE,
        datetime(2026, 1, 1, tzinfo=UTC),
        "s1",
    )
    fields = note_fields(missed)
    said = fields[FIELDS.index("YouSaid")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; {{Back}}" in said
    assert "\x1f" not in "".join(fields)  # Anki's field separator never leaks into a field
    path = tmp_path / "one.apkg"
    path.write_bytes(anki_deck_bytes([missed]))
    [(_, _, stored)] = notes(path)
    assert stored["YouSaid"] == said
