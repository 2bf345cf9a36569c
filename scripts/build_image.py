"""Build the central service's container image here, with no registry, and smoke-test it (issue 16, part 3).

    python3 scripts/build_image.py [--tag localhost/vereda-server:dev] [--keep-base] [--no-smoke] [--extras server]

No registry is reachable from CI machines, so the base image is made locally: `debootstrap --variant=minbase
bookworm` from Debian's packages (python3, python3-venv, pip, CA certificates), imported with `podman import`, then
deploy/Containerfile is built with `buildah bud --isolation chroot` on that base (BASE_IMAGE build argument; real
deployments keep the Containerfile's public default). The smoke test starts `vereda-server serve` inside the built
image (`buildah from` + `buildah run --isolation chroot`, host network, loopback, the image's own user) and checks
/health and one /v1/predict. `podman run` needs cgroups these machines do not give, hence buildah run.

buildah, podman and debootstrap are installed with apt-get when missing (like .ci/run does for PostgreSQL). Exit
codes: 0 built and checked; 3 the tools could not be installed (CI warns and goes on); 1 anything else failed.
Prints the figures as JSON on stdout (image size, build time) for the closing note.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
IGNOREFILE = ROOT / "deploy" / "Containerfile.dockerignore"
BASE_TAG = "localhost/vereda-debian-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
# Debian's packages that provide the three tools; installed only when a tool is missing.
TOOL_PACKAGES = {"buildah": "buildah", "podman": "podman", "debootstrap": "debootstrap"}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CASE4 = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}
EXIT_NO_TOOLS = 3


class BuildError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"build_image: {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    say("$ " + " ".join(cmd))
    if not kwargs.get("capture_output") and "stdout" not in kwargs:
        kwargs["stdout"] = sys.stderr  # the tools' progress is a log; stdout carries only the figures (JSON)
    done = subprocess.run(cmd, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise BuildError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} failed with exit code {done.returncode}")
    return done  # type: ignore[no-any-return]


def ensure_tools() -> bool:
    missing = [pkg for tool, pkg in TOOL_PACKAGES.items() if shutil.which(tool) is None
               and not Path(f"/usr/sbin/{tool}").exists()]
    if not missing:
        return True
    say(f"installing {', '.join(missing)} from Debian packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            return False
    return True


def fresh_image_exists(tag: str, max_age_days: float) -> bool:
    """The image is here and younger than `max_age_days` (a base older than that misses Debian's security fixes)."""
    done = subprocess.run(["buildah", "inspect", "--type", "image", "--format", "{{.OCIv1.Created}}", tag],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return False
    try:
        created = dt.datetime.fromisoformat(done.stdout.strip().split(" +")[0].split(".")[0].replace(" ", "T"))
    except ValueError:
        return False
    return (dt.datetime.now(dt.UTC).replace(tzinfo=None) - created).days < max_age_days


def make_base(workdir: Path) -> float:
    """debootstrap a minimal bookworm with Python and import it as BASE_TAG; returns the seconds it took."""
    started = time.monotonic()
    rootfs = workdir / "rootfs"
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    try:
        run([debootstrap, "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(rootfs),
             DEBIAN_MIRROR], stdout=subprocess.DEVNULL)
    finally:
        # debootstrap mounts the kernel's file systems inside the root while it installs and leaves them mounted
        # when it fails: unmount them before anything deletes the folder.
        for mount in ("proc", "sys", "dev/pts", "dev"):
            if os.path.ismount(rootfs / mount):
                subprocess.run(["umount", "--lazy", str(rootfs / mount)], check=False)
    # Nothing of apt's downloads or lists belongs in an image.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    archive = workdir / "rootfs.tar"
    run(["tar", "-C", str(rootfs), "-cf", str(archive), "."])
    run(["podman", "import", "--quiet", str(archive), BASE_TAG], stdout=subprocess.DEVNULL)
    shutil.rmtree(rootfs, ignore_errors=True)
    archive.unlink()
    return time.monotonic() - started


def build(tag: str, extras: str) -> float:
    started = time.monotonic()
    cmd = ["buildah", "bud", "--isolation", "chroot", "--network", "host", "--format", "docker", "--layers=false",
           "--file", str(CONTAINERFILE), "--ignorefile", str(IGNOREFILE), "--build-arg", f"BASE_IMAGE={BASE_TAG}",
           "--build-arg", f"EXTRAS={extras}", "--tag", tag]
    if HOST_CA_BUNDLE.is_file():
        # This machine may reach PyPI through a TLS-inspecting proxy whose CA only the host trusts: lend the host's
        # bundle to the build stage's pip (a mount, so it never lands in a layer).
        cmd += ["--volume", f"{HOST_CA_BUNDLE}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    run([*cmd, str(ROOT)])
    return time.monotonic() - started


def image_id(tag: str) -> str:
    done = subprocess.run(["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", tag],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def image_size(tag: str) -> int:
    done = run(["podman", "image", "inspect", "--format", "{{.Size}}", tag], capture_output=True)
    return int(done.stdout.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_container(container: str, *cmd: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
    if user:
        args += ["--user", user]
    return subprocess.run([*args, container, "--", *cmd], text=True, capture_output=True)


def smoke_test(tag: str) -> dict[str, object]:
    """Start the service inside the image as its own user and ask it /health and one /v1/predict."""
    info = json.loads(run(["buildah", "inspect", "--type", "image", tag], capture_output=True).stdout)
    config = info.get("Docker", {}).get("config", {}) or info.get("OCIv1", {}).get("config", {})
    user = str(config.get("User") or "")
    if not user or user.split(":")[0] in ("root", "0"):
        raise BuildError(f"the image runs as {user or 'root'}; it must run as a non-root user")
    if not config.get("Healthcheck"):
        raise BuildError("the image has no HEALTHCHECK")
    container = run(["buildah", "from", "--quiet", tag], capture_output=True).stdout.strip()
    process: subprocess.Popen[bytes] | None = None
    log = tempfile.NamedTemporaryFile(prefix="vereda-image-smoke-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        # No compiler and none of the desktop app's libraries in the final image.
        probe = in_container(container, "sh", "-c", "command -v gcc cc c++ x86_64-linux-gnu-gcc make || true")
        if probe.stdout.strip():
            raise BuildError(f"compilers in the final image: {probe.stdout.split()}")
        probe = in_container(container, "python3", "-c", "import PySide6", user=user)
        if probe.returncode == 0:
            raise BuildError("the desktop app's Qt is in the service's image")
        port = free_port()
        env = ["--env", "VEREDA_SERVER_DATABASE_URL=sqlite:////tmp/vereda-smoke.db", "--env",
               "VEREDA_SERVER_DATA_DIR=/tmp/vereda-smoke"]
        process = subprocess.Popen(
            ["buildah", "run", "--isolation", "chroot", "--network", "host", "--user", user, *env, container, "--",
             "vereda-server", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        health = None
        while time.monotonic() - started < 120 and process.poll() is None:
            try:
                with urllib.request.urlopen(base + "/health", timeout=3) as reply:
                    health = json.loads(reply.read())
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        if health is None:
            raise BuildError("the service in the image did not answer /health:\n"
                             + Path(log.name).read_text(errors="replace")[-3000:])
        ready = time.monotonic() - started
        request = urllib.request.Request(base + "/v1/predict", data=json.dumps(CASE4).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            answer = json.loads(reply.read())
        # The origin document's case 4 (chest pain, breathlessness): an acute illness, with a ranked differential.
        if answer.get("engine") != "cloud" or answer.get("severity") != "ENFERMEDAD_AGUDA" \
                or len(answer.get("top_conditions") or []) < 5:
            raise BuildError(f"unexpected /v1/predict answer: {json.dumps(answer)[:500]}")
        whoami = in_container(container, "id", "-u", user=user).stdout.strip()
        return {"health": health, "predict_severity": answer["severity"], "model": answer.get("model"),
                "ready_seconds": round(ready, 1), "user": user, "uid": whoami}
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the group this script started: buildah run and the server
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        subprocess.run(["buildah", "rm", container], capture_output=True)
        log.close()
        os.unlink(log.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="localhost/vereda-server:dev")
    parser.add_argument("--keep-base", action="store_true",
                        help="reuse the Debian base image when it exists and is less than a week old (default: make "
                        "it again)")
    parser.add_argument("--no-smoke", action="store_true", help="build only")
    parser.add_argument("--extras", default="server",
                        help="the package's extras (default: server; server,mlops,build: the jobs' tools image)")
    args = parser.parse_args(argv)
    if not ensure_tools():
        say("WARNING: could not install buildah, podman and debootstrap; the image is not built")
        return EXIT_NO_TOOLS
    figures: dict[str, object] = {"tag": args.tag}
    try:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="vereda-base-", dir="/var/tmp") as workdir:
            if args.keep_base and fresh_image_exists(BASE_TAG, max_age_days=7):
                figures["base_seconds"] = 0.0
            else:
                figures["base_seconds"] = round(make_base(Path(workdir)), 1)
        previous = image_id(args.tag)
        figures["build_seconds"] = round(build(args.tag, args.extras), 1)
        if previous:  # the last run's image, untagged by this build: do not let every CI run add 0.5 GB
            removed = subprocess.run(["buildah", "rmi", previous], capture_output=True, text=True)
            if removed.returncode != 0 and previous != image_id(args.tag):
                say(f"note: could not remove the previous image {previous[:12]}: {removed.stderr.strip()[-200:]}")
        figures["total_seconds"] = round(time.monotonic() - started, 1)
        size = image_size(args.tag)
        figures["image_bytes"] = size
        figures["image_mb"] = round(size / 1e6, 1)
        figures["base_mb"] = round(image_size(BASE_TAG) / 1e6, 1)
        if not args.no_smoke:
            figures["smoke"] = smoke_test(args.tag)
    except BuildError as exc:
        say(f"FAILED: {exc}")
        return 1
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
