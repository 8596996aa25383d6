"""The documentation keeps up with the code it describes."""

from __future__ import annotations

from pathlib import Path

from certauth import events

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_log_wording_is_in_the_log_documentation():
    """docs/logs-and-debug.md lists each log type of certauth/events.py with its wording."""
    text = (DOCS / "logs-and-debug.md").read_text()
    missing = [
        f"{log_type.id} {log_type.template}"
        for log_type in vars(events).values()
        if isinstance(log_type, events.LogType)
        and f"| {log_type.id} | {log_type.level} | {log_type.subcategory} | `{log_type.template}` |"
        not in text
    ]
    assert missing == []
