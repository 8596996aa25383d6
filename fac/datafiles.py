"""Secrets generated on first use into the data directory (single-host set-ups)."""

import os
import secrets
import time
from pathlib import Path


def _read(path: Path) -> str | None:
    """The file's value, waiting briefly while another process is still writing it."""
    for _ in range(200):
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return None
        if text:
            return text
        time.sleep(0.01)
    raise RuntimeError(f"{path} exists but is empty")


def read_or_create_secret(path: Path, *, nbytes: int = 48) -> str:
    """Return the secret stored at *path*, creating it (mode 0600) if absent.

    Several worker processes may start at once: the file is created with
    O_EXCL so exactly one of them writes it and the others read that value.
    """
    existing = _read(path)
    if existing is not None:
        return existing
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = _read(path)
        if existing is None:
            raise
        return existing
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
