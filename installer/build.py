"""Build the packaged Vereda app for IT staff: the folder `dist/vereda/` and an archive of it.

    python3 dev.py package                       # sets up .venv (with the `package` extra) and runs this
    .venv/bin/python installer/build.py          # the same, in an environment that already has PyInstaller

Steps: a fresh PyInstaller build of installer/vereda.spec (work files in build/pyinstaller/); then the licences
(`LICENSES/`: the texts in docs/licences/ and third-party notices written from what actually went in), the IT guide,
the Linux desktop entry and install script; a size check against the budgets; and the archive
`dist/vereda-<version>-<system>-<arch>.tar.gz` (`.zip` on Windows and macOS). It exits non-zero when a step fails or
the package is over budget, so CI catches a dependency that drags in half of PyPI.

PyInstaller does not cross-compile: run this on each system you ship for (docs/install.md, "Building the package").
The Linux package runs on distributions whose C library is at least as new as the build machine's: build on the
oldest one you support.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
SPEC = INSTALLER / "vereda.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
NAME = "vereda"
MB = 1_000_000
UNPACKED_BUDGET_MB = 350
ARCHIVE_BUDGET_MB = 150
LICENCE_FILE = re.compile(r"^(licen[cs]e|copying|notice|authors|thirdpartynotices|third[-_]party)", re.IGNORECASE)


def version() -> str:
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'__version__ = "([^"]+)"', text)
    if not found:
        raise SystemExit("app/__init__.py has no __version__")
    return found[1]


def platform_tag() -> str:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"


def tree_size(folder: Path) -> int:
    """Bytes on disk of the files under `folder`, symbolic links counted as links (as an archive stores them)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_symlink() or p.is_file())


# ------------------------------------------------------------------------------------------------ PyInstaller
def run_pyinstaller(log_path: Path) -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit("PyInstaller is missing: run `python3 dev.py package`, or "
                         "`pip install -e .[package]` in this environment") from None
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.rmtree(DIST / NAME, ignore_errors=True)
    WORK.mkdir(parents=True)
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)]
    with log_path.open("w", encoding="utf-8") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    output = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    if done.returncode != 0:
        print("\n".join(output[-40:]), file=sys.stderr)
        raise SystemExit(f"PyInstaller failed (exit {done.returncode}); the whole log is in {log_path}")
    warnings = [line for line in output if "WARNING" in line]
    if warnings:
        print(f"PyInstaller: {len(warnings)} warnings (most are optional imports), see {log_path}")


# ------------------------------------------------------------------------------------------------ licences
@dataclass
class Component:
    name: str
    version: str
    licence: str
    origin: str
    licence_files: list[Path] = field(default_factory=list)


def _licence_of(meta: metadata.PackageMetadata) -> str:
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return ", ".join(classifiers) or (text.splitlines()[0][:80] if text else "see licence files")


def _licence_files(dist: metadata.Distribution) -> list[Path]:
    found = []
    for f in dist.files or []:
        parts = f.parts
        in_dist_info = parts[0].endswith(".dist-info")
        shallow = len(parts) <= 2 or (in_dist_info and len(parts) <= 3)  # not a test fixture deep in a package
        if shallow and LICENCE_FILE.match(parts[-1]) and not parts[-1].endswith((".py", ".pyc")):
            found.append(Path(str(dist.locate_file(f))))
    return [p for p in found if p.is_file()]


def python_components(sources: set[str]) -> tuple[list[Component], set[str]]:
    """The installed distributions that files in the package came from; returns them and the sources left over."""
    owner: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        if (dist.metadata["Name"] or "").lower() == NAME:
            continue  # this project: its own licence, below
        for f in dist.files or []:
            owner[os.path.realpath(str(dist.locate_file(f)))] = dist
    used: dict[str, metadata.Distribution] = {}
    rest = set()
    for source in sources:
        dist = owner.get(os.path.realpath(source))
        if dist is None:
            rest.add(source)
        else:
            used[dist.metadata["Name"]] = dist
    components = [Component(name, dist.version, _licence_of(dist.metadata), "PyPI", _licence_files(dist))
                  for name, dist in sorted(used.items(), key=lambda kv: kv[0].lower())]
    return components, rest


def _dpkg_owners(paths: Iterable[str]) -> dict[str, str]:
    """Debian package owning each path (Debian and Ubuntu only; empty elsewhere)."""
    if shutil.which("dpkg") is None:
        return {}
    candidates: dict[str, str] = {}
    for path in paths:
        real = os.path.realpath(path)
        for variant in {path, real, re.sub(r"^/usr/lib/", "/lib/", real), re.sub(r"^/lib/", "/usr/lib/", real)}:
            candidates[variant] = path
    done = subprocess.run(["dpkg", "-S", *sorted(candidates)], capture_output=True, text=True, check=False)
    owners = {}
    for line in done.stdout.splitlines():
        package, _, path = line.partition(": ")
        if path in candidates:
            owners[candidates[path]] = package.split(":")[0].split(",")[0].strip()
    return owners


