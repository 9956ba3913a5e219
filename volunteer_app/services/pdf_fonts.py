"""The CJK font embedded in our PDFs (the certificate, the event posters), so that a viewer
without Chinese fonts shows it right, and what every one of them needs beside it: text made
ready for reportlab's paragraphs, and a QR code drawing.

reportlab embeds TrueType outlines only (a subset of the glyphs used), so the font is a
TrueType file: CERTIFICATE_FONT when set, else the first installed of the Debian fonts
below (`apt-get install fonts-wqy-microhei` is the one the project installs). Without any,
the certificate falls back to reportlab's built-in STSong-Light, which is not embedded
(the viewer must have a Chinese font), and a warning is logged."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

from flask import current_app

from .text import strip_forbidden

log = logging.getLogger(__name__)

#: TrueType (glyf) CJK fonts from Debian packages, "path#index" for collections.
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc#0",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc#0",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc#0",  # fonts-arphic-uming
    "/usr/share/fonts/truetype/arphic/ukai.ttc#0",  # fonts-arphic-ukai
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
EMBEDDED_NAME = "CertificateCJK"
FALLBACK = "STSong-Light"


def _split(spec: str) -> tuple[Path, int]:
    path, _, index = spec.partition("#")
    return Path(path), int(index or 0)


def _try(spec: str) -> str | None:
    """The name the font is registered under, or None when it cannot be embedded."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    path, index = _split(spec)
    if not path.is_file():
        return None
    name = f"{EMBEDDED_NAME}-{zlib.crc32(spec.encode()):08x}"
    if name in pdfmetrics.getRegisteredFontNames():
        return name
    try:
        pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=index))
    except (TTFError, OSError, ValueError) as error:
        log.warning("certificate font %s cannot be embedded: %s", spec, error)
        return None
    return name


_chosen: dict[str, str] = {}


def cjk_font() -> str:
    """The registered font name to set Chinese text in (embedded when at all possible)."""
    configured = (current_app.config.get("CERTIFICATE_FONT") or "").strip()
    key = configured or "*"
    if key in _chosen:
        return _chosen[key]
    for spec in [configured] if configured else CANDIDATES:
        name = _try(spec)
        if name:
            _chosen[key] = name
            return name
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    log.warning(
        "no TrueType CJK font found (set CERTIFICATE_FONT or install fonts-wqy-microhei): "
        "certificates use %s, which is not embedded",
        FALLBACK,
    )
    if FALLBACK not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK))
    _chosen[key] = FALLBACK
    return FALLBACK


def embeds() -> bool:
    """Whether certificates embed their CJK font."""
    return cjk_font() != FALLBACK


#: Characters the built-in font has no glyph for, and the ones it shows instead: the middle
#: dot of names such as 阿卜杜·热合曼 (U+00B7) has a glyph only as U+30FB.
_GLYPH_SUBSTITUTES = str.maketrans({"\u00b7": "\u30fb", "\u2022": "\u30fb", "\u2027": "\u30fb"})


def paragraph_text(text: str | None) -> str:
    """Text for a reportlab Paragraph (which reads markup): forbidden characters dropped,
    glyphs the fallback font lacks substituted, &, < and > escaped."""
    text = strip_forbidden(text or "").translate(_GLYPH_SUBSTITUTES)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def qr_drawing(data: str, size: float):
    """A QR code of `data` as a reportlab drawing `size` points square (error level M)."""
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(data, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing
