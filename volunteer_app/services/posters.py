"""An event's QR poster for sharing: PDF (A4 or phone size) and PNG. The code opens the
event page; scanning it with WeChat or the camera leads straight to the sign-up."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import qrcode

from . import pdf_fonts

#: Poster sizes in millimetres: a printable A4 sheet and a phone-screen portrait.
SIZES = {"a4": (210.0, 297.0), "phone": (90.0, 160.0)}
#: CJK fonts a server may have for the PNG's text; without one the PNG is the code alone.
PNG_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@dataclass(frozen=True)
class PosterText:
    title: str
    when: str
    place: str
    host: str
    call_to_action: str


def pdf(text: PosterText, url: str, size: str = "a4") -> bytes:
    """One page: the title, time and place, a large QR code of the event page, the URL."""
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    width, height = SIZES.get(size, SIZES["a4"])
    scale = width / 210.0
    font = pdf_fonts.cjk_font()
    base = ParagraphStyle(
        "cn",
        fontName=font,
        fontSize=14 * scale * 1.6 if size == "phone" else 14,
        leading=22 * scale * 1.6 if size == "phone" else 22,
        alignment=TA_CENTER,
        wordWrap="CJK",
    )
    title = ParagraphStyle(
        "title", parent=base, fontSize=base.fontSize * 2, leading=base.leading * 1.8
    )
    small = ParagraphStyle(
        "small", parent=base, fontSize=base.fontSize * 0.7, leading=base.leading * 0.7
    )
    buffer = io.BytesIO()
    margin = 12 * mm * scale
    doc = SimpleDocTemplate(
        buffer,
        pagesize=(width * mm, height * mm),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=text.title,
    )
    code = pdf_fonts.qr_drawing(url, min(width * 0.7, 140) * mm)
    code.hAlign = "CENTER"
    story = [
        Paragraph(pdf_fonts.paragraph_text(text.title), title),
        Paragraph(pdf_fonts.paragraph_text(text.when), base),
        Paragraph(pdf_fonts.paragraph_text(text.place), base),
        Spacer(1, 4 * mm * scale),
        code,
        Paragraph(pdf_fonts.paragraph_text(text.call_to_action), base),
        Spacer(1, 3 * mm * scale),
        Paragraph(pdf_fonts.paragraph_text(text.host), small),
        Paragraph(pdf_fonts.paragraph_text(url), small),
    ]
    doc.build(story)
    return buffer.getvalue()


def _font(size: int):
    from PIL import ImageFont

    for path in PNG_FONTS:
        if Path(path).exists():
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return None


def png(text: PosterText, url: str, size: str = "phone") -> bytes:
    """The poster as an image (for a chat or a phone's photo album)."""
    from PIL import Image, ImageDraw

    width, height = (1080, 1920) if size == "phone" else (1240, 1754)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    code = qrcode.make(url, error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    side = int(width * 0.7)
    code = code.get_image().convert("RGB").resize((side, side), Image.NEAREST)
    title_font, body_font = _font(72), _font(44)
    y = 120
    if title_font is not None and body_font is not None:
        for line, font in (
            (text.title, title_font),
            (text.when, body_font),
            (text.place, body_font),
        ):
            for part in _wrap(draw, line, font, width - 160):
                draw.text(
                    (width // 2, y),
                    part,
                    font=font,
                    fill="#7a241b" if font is title_font else "#212529",
                    anchor="ma",
                )
                y += int(font.size * 1.4)
        y += 40
    image.paste(code, ((width - side) // 2, y))
    y += side + 40
    if body_font is not None:
        draw.text((width // 2, y), text.call_to_action, font=body_font, fill="#212529", anchor="ma")
        y += int(body_font.size * 1.6)
        draw.text((width // 2, y), text.host, font=_font(34), fill="#495057", anchor="ma")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _wrap(draw, text: str, font, limit: int) -> list[str]:
    """Break Chinese text into lines no wider than `limit` pixels."""
    lines, current = [], ""
    for char in text:
        if current and draw.textlength(current + char, font=font) > limit:
            lines.append(current)
            current = char
        else:
            current += char
    return [*lines, current] if current else lines
