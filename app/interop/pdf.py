"""A small text-only PDF writer for reports printed from the command line (no Qt, no extra dependency).

The app's letters are typeset by Qt (app/ui/referral.py); a weekly notification report is a list of lines, and the
CLI that writes it must work on a server or a laptop without a display. This writes PDF 1.4 with the standard
Helvetica font in WinAnsi encoding (every Spanish letter is in it), A4 pages, and breaks pages by line count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.files import write_atomic

A4 = (595, 842)  # points
MARGIN = 56
LEADING = {"title": 20, "heading": 16, "text": 13}
SIZE = {"title": 15, "heading": 12, "text": 10}
FONT = {"title": "/F2", "heading": "/F2", "text": "/F1"}


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    style: str = "text"  # title | heading | text


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _wrap(line: Line, width_chars: int) -> list[Line]:
    words, out, current = line.text.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width_chars:
            out.append(Line(current, line.style))
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(Line(current, line.style))
    return out


def _pages(lines: Sequence[Line]) -> list[list[tuple[Line, float]]]:
    pages: list[list[tuple[Line, float]]] = [[]]
    y = A4[1] - MARGIN
    for original in lines:
        for line in _wrap(original, 95 if line_is_text(original) else 70):
            step = LEADING[line.style]
            if y - step < MARGIN:
                pages.append([])
                y = A4[1] - MARGIN
            y -= step
            pages[-1].append((line, y))
    return pages


def line_is_text(line: Line) -> bool:
    return line.style == "text"


def write_pdf(lines: Sequence[Line], target: Path, title: str = "") -> Path:
    pages = _pages(lines)
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    page_tree = add(b"")
    regular = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    bold = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    kids = []
    for number, page in enumerate(pages, start=1):
        stream = bytearray()
        for line, y in page:
            stream += b"BT %s %d Tf %d %.1f Td (" % (FONT[line.style].encode(), SIZE[line.style], MARGIN, y)
            stream += _escape(line.text) + b") Tj ET\n"
        footer = f"{title}  ·  {number}/{len(pages)}" if title else f"{number}/{len(pages)}"
        stream += b"BT /F1 8 Tf %d %d Td (" % (MARGIN, MARGIN // 2) + _escape(footer) + b") Tj ET\n"
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + bytes(stream) + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>"
                        % (page_tree, A4[0], A4[1], content, regular, bold)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % page_tree
    objects[page_tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    info = add(b"<< /Title (" + _escape(title) + b") /Producer (Vereda) >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, catalog, info, xref)
    write_atomic(target, bytes(out))  # owner-only, never half a file
    return target
