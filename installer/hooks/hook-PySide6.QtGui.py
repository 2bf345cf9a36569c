"""PyInstaller hook for PySide6.QtGui: the stock one, keeping only the Qt plugins and catalogs the app uses.

See installer/qt_selection.py for what is kept and why. PyInstaller prefers hooks from the spec's hookspath to its own.
"""

from __future__ import annotations

from PyInstaller.utils.hooks.qt import add_qt6_dependencies
from qt_selection import keep_collected  # the spec puts installer/ on sys.path

hiddenimports, _binaries, _datas = add_qt6_dependencies(__file__)
binaries = keep_collected(_binaries)
datas = keep_collected(_datas)
