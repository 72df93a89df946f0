"""`/metrics` of `vidpipe serve` in Prometheus' text format (prometheus_client): batches by
state, jobs by status across every batch's ledger, the running batch's jobs, and the
service process's own figures (resident memory, CPU, open files: prometheus_client's
process collector). Read from the store at each scrape: nothing to keep in step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector

from vidpipe.batch.jobs import LEDGER_NAME
from vidpipe.batch.ledger import STATUSES, read_rows
from vidpipe.io.inputs import redact
from vidpipe.serve.alerts import Mqtt, Tail, Webhook
from vidpipe.serve.cameras import Cameras
from vidpipe.serve.store import STATES, Store


class _StoreCollector:
    def __init__(self, store: Store, cameras: Cameras, sinks: list[Webhook | Mqtt],
                 tail: Tail) -> None:  # fmt: skip
        self.store, self.cameras, self.sinks, self.tail = store, cameras, sinks, tail

    def collect(self) -> Iterator[GaugeMetricFamily]:
        batches, jobs = Counter(), Counter()
        for batch in self.store.ids():
            batches[self.store.state(batch).state] += 1
            for row in read_rows(self.store.outdir(batch) / LEDGER_NAME):
                jobs[row.status] += 1
        family = GaugeMetricFamily("vidpipe_batches", "Batches by state", labels=["state"])
        for state in STATES:
            family.add_metric([state], batches[state])
        yield family
        family = GaugeMetricFamily("vidpipe_jobs", "Jobs of every batch by status",
                                   labels=["status"])  # fmt: skip
        for status in STATUSES:
            family.add_metric([status], jobs[status])
        yield family
        yield from self._cameras()
        yield from self._alerts()

    def _cameras(self) -> Iterator[GaugeMetricFamily]:
        names = ["camera"]
        up = GaugeMetricFamily("vidpipe_camera_up", "1 while its worker runs", labels=names)
        fps = GaugeMetricFamily("vidpipe_camera_fps", "Frames a second, its last second",
                                labels=names)  # fmt: skip
        frames = GaugeMetricFamily("vidpipe_camera_frames", "Frames its current worker read",
                                   labels=names)  # fmt: skip
        restarts = CounterMetricFamily("vidpipe_camera_restarts", "Workers that ended and "
                                       "were started again", labels=names)  # fmt: skip
        gaps = CounterMetricFamily("vidpipe_camera_gaps", "Outages of its worker",
                                   labels=names)  # fmt: skip
        for name, camera in sorted(self.cameras.cameras.items()):
            stats = self.cameras.stats(camera)
            up.add_metric([name], 1.0 if stats["state"] == "running" else 0.0)
            fps.add_metric([name], float(stats.get("fps", 0.0)))
            frames.add_metric([name], float(stats.get("frames", 0)))
            restarts.add_metric([name], float(stats["restarts"]))
            gaps.add_metric([name], float(stats["gaps"]))
        yield from (up, fps, frames, restarts, gaps)

    def _alerts(self) -> Iterator[GaugeMetricFamily]:
        sent = CounterMetricFamily("vidpipe_alerts_sent", "Events a webhook or broker took",
                                   labels=["sink"])  # fmt: skip
        dropped = CounterMetricFamily("vidpipe_alerts_dropped", "Events not delivered: its "
                                      "queue full, or its retries spent",
                                      labels=["sink", "reason"])  # fmt: skip
        yield CounterMetricFamily("vidpipe_alerts_events", "Camera events read (each goes "
                                  "to every sink)", value=float(self.tail.events))  # fmt: skip
        depth = GaugeMetricFamily("vidpipe_alerts_queued", "Events waiting for their sink",
                                  labels=["sink"])  # fmt: skip
        for target in self.sinks:
            sink = redact(target.url)
            sent.add_metric([sink], float(target.counts["sent"]))
            for reason in ("full", "failed"):
                dropped.add_metric([sink, reason], float(target.counts[f"dropped_{reason}"]))
            depth.add_metric([sink], float(target.queued))
        yield from (sent, dropped, depth)


def metrics_text(store: Store, cameras: Cameras, sinks: list[Webhook | Mqtt],
                 tail: Tail) -> tuple[bytes, str]:  # fmt: skip
    """(the exposition, its content type) of the service: its batches, cameras, alerts."""
    registry = CollectorRegistry()
    registry.register(_StoreCollector(store, cameras, sinks, tail))  # type: ignore[arg-type]
    ProcessCollector(registry=registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
