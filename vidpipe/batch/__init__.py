"""`vidpipe batch`: one task over many videos with worker processes (local or Ray tasks) and
a resumable SQLite job ledger in the output folder.

    jobs.py    inputs (files, folders, manifests), output stems, the OUTDIR boundary
    tasks.py   the tasks (detect, gamma, chroma, frames): options, output names, one job
    ledger.py  the SQLite ledger and the skip / run / exhausted decision of a re-run
    runner.py  the driver: plans a run, picks the engine, records results in the ledger
    pool.py    the local engine: spawn-context worker processes (WorkerPool)
    worker.py  what runs in a worker process: the Job, the worker loop, one job
    ray_engine.py      `--runner ray`: the jobs as Ray tasks (RayPool)
    model_server.py    `--gpus`: one model server process per device, batching across videos
    model_client.py    the worker's side of a model server (RemoteDetector), the wire protocol

Imports go one way (no cycles; import-linter checks it):
runner ─► pool | ray_engine ─► worker ─► tasks ─► model_client;
runner ─► model_server ─► tasks; runner, worker ─► ledger; runner ─► jobs.
"""

from __future__ import annotations
