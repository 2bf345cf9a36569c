#!/usr/bin/env python3
"""Start or stop a throwaway PostgreSQL cluster for tests: a temp folder, a free port on 127.0.0.1, no password.

    python3 scripts/pg_test_server.py start        # prints {"url": ..., "dir": ..., "port": ...} as JSON
    python3 scripts/pg_test_server.py stop DIR     # stops the cluster and deletes DIR

It uses the server binaries of Debian's `postgresql` package (`/usr/lib/postgresql/*/bin`, or `pg_ctl` on PATH);
`.ci/run` installs that package when it is missing. PostgreSQL refuses to run as root, so under root the cluster
belongs to the `postgres` user the package creates. Authentication is `trust` on loopback only and durability is
off (fsync, full page writes): it is for tests, never for data. Exit status 3 means "no PostgreSQL here", which
the tests turn into a skip.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

NOT_AVAILABLE = 3
DB_USER = "vereda"


def find_bin(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if candidates:
        return candidates[-1]
    return shutil.which(name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    """The unix user to run PostgreSQL as: None for ourselves, 'postgres' when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise SystemExit(_fail("running as root and there is no 'postgres' user to run PostgreSQL as")) from None
    return "postgres"


def _fail(message: str) -> int:
    print(json.dumps({"error": message}), file=sys.stderr)
    return NOT_AVAILABLE


def _run(cmd: list[str], user: str | None, cwd: Path) -> None:
    result = subprocess.run(cmd, user=user, cwd=cwd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip() or result.stdout}")


def start() -> int:
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        return _fail("PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install -y postgresql")
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="vereda-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data, port = root / "data", free_port()
    try:
        _run([initdb, "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
             user, root)
        options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        _run([pg_ctl, "-D", str(data), "-l", str(root / "postgres.log"), "-w", "-t", "60", "-o", options, "start"],
             user, root)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        return _fail(str(exc))
    print(json.dumps({"url": f"postgresql://{DB_USER}@127.0.0.1:{port}/postgres", "dir": str(root), "port": port}))
    return 0


def stop(folder: str) -> int:
    root = Path(folder)
    pg_ctl = find_bin("pg_ctl")
    if pg_ctl and (root / "data").is_dir():
        subprocess.run([pg_ctl, "-D", str(root / "data"), "-m", "immediate", "-w", "stop"], user=_run_as(), cwd=root,
                       capture_output=True, timeout=60)
    shutil.rmtree(root, ignore_errors=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"] and len(argv) == 1:
        return start()
    if argv[:1] == ["stop"] and len(argv) == 2:
        return stop(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