def system_components(sources: set[str]) -> tuple[list[Component], set[str]]:
    owners = _dpkg_owners(sources)
    by_package: dict[str, list[str]] = {}
    for source, package in owners.items():
        by_package.setdefault(package, []).append(source)
    components = []
    for package in sorted(by_package):
        queried = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True,
                                 check=False)
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        components.append(Component(package, queried.stdout.strip() or "?", "see copyright file", "Debian",
                                    [copyright_file] if copyright_file.is_file() else []))
    return components, sources - set(owners)


def _copy_licences(component: Component, target: Path) -> list[str]:
    written = []
    if not component.licence_files:
        return written
    folder = target / re.sub(r"[^A-Za-z0-9._-]+", "_", component.name)
    folder.mkdir(parents=True, exist_ok=True)
    for path in component.licence_files:
        name = path.name if path.name != "copyright" else "copyright.txt"
        shutil.copy2(path, folder / name)
        written.append((folder / name).relative_to(target.parent).as_posix())
    return written


def write_licences(package: Path, sources: set[str]) -> list[str]:
    """LICENSES/ in the package; returns the sources no component was found for (reported, not fatal)."""
    target = package / "LICENSES"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for text in sorted((ROOT / "docs" / "licences").glob("*")):
        if text.is_file():
            shutil.copy2(text, target / text.name)

    # This project's own files; the virtual environment may live inside the project folder too.
    environment = os.path.realpath(sys.prefix) + os.sep
    own = {s for s in sources
           if os.path.realpath(s).startswith(str(ROOT) + os.sep) and not os.path.realpath(s).startswith(environment)}
    python_prefix = os.path.realpath(sys.base_prefix) + os.sep
    stdlib = os.path.realpath(sysconfig.get_path("stdlib")) + os.sep
    interpreter = {s for s in sources - own
                   if os.path.realpath(s).startswith((python_prefix, stdlib))}
    packages, rest = python_components(sources - own - interpreter)
    systems, unknown = system_components(rest) if sys.platform.startswith("linux") else ([], rest)

    python_licence = Path(sysconfig.get_path("stdlib")) / "LICENSE.txt"
    python = Component("Python", platform.python_version(), "PSF-2.0", "python.org",
                       [python_licence] if python_licence.is_file() else [])
    # The bootloader and PyInstaller's run-time modules are always in, under the exception that lets them ship
    # with programs of any licence (its COPYING.txt).
    packages = [c for c in packages if c.name.lower() != "pyinstaller"]
    dist = metadata.distribution("pyinstaller")
    pyinstaller = Component("PyInstaller (bootloader, run-time modules)", dist.version,
                            "GPL-2.0-or-later WITH Bootloader-exception", "PyPI", _licence_files(dist))

    lines = [
        f"# Vereda {version()}: third-party software in this package",
        "",
        "Vereda itself is licensed under the Apache License 2.0 (`Apache-2.0.txt`). The program in this folder also",
        "contains the software below, each under its own licence; the licence texts are in this folder, one",
        "sub-folder per component. This list is generated by installer/build.py from the files that went in.",
        "",
        "## Qt and PySide6",
        "",
        "Qt 6 and PySide6 are used under the GNU Lesser General Public License v3 (`LGPL-3.0.txt`, which adds",
        "to `GPL-3.0.txt`). They are unmodified and dynamically linked: the Qt libraries are separate files",
        "under `_internal/PySide6/` that you may replace with your own build of the same version. Their source",
        "code is at https://download.qt.io/official_releases/qt/ and",
        "https://download.qt.io/official_releases/QtForPython/. The Qt libraries include ICU",
        "(`libicu*`, Unicode License v3: https://github.com/unicode-org/icu/blob/main/LICENSE).",
        "",
        "## Model data",
        "",
        "The diagnosis models were trained by the Vereda project on simulated patients from its own clinical",
        "knowledge base. Where the model bundle carries a rare-disease index, it is compiled from the Human",
        "Phenotype Ontology and Orphanet annotations: see `HPO.md` and `ORPHANET.md` when present.",
        "",
        "## Components",
        "",
        "| component | version | licence | from | licence files |",
        "|---|---|---|---|---|",
    ]
    for component in [python, pyinstaller, *packages, *systems]:
        files = _copy_licences(component, target)
        if files:
            listed = ", ".join(f"`{f}`" for f in files)
        elif component.name.lower().startswith(("pyside6", "shiboken6")):  # their wheels carry no licence file
            listed = "`LGPL-3.0.txt`, `GPL-3.0.txt`"
        else:
            listed = "-"
        lines.append(f"| {component.name} | {component.version} | {component.licence} | {component.origin} | "
                     f"{listed} |")
    if unknown:
        lines += ["", "## Files whose origin was not identified", ""]
        lines += [f"- `{Path(s).name}` ({s})" for s in sorted(unknown)]
    (target / "THIRD-PARTY-NOTICES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sorted(unknown)


# ------------------------------------------------------------------------------------------------ the rest
def add_guides(package: Path) -> None:
    docs = package / "docs"
    docs.mkdir(exist_ok=True)
    for name in ("install.md", "instalacion.md"):
        if (ROOT / "docs" / name).is_file():
            shutil.copy2(ROOT / "docs" / name, docs / name)
    program = "vereda.exe" if sys.platform == "win32" else "./vereda"
    cli = "vereda-cli.exe" if sys.platform == "win32" else "./vereda"
    (package / "LEEME.txt").write_text(
        f"Vereda {version()}\n\n"
        f"Abrir la aplicación:          {program}\n"
        f"Comprobar esta instalación:   {cli} self-test\n"
        "Guía de instalación (TI):     docs/install.md\n"
        "Licencias:                    LICENSES/THIRD-PARTY-NOTICES.md\n\n"
        f"Open the app:                 {program}\n"
        f"Check this installation:      {cli} self-test\n"
        "IT installation guide:        docs/install.md\n"
        "Licences:                     LICENSES/THIRD-PARTY-NOTICES.md\n",
        encoding="utf-8")
    if sys.platform.startswith("linux"):
        for name in ("vereda.desktop", "install.sh"):
            shutil.copy2(INSTALLER / "linux" / name, package / name)
        (package / "install.sh").chmod(0o755)


def missing_xcb_libraries(package: Path) -> list[str]:
    """System libraries the Linux desktop plugin needs that neither the package nor this machine has."""
    plugin = package / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file() or shutil.which("ldd") is None:
        return []
    env = dict(os.environ, LD_LIBRARY_PATH=str(package / "_internal"))
    done = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, env=env, check=False)
    return sorted({line.split()[0] for line in done.stdout.splitlines() if "not found" in line})


