"""Load a bank directory and report every problem in it as ``file: field: what is wrong``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from interviewer.bank.models import Bank, BankManifest, Question
from interviewer.documents import DocumentError, parse_toml
from interviewer.errors import InterviewerError

MANIFEST_NAME = "bank.toml"


@dataclass(frozen=True)
class BankProblem:
    """One thing wrong with a bank, located precisely enough to fix it."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class BankError(InterviewerError):
    """A bank that cannot be used; ``problems`` lists everything wrong with it at once."""

    def __init__(self, problems: list[BankProblem]) -> None:
        self.problems = problems
        super().__init__(
            "\n".join(str(p) for p in problems),
            "fix the files above; `interviewer bank check DIR` checks a bank again",
        )


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(file)"


def _describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing: this field is required"
    if kind == "extra_forbidden":
        parent_fields = _allowed_keys(model, error["loc"][:-1])
        allowed = f"; allowed keys: {', '.join(parent_fields)}" if parent_fields else ""
        return f"unknown key (check its spelling){allowed}"
    if kind == "string_pattern_mismatch":
        return (
            f"{error['input']!r} is not a valid id: use lowercase letters, digits and dashes, "
            "like 'apply-chat-template'"
        )
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return message[0].lower() + message[1:]


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys a table accepts, found by walking ``loc`` through the model's fields."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        current = args[0] if args else annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _problems_from(error: ValidationError, file: str, model: type[BaseModel]) -> list[BankProblem]:
    return [
        BankProblem(file, _field_path(tuple(e["loc"])), _describe(e, model))
        for e in error.errors(include_url=False)
    ]


def _read_toml(path: Path, label: str, problems: list[BankProblem]) -> dict[str, Any] | None:
    try:
        return parse_toml(path.read_bytes())
    except DocumentError as exc:
        problems.append(BankProblem(label, "(syntax)", str(exc)))
    except OSError as exc:
        problems.append(BankProblem(label, "(file)", f"cannot read: {exc.strerror or exc}"))
    return None


def load_bank(directory: Path | str) -> Bank:
    """Load and validate the bank in ``directory``; raise :class:`BankError` with all problems."""
    root = Path(directory)
    problems: list[BankProblem] = []
    if not root.is_dir():
        raise BankError([BankProblem(str(root), "(directory)", "not a directory")])

    manifest_path = root / MANIFEST_NAME
    manifest_label = str(manifest_path)
    manifest: BankManifest | None = None
    if not manifest_path.is_file():
        found = sorted(p.name for p in root.glob("*.toml"))
        hint = (
            f" (found {len(found)} question files but no manifest)"
            if found
            else " (the directory holds no .toml files: the bank is empty)"
        )
        problems.append(
            BankProblem(
                manifest_label,
                "(file)",
                "missing: a bank needs a manifest with its id, title and the ordered list of "
                f"question ids{hint}",
            )
        )
    else:
        raw = _read_toml(manifest_path, manifest_label, problems)
        if raw is not None:
            try:
                manifest = BankManifest.model_validate(raw)
            except ValidationError as exc:
                problems.extend(_problems_from(exc, manifest_label, BankManifest))

    questions: list[Question] = []
    if manifest is not None:
        seen: set[str] = set()
        for index, question_id in enumerate(manifest.questions):
            if question_id in seen:
                problems.append(
                    BankProblem(
                        manifest_label,
                        f"questions[{index}]",
                        f"duplicate question id '{question_id}'",
                    )
                )
                continue
            seen.add(question_id)
            question = _load_question(root, question_id, problems)
            if question is not None:
                questions.append(question)
        for stray in sorted(root.glob("*.toml")):
            if stray.name != MANIFEST_NAME and stray.stem not in seen:
                problems.append(
                    BankProblem(
                        str(stray),
                        "(file)",
                        f"not listed in {MANIFEST_NAME}: add '{stray.stem}' to its questions "
                        "list, or move the file out of the bank",
                    )
                )

    if problems:
        raise BankError(problems)
    assert manifest is not None
    return Bank(
        id=manifest.id,
        title=manifest.title,
        description=manifest.description,
        version=manifest.version,
        questions=tuple(questions),
        path=root.resolve(),
    )


def _load_question(root: Path, question_id: str, problems: list[BankProblem]) -> Question | None:
    path = root / f"{question_id}.toml"
    label = str(path)
    if not path.is_file():
        problems.append(
            BankProblem(
                label,
                "(file)",
                f"missing: {MANIFEST_NAME} lists question '{question_id}' but this file does "
                "not exist",
            )
        )
        return None
    raw = _read_toml(path, label, problems)
    if raw is None:
        return None
    try:
        question = Question.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, label, Question))
        return None
    if question.id != question_id:
        problems.append(
            BankProblem(
                label,
                "id",
                f"'{question.id}' does not match the file name: rename the file to "
                f"'{question.id}.toml' or set id = \"{question_id}\"",
            )
        )
        return None
    return question
