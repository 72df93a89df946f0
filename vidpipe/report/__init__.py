"""`vidpipe report`: what runs wrote, turned into one HTML page to open, send and archive.

runs.py     a run as the page shows it: its events read back; intervals, objects and
            tracks per frame, decimation (the boxes: `vidpipe.formats.run`)
thumbs.py   the best frames with their boxes, as JPEG data URIs
page.py     `write_report`: the page (Jinja2 template, Plotly, the player's script in
            assets/), its data as JSON inside it; `segment_runs`, `check_page`
batch.py    a `vidpipe batch` folder read back: the jobs table from its ledger and the
            runs of its finished detect jobs (`write_batch_report`)
"""
