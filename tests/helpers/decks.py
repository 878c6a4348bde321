"""Anki decks for the import tests, built with genanki as Anki writes them."""

from __future__ import annotations

from pathlib import Path


def build_apkg(
    path: Path,
    notes: list[tuple[str, str]],
    clozes: list[tuple[str, str]] = (),  # type: ignore[assignment]
    deck: str = "Machine learning::Basics",
) -> Path:
    """An Anki package of Basic (Front/Back) notes and Cloze notes, as Anki writes one."""
    import genanki

    model = genanki.Model(
        1607392319,
        "Basic",
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[{"name": "Card 1", "qfmt": "{{Front}}", "afmt": "{{FrontSide}}<hr>{{Back}}"}],
    )
    built = genanki.Deck(2059400110, deck)
    for front, back in notes:
        built.add_note(genanki.Note(model=model, fields=[front, back]))
    for text, extra in clozes:
        built.add_note(genanki.Note(model=genanki.CLOZE_MODEL, fields=[text, extra]))
    genanki.Package(built).write_to_file(str(path))
    return path


DECK_NOTES = [
    (
        "What is <b>knowledge distillation</b>?",
        "A small <i>student</i> model is trained to match the softened output probabilities "
        "of a large <i>teacher</i> model.<br><img src='distill.png'>",
    ),
    (
        "Why use a learning rate warmup?",
        "<div>Early updates with a large rate can diverge while the optimizer statistics are "
        "poor; a warmup raises the rate gradually over the first steps.</div>[sound:warm.mp3]",
    ),
    ("What is label smoothing?", ""),
]
DECK_CLOZES = [
    (
        "{{c1::LoRA}} fine-tunes a model by training {{c2::low-rank::what kind of}} update "
        "matrices while the base weights stay frozen.",
        "It cuts the number of trainable parameters by orders of magnitude.",
    )
]
