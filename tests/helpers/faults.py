"""Real filesystem faults for the store tests: a small tmpfs, a read-only bind mount, a full
disk. Mounting needs root (root ignores permission bits, so only a real read-only or full
filesystem proves anything); without root a test fails saying so. Tests that use these carry
the ``root`` marker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "this test mounts a filesystem to provoke the fault for real, which needs root "
            "(root ignores permission bits, so chmod would prove nothing); CI runs as root"
        )


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"mount {' '.join(args)} failed: {done.stderr.strip()} (needs root)")


def unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextmanager
def tmpfs(path: Path, *options: str) -> Iterator[Path]:
    """A tmpfs at ``path`` (``size=``, ``ro``), unmounted afterwards whatever happens."""
    require_root()
    path.mkdir(parents=True, exist_ok=True)
    mount("-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path))
    try:
        yield path
    finally:
        unmount(path)


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` itself, bind-mounted read-only over itself (its files stay, nothing can be
    written), until the block ends."""
    require_root()
    mount("--bind", str(path), str(path))
    try:
        mount("-o", "remount,bind,ro", str(path))
        yield path
    finally:
        unmount(path)


def fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last byte."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler
