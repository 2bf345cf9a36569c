"""Prometheus metrics: requests and latency by route, feedback received and model downloads per clinic.

With one process the default registry is exposed. With several workers (`vereda-server serve --workers N`) the CLI
sets PROMETHEUS_MULTIPROC_DIR before the workers start, each worker writes its counters there, and /metrics adds them
up across workers (prometheus-client's multiprocess mode). Separate replicas each expose their own /metrics and
Prometheus sums them. Labels are bounded: route templates (not raw paths), clinic public ids, model versions.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("vereda_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"])
LATENCY = Histogram(
    "vereda_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FEEDBACK = Counter(
    "vereda_feedback_records_total",
    "Feedback records received, by clinic and outcome (accepted = newly stored, duplicate = replay)",
    ["clinic", "status"],
)
DOWNLOADS = Counter(
    "vereda_model_downloads_total", "Model bundle downloads (partial = a resumed range)",
    ["version", "clinic", "partial"],
)
PREDICTIONS = Counter(
    "vereda_predictions_total", "Cloud predictions by model version and state", ["version", "severity"]
)
# How many /v1/predict requests each engine call diagnosed together (server.cloud_engine.PredictBatcher): the
# evidence for tuning VEREDA_SERVER_PREDICT_BATCH_MAX and the worker count (docs/deploy-central.md).
PREDICT_BATCH = Histogram(
    "vereda_predict_batch_size", "Requests diagnosed per engine call of the predict batcher",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
ENROLLMENTS = Counter("vereda_enrollments_total", "Devices enrolled, by clinic", ["clinic"])
AUDIT_ALERTS = Counter(
    "vereda_audit_alerts_total", "Audit chain heads that went backwards (rewound) or changed (rewritten), by clinic",
    ["clinic", "kind"],
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def render() -> tuple[bytes, str]:
    """The exposition text for this process, or for all workers in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
