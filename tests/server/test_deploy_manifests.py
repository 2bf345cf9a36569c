"""The Kubernetes manifests (deploy/k8s) and the monitoring files (deploy/monitoring), checked offline (issue 16).

Every object is validated against the Kubernetes API's JSON schemas with `kubernetes-validate` (strict: unknown
fields are errors), both as written and as kustomize renders them when kubectl is here. Then what a real deployment
relies on is checked by name: probes on /health, limits, a non-root read-only pod, pods that do not migrate, the
migration as a job, 3-20 replicas on CPU, TLS. The Prometheus rules and the Grafana dashboard must name only metrics
and labels that a real `vereda-server serve` exposes on /metrics after real traffic.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.server.helpers import CASE4, METRICS_AUTH, ROOT, auth, enroll, feedback_record, open_sessions, signed_bundle

K8S = ROOT / "deploy" / "k8s"
MONITORING = ROOT / "deploy" / "monitoring"
KUBERNETES_VERSION = "1.30.0"  # the oldest minor the managed offerings still support; newer ones accept these too
TIMEOUT = 30


def _raw(kustomization_dir: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((kustomization_dir / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((kustomization_dir / name).read_text()) if d]
    return docs


def _rendered(kustomization_dir: Path) -> list[dict[str, Any]] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    done = subprocess.run([kubectl, "kustomize", str(kustomization_dir)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def manifests() -> dict[str, list[dict[str, Any]]]:
    out = {}
    for part in ("base", "migrate"):
        rendered = _rendered(K8S / part)
        out[part] = rendered if rendered is not None else _raw(K8S / part)
    return out


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("part", ["base", "migrate"])
def test_every_object_is_valid_against_the_kubernetes_schemas(part: str) -> None:
    import kubernetes_validate

    docs = _raw(K8S / part)
    rendered = _rendered(K8S / part) or []
    assert docs
    for doc in docs + rendered:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:  # name the object, not only the schema path
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_the_validator_refuses_a_wrong_manifest() -> None:
    """The check above can fail: a misspelt field and a wrong type are refused."""
    import kubernetes_validate

    deployment = _one(_raw(K8S / "base"), "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_deployment_is_a_non_root_read_only_pod_that_never_migrates(manifests: dict[str, Any]) -> None:
    docs = manifests["base"]
    pod = _one(docs, "Deployment", "vereda-server")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health", probe
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and {"cpu", "memory"} <= set(
        container["resources"]["limits"])
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # The pods get VEREDA_SERVER_MIGRATE_AT_START=false from the ConfigMap; the job runs `vereda-server migrate`.
    config_name = container["envFrom"][0]["configMapRef"]["name"]
    assert _one(docs, "ConfigMap", config_name)["data"]["VEREDA_SERVER_MIGRATE_AT_START"] == "false"
    assert "migrate" not in container.get("args", [])
    job = _one(manifests["migrate"], "Job", "vereda-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert job["spec"]["completions"] == 1 and job["spec"]["parallelism"] == 1
    # Secrets: the database URL, the signing public key and the metrics token, all from one Secret.
    secret = _one(docs, "Secret", "vereda-server")
    assert {"database-url", "metrics-token", "public.pem"} <= set(secret["stringData"])
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert refs == {"VEREDA_SERVER_DATABASE_URL": "database-url", "VEREDA_SERVER_METRICS_TOKEN": "metrics-token"}
    assert volumes[mounts["/etc/vereda/keys"]]["secret"]["items"][0]["key"] == "public.pem"


def test_scaling_disruption_ingress_and_the_drift_report(manifests: dict[str, Any]) -> None:
    docs = manifests["base"]
    hpa = _one(docs, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 20)
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["scaleTargetRef"]["name"] == "vereda-server"
    assert _one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] >= 1
    ingress = _one(docs, "Ingress")["spec"]
    assert ingress["tls"][0]["secretName"] and ingress["tls"][0]["hosts"] == [ingress["rules"][0]["host"]]
    service = _one(docs, "Service")
    assert service["spec"]["selector"] == _one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    cron = _one(docs, "CronJob", "vereda-drift-report")["spec"]
    command = " ".join(cron["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "vereda-server drift" in command and "--out" in command
    dhis2 = _one(docs, "CronJob", "vereda-dhis2-report")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    command = " ".join(dhis2["containers"][0]["args"])
    assert "vereda-server report dhis2 --week" in command and "--token-file" in command


# --- monitoring -----------------------------------------------------------------------------------------------------


def _expressions() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((MONITORING / "vereda-alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    prometheus = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert "vereda-alerts.yml" in prometheus["rule_files"]
    assert prometheus["scrape_configs"][0]["metrics_path"] == "/metrics"
    return exprs


def _exposed(text: str) -> dict[str, set[str]]:
    """Metric name -> label names, from the exposition text."""
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", line)
        if m and not line.startswith("#"):
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(2) or ""))
            out.setdefault(m.group(1), set()).update(labels)
    return out


def test_dashboard_and_alerts_name_only_metrics_the_service_exposes(start_server: Any, tmp_path: Path) -> None:
    from server import registry
    from server.db import crud

    database = f"sqlite:///{tmp_path / 'vereda-server.db'}"
    server = start_server(database)
    # Real traffic of every kind the dashboard shows: predict, feedback, enrollment, a model download.
    bundle = registry.prepare(signed_bundle(tmp_path / "bundle", "2026.12.0"),
                              public_key=ROOT / "assets" / "keys" / "dev-public.pem")
    with open_sessions(database)() as session:
        crud.add_model(session, bundle, "tests")
        crud.promote(session, "2026.12.0", "tests", reason="monitoring test")
        session.commit()
    device = enroll(server.url, database)
    assert requests.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT).status_code == 200
    assert requests.post(f"{server.url}/v1/feedback:batch", json={"records": [feedback_record(device["clinic_id"])]},
                         headers=auth(device), timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{server.url}/v1/models/2026.12.0/bundle", headers=auth(device),
                        timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{server.url}/nothing-here", timeout=TIMEOUT).status_code == 404
    for seq, head in ((180, "2" * 64), (150, "3" * 64)):  # an audit history that went backwards: an alert
        assert requests.post(f"{server.url}/v1/device/audit-head", json={"seq": seq, "hash": head},
                             headers=auth(device), timeout=TIMEOUT).status_code == 200
    text = requests.get(f"{server.url}/metrics", headers=METRICS_AUTH, timeout=TIMEOUT).text
    exposed = _exposed(text)

    checked = 0
    for expr in _expressions():
        names = set(re.findall(r"\bvereda_[a-z_]+", expr))
        assert names, expr
        for name in names:
            assert name in exposed, f"{name} (in {expr!r}) is not on /metrics: {sorted(exposed)}"
            # Labels the expression selects or groups by must be labels of that metric.
            selectors = re.findall(rf"{name}\{{([^}}]*)\}}", expr)
            used = {lbl for s in selectors for lbl in re.findall(r"([a-z_]+)\s*=~?", s)}
            used |= {lbl.strip() for g in re.findall(r"by \(([^)]*)\)", expr) for lbl in g.split(",")} - {"le"}
            missing = used - exposed[name]
            # A `by (...)` may name a label of another metric in the same expression; it must exist on one of them.
            missing = {lbl for lbl in missing if not any(lbl in exposed[n] for n in names)}
            assert not missing, f"{expr!r}: labels {missing} are not on {name} ({sorted(exposed[name])})"
            checked += 1
    assert checked >= 15


# --- the image's requirements ---------------------------------------------------------------------------------------


def test_the_image_installs_the_server_extra_without_the_desktop_app() -> None:
    """What deploy/Containerfile's build stage installs, from the real pyproject.toml (the script it runs, with the
    Containerfile's own DESKTOP_ONLY list)."""
    import sys

    containerfile = (ROOT / "deploy" / "Containerfile").read_text()
    desktop_only = re.search(r'^ARG DESKTOP_ONLY="([^"]*)"', containerfile, flags=re.MULTILINE)
    assert desktop_only, "deploy/Containerfile lost its DESKTOP_ONLY argument"
    done = subprocess.run([sys.executable, str(ROOT / "deploy" / "image_requirements.py"), str(ROOT / "pyproject.toml"),
                           "--extras", "server", "--skip", desktop_only.group(1)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    names = {re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower() for line in done.stdout.splitlines()}
    assert {"fastapi", "uvicorn", "psycopg", "onnxruntime", "sqlalchemy", "alembic", "prometheus-client"} <= names
    assert not names & {"pyside6-essentials", "sqlcipher3", "scikit-learn", "pytest", "pyinstaller", "vereda"}
    # Nothing the service imports is left out: every skipped distribution is absent from server/ and app/core/.
    for name in desktop_only.group(1).split():
        module = {"pyside6-essentials": "PySide6"}.get(name, name)
        for folder in ("server", "app/core"):
            hits = subprocess.run(["grep", "-rlE", rf"^\s*(import|from) {module}\b", str(ROOT / folder),
                                   "--include=*.py"], capture_output=True, text=True).stdout
            assert not hits, f"{name} is left out of the image but {hits.split()} import it"
    unknown = subprocess.run([sys.executable, str(ROOT / "deploy" / "image_requirements.py"),
                              str(ROOT / "pyproject.toml"), "--extras", "servr"], capture_output=True, text=True)
    assert unknown.returncode != 0 and "servr" in unknown.stderr
