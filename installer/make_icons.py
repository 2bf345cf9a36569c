"""Render Vereda's icon (assets/icons/vereda.svg) to the PNG sizes, the Windows .ico and the macOS .icns.

    .venv/bin/python installer/make_icons.py

Run it after changing the SVG and commit what it writes: the build does not render icons, so building needs no SVG
support and gives the same files on every machine. ICO and ICNS both accept PNG images inside, so no image library
beyond Qt is needed: this script writes their small headers itself.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "assets" / "icons"
SVG = ICONS / "vereda.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS types that hold PNG data: (type, pixel size).
ICNS_TYPES = (("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256), ("ic09", 512))


def render(sizes: tuple[int, ...]) -> dict[int, bytes]:
    """PNG bytes of the SVG at each size (Qt's SVG renderer, offscreen)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG")
    out = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(QColor(0, 0, 0, 0))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        out[size] = bytes(data.data())
    del app
    return out


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows icon file with PNG images (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    entries, images = b"", b""
    offset = 6 + 16 * len(pngs)
    for size, data in sorted(pngs.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset + len(images))
        images += data
    return header + entries + images


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS icon file with PNG images."""
    chunks = b"".join(kind.encode("ascii") + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
                      for kind, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks


def main() -> None:
    pngs = render(PNG_SIZES)
    for size, data in pngs.items():
        (ICONS / f"vereda-{size}.png").write_bytes(data)
    (ICONS / "vereda.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    (ICONS / "vereda.icns").write_bytes(icns(pngs))
    print(f"wrote {len(pngs)} PNG sizes, vereda.ico and vereda.icns in {ICONS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
