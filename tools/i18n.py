"""Translation catalogs: extract, fill, compile, check.

python tools/i18n.py update          # extract messages, update zh and en catalogs, compile
python tools/i18n.py fill zh F.json  # set msgstr from a {msgid: translation} JSON file
python tools/i18n.py missing zh      # print untranslated msgids as a JSON skeleton
python tools/i18n.py check           # exit 1 when a zh message is untranslated or fuzzy
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
LOCALES = ("zh", "en")


def _po(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _pybabel(*args: str) -> None:
    exe = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(exe), *args], cwd=ROOT, check=True, capture_output=True)


def extract() -> None:
    _pybabel(
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "_l",
        "-k",
        "lazy_gettext",
        "-k",
        "_",
        "--no-location",
        "--sort-output",
        "--omit-header",
        "-o",
        str(POT),
        ".",
    )


def update() -> None:
    extract()
    for locale in LOCALES:
        _pybabel(
            "update",
            "-i",
            str(POT),
            "-d",
            "translations",
            "-l",
            locale,
            "--no-fuzzy-matching",
            "--omit-header",
        )
    compile_all()


def compile_all() -> None:
    _pybabel("compile", "-d", "translations", "--use-fuzzy")


def _catalog(locale: str):
    with _po(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def missing(locale: str) -> dict[str, str]:
    catalog = _catalog(locale)
    return {m.id: "" for m in catalog if m.id and (not m.string or m.fuzzy)}


def fill(locale: str, source: Path) -> None:
    mapping = json.loads(source.read_text(encoding="utf-8"))
    catalog = _catalog(locale)
    for message in catalog:
        if mapping.get(message.id):
            message.string = mapping[message.id]
            message.flags.discard("fuzzy")
    with _po(locale).open("wb") as fh:
        write_po(fh, catalog, omit_header=True, sort_output=True, width=100)
    compile_all()


def check() -> int:
    """Untranslated Chinese strings; English falls back to the msgid itself."""
    gaps = missing("zh")
    for msgid in gaps:
        print(f"untranslated (zh): {msgid!r}")
    return 1 if gaps else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "update"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "missing":
        print(json.dumps(missing(sys.argv[2]), ensure_ascii=False, indent=1))
    elif command == "fill":
        fill(sys.argv[2], Path(sys.argv[3]))
    elif command == "check":
        sys.exit(check())
    else:
        sys.exit(__doc__)
