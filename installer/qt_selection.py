"""Which parts of Qt go into the packaged app: the rules shared by `vereda.spec` and the hooks in `installer/hooks/`.

PySide6-Essentials ships ~250 MB of Qt; the widgets need QtCore, QtGui and QtWidgets, two platform plugins and two
translation catalogs. PyInstaller's stock hooks collect every plugin type a module may use and then bundle each
plugin's own dependencies, which for the GTK theme plugin means the build machine's GTK, GLib, Cairo and D-Bus
libraries: megabytes, and a crash risk on a laptop whose desktop libraries are of another version. So plugins are
chosen here, before PyInstaller looks for their dependencies, and the spec drops whatever still slips through.
"""

from __future__ import annotations

from pathlib import PurePath

# Plugin types kept. Dropped on purpose: platformthemes (GTK/portal, see above), platforminputcontexts (IBus over
# D-Bus), xcbglintegrations and egldeviceintegrations (the widgets paint in software), wayland-* (Wayland desktops
# run the app through XWayland), tls, networkinformation, qmltooling, sqldrivers, iconengines (SVG). printsupport
# stays: the referral letter goes to the clinic's printer through the system's print dialog (CUPS on Linux).
KEPT_PLUGIN_TYPES = frozenset({"platforms", "imageformats", "styles", "printsupport"})
# offscreen: the self-test and headless checks; xcb: Linux desktops; windows; cocoa: macOS; minimal: diagnostics.
KEPT_PLATFORMS = frozenset({"qoffscreen", "qxcb", "qwindows", "qcocoa", "qminimal"})
# PNG and BMP are built into QtGui; these add .ico/.icns icons and JPEG/GIF images.
KEPT_IMAGE_FORMATS = frozenset({"qico", "qicns", "qjpeg", "qgif"})
# Qt's own texts (wizard buttons, context menus) in the app's two languages; app/ui/i18n.py loads qtbase_<lang>.
KEPT_QT_TRANSLATIONS = frozenset({"qtbase_es.qm", "qtbase_en.qm"})
# Qt libraries that only dropped modules or plugins use. PyInstaller may still meet some of them through a plugin's
# optional integrations; nothing the app calls needs them.
DROPPED_QT_LIBS = ("Qt6Network", "Qt6Qml", "Qt6Quick", "Qt6Pdf", "Qt6Svg", "Qt6VirtualKeyboard", "Qt6Wayland",
                   "Qt6Wl", "Qt6EglFs", "Qt6EglFS", "Qt6OpenGL", "Qt6Designer", "Qt6Sql", "Qt6Test", "Qt6Help",
                   "Qt6Concurrent", "Qt6Xml", "Qt6Labs", "Qt6Lottie", "Qt6Multimedia")


def _stem(file_name: str) -> str:
    """`libqxcb.so` -> `qxcb`; `qwindows.dll` -> `qwindows`; `libqcocoa.dylib` -> `qcocoa`."""
    stem = file_name.split(".")[0]
    return stem[3:] if stem.startswith("lib") else stem


def keep_plugin(plugin_type: str, file_name: str) -> bool:
    top = plugin_type.split("/")[0]
    if top not in KEPT_PLUGIN_TYPES or "/" in plugin_type:
        return False
    if top == "platforms":
        return _stem(file_name) in KEPT_PLATFORMS
    if top == "imageformats":
        return _stem(file_name) in KEPT_IMAGE_FORMATS
    return True


def keep_file(dest: str) -> bool:
    """Whether a collected file, by its path inside the package, belongs there (the spec's last filter)."""
    parts = PurePath(dest.replace("\\", "/")).parts
    name = parts[-1]
    if "PySide6" in parts:
        if "plugins" in parts:
            at = parts.index("plugins")
            return keep_plugin("/".join(parts[at + 1:-1]), name)
        if "translations" in parts:
            return name in KEPT_QT_TRANSLATIONS
        if "qml" in parts:
            return False
    return not _stem(name).startswith(DROPPED_QT_LIBS)


def keep_collected(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Filter a hook's (source, destination folder) pairs."""
    return [(src, dest) for src, dest in entries if keep_file(f"{dest}/{PurePath(src).name}")]
