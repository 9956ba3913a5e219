"""The 志愿服务证明 as a PDF (民政部《志愿服务记录与证明出具办法》Art 15): one A4 page
set in an embedded TrueType CJK font, with a QR code of its verification page. What it
certifies, its number and its verification are services.certificates."""

from __future__ import annotations

import io
from datetime import date

from flask_babel import force_locale

from ..catalog import CATEGORIES
from . import pdf_fonts
from .certificates import PLATFORM, Certificate, hours_text
from .pdf_fonts import paragraph_text as esc


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def render_pdf(certificate: Certificate, verify_url: str) -> bytes:
    """The certificate as one A4 page, in the fields of 办法 Art 15: identity (name, ID
    type and masked number, national volunteer number), service (hours, content, period),
    issuer (unit, person in charge, handler, contact), number and date; the Chinese text
    in an embedded TrueType CJK font (pdf_fonts), and a QR code for the verification
    page."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = pdf_fonts.cjk_font()
    base = ParagraphStyle("cn", fontName=font, fontSize=12, leading=19, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=28, leading=34, alignment=TA_CENTER)
    right = ParagraphStyle("right", parent=base, fontSize=9.5, leading=13, alignment=TA_RIGHT)
    body = ParagraphStyle("body", parent=base, fontSize=14, leading=25, firstLineIndent=28)
    small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=12, textColor=colors.grey)
    cell = ParagraphStyle("cell", parent=base, fontSize=10.5, leading=13)
    caption = ParagraphStyle("caption", parent=small, alignment=TA_CENTER)
    grey = colors.HexColor("#adb5bd")

    c = certificate
    s = c.summary
    with force_locale("zh"):
        categories = [(str(CATEGORIES.get(code, code)), m) for code, m in s.categories]
    story = [
        Paragraph("志愿服务证明", title),
        Spacer(1, 3 * mm),
        Paragraph(f"证明编号：{c.display_number}", right),
        Spacer(1, 5 * mm),
        Paragraph(
            f"兹证明 {esc(c.real_name)}（{esc(c.id_type or '证件')}："
            f"{esc(c.id_masked)}"
            + (f"，志愿者统一编号：{esc(c.national_number)}" if c.national_number else "")
            + f"）于 {_cn_date(c.start)} 至 {_cn_date(c.end)} 期间参加志愿服务 "
            f"{s.sessions} 次，累计志愿服务时间 {c.hours} 小时。"
            f"以上记录经{PLATFORM}记录并审核。",
            body,
        ),
        Paragraph("特此证明。", body),
        Spacer(1, 4 * mm),
    ]

    def table(head: str, rows: list[tuple[str, int]]) -> Table:
        data = [[Paragraph(head, cell), Paragraph("服务时间（小时）", cell)]]
        data += [[Paragraph(esc(k), cell), hours_text(m)] for k, m in rows]
        t = Table(data, colWidths=[120 * mm, 40 * mm])
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), font, 10.5),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1f3f5")),
                    ("GRID", (0, 0), (-1, -1), 0.5, grey),
                    ("ALIGN", (1, 1), (1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        return t

    story += [
        table("服务类别", categories),
        Spacer(1, 3 * mm),
        table("主要服务活动", [(name or "其他活动", m) for name, m in s.activities]),
        Spacer(1, 6 * mm),
    ]
    facts = []
    if s.organisations:
        facts.append(Paragraph(f"主要服务组织：{esc('、'.join(s.organisations))}", base))
    facts += [
        Paragraph(f"出具单位：{esc(c.issuer)}", base),
        Paragraph(
            f"负责人：{esc(c.head or '—')}　经办人：{esc(c.handler or '—')}",
            base,
        ),
        Paragraph(f"联系电话：{esc(c.contact or '—')}", base),
        Paragraph(f"出具日期：{_cn_date(c.issued_on)}", base),
    ]
    qr = [pdf_fonts.qr_drawing(verify_url, 30 * mm), Paragraph("扫码核验", caption)]
    bottom = Table([[facts, qr]], colWidths=[124 * mm, 36 * mm])
    bottom.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
            ]
        )
    )
    story += [
        bottom,
        Spacer(1, 5 * mm),
        Paragraph(
            f"核验网址：{esc(verify_url)}<br/>"
            "核验页面仅显示证明编号、部分隐去的姓名、服务时间、出具单位和出具日期。"
            "本证明依据《志愿服务记录与证明出具办法》出具；服务时间为出具之日已审核通过的"
            "志愿服务记录合计（含更正），不含培训时间。",
            small,
        ),
    ]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=22 * mm,
        bottomMargin=18 * mm,
        title=f"志愿服务证明 {c.display_number}",
        author=c.issuer,
        creator=c.issuer,
    )

    def frame(canvas, _doc) -> None:
        canvas.saveState()
        canvas.setStrokeColor(colors.HexColor("#962d22"))
        canvas.setLineWidth(1.5)
        canvas.rect(15 * mm, 12 * mm, A4[0] - 30 * mm, A4[1] - 24 * mm)
        canvas.restoreState()

    doc.build(story, onFirstPage=frame, onLaterPages=frame)
    return buffer.getvalue()
