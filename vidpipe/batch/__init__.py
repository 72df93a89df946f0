"""`vidpipe batch`: one task over many videos with local worker processes and a resumable
SQLite job ledger in the output folder.

    jobs.py    inputs (files, folders, manifests), output stems, the OUTDIR boundary
    tasks.py   the tasks (detect, gamma, chroma, frames): options, output names, one job
    ledger.py  the SQLite ledger and the skip / run / exhausted decision of a re-run
    runner.py  the driver and its spawn-context worker processes
"""

from __future__ import annotations
