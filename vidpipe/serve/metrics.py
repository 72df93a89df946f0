"""`/metrics` of `vidpipe serve` in Prometheus' text format (prometheus_client): batches by
state, jobs by status across every batch's ledger, the running batch's jobs, and the
service process's own figures (resident memory, CPU, open files: prometheus_client's
process collector). Read from the store at each scrape: nothing to keep in step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector

from vidpipe.batch.jobs import LEDGER_NAME
from vidpipe.batch.ledger import STATUSES, read_rows
from vidpipe.serve.store import STATES, Store


class _StoreCollector:
    def __init__(self, store: Store) -> None:
        self.store = store

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


def metrics_text(store: Store) -> tuple[bytes, str]:
    """(the exposition, its content type) of the service over `store`."""
    registry = CollectorRegistry()
    registry.register(_StoreCollector(store))  # type: ignore[arg-type]
    ProcessCollector(registry=registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