def write_archive(package: Path, tag: str) -> Path:
    base = DIST / f"{NAME}-{version()}-{tag}"
    if sys.platform.startswith("linux"):
        archive = base.with_name(base.name + ".tar.gz")

        def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        # Level 6: nearly the size of 9 in half the time; symbolic links (Qt's library names) stay links.
        with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
            tar.add(package, arcname=NAME, filter=normalise)
        return archive
    archive = base.with_name(base.name + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(package.rglob("*")):
            if path.is_file():
                zf.write(path, Path(NAME, path.relative_to(package)).as_posix())
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-archive", action="store_true", help="build the folder only")
    args = parser.parse_args(argv)
    started = time.monotonic()
    DIST.mkdir(exist_ok=True)
    log_path = ROOT / "build" / "pyinstaller.log"
    log_path.parent.mkdir(exist_ok=True)
    print(f"Building Vereda {version()} for {platform_tag()} with {SPEC.relative_to(ROOT)} ...", flush=True)
    run_pyinstaller(log_path)
    built = time.monotonic()
    package = DIST / NAME
    sources = set(json.loads((WORK / "vereda" / "contents.json").read_text(encoding="utf-8")))
    unknown = write_licences(package, sources)
    if unknown:
        print(f"licences: {len(unknown)} files of unidentified origin, listed in LICENSES/THIRD-PARTY-NOTICES.md")
    add_guides(package)
    missing = missing_xcb_libraries(package)
    if missing:
        print("WARNING: the Linux desktop plugin needs libraries this build machine lacks, so the package does "
              f"not carry them: {', '.join(missing)}. Install them before building (docs/install.md) or make sure "
              "every laptop has them.")
    unpacked = tree_size(package)
    problems = []
    print(f"unpacked folder {package.relative_to(ROOT)}: {unpacked / MB:.1f} MB (budget {UNPACKED_BUDGET_MB} MB)")
    if unpacked > UNPACKED_BUDGET_MB * MB:
        problems.append(f"the folder is {unpacked / MB:.1f} MB, over the {UNPACKED_BUDGET_MB} MB budget")
    if not args.no_archive:
        archive = write_archive(package, platform_tag())
        size = archive.stat().st_size
        print(f"archive {archive.relative_to(ROOT)}: {size / MB:.1f} MB (budget {ARCHIVE_BUDGET_MB} MB)")
        if size > ARCHIVE_BUDGET_MB * MB:
            problems.append(f"the archive is {size / MB:.1f} MB, over the {ARCHIVE_BUDGET_MB} MB budget")
    finished = time.monotonic()
    print(f"build time: {finished - started:.0f} s (PyInstaller {built - started:.0f} s, "
          f"licences, guides and archive {finished - built:.0f} s)")
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
