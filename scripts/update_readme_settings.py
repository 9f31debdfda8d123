"""Regenerate the README's configuration table from webhook/settings.py (tests check it matches)."""

from __future__ import annotations

import re
from pathlib import Path

from webhook.settings import settings_reference

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- settings-reference:start -->\n).*?(<!-- settings-reference:end -->)", re.S)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + settings_reference() + "\n" + m.group(2), text)


if __name__ == "__main__":
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
