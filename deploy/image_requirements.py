"""Print the requirements the central service's image installs: the package's dependencies plus the chosen extras,
minus those only the clinic laptop's desktop app needs (Qt, SQLCipher), one per line for `pip install -r`.

Used inside deploy/Containerfile's build stage (standard library only: that stage has nothing else yet).

    python3 deploy/image_requirements.py pyproject.toml --extras server --skip "pyside6-essentials sqlcipher3"
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str], skip: set[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise SystemExit(f"unknown extra(s) {', '.join(unknown)}; the package has {', '.join(sorted(optional))}")
    wanted: list[str] = list(project["dependencies"])
    for extra in extras:
        wanted += optional[extra]
    out: list[str] = []
    for requirement in wanted:
        name = re.split(r"[\[<>=!~;@ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")
        # "vereda[server]" inside an extra names the package itself: its extras are listed by the caller.
        if name not in skip and name != project["name"] and requirement not in out:
            out.append(requirement)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", type=Path)
    parser.add_argument("--extras", default="server", help="comma-separated extras (default: server)")
    parser.add_argument("--skip", default="", help="space-separated distribution names to leave out")
    args = parser.parse_args(argv)
    extras = [e.strip() for e in args.extras.split(",") if e.strip()]
    skip = {s.lower().replace("_", "-") for s in args.skip.split()}
    sys.stdout.write("".join(f"{r}\n" for r in requirements(args.pyproject, extras, skip)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
