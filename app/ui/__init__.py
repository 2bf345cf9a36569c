"""The desktop application (PySide6). The only package of Vereda that imports Qt."""
