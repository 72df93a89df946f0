"""`vidpipe serve`: a long-running service that takes batches over HTTP and runs them as
`vidpipe batch` does, its SQLite ledgers its store (a restart resumes), with Prometheus
metrics and health endpoints.

store.py    the batches on disk (request, state, OUTDIR, log); input roots (`confined`)
manager.py  `Manager`: one batch at a time, each in its own process, on the event loop
child.py    the process of one batch (`run_batch`), ended with the service
app.py      the FastAPI app (`create_app`, `ServeSettings`): routes, token, body limit
metrics.py  `/metrics` (prometheus_client)
"""
