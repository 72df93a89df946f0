"""`vidpipe.formats`: a run's results read back, and written for the tools people annotate
and curate video in (`vidpipe export`), and those tools' files read back as ground truth
(`vidpipe eval --gt`).

run.py          a run read back as `Boxes` (JSON Lines, MOTChallenge text), column by column
facts.py        `VideoFacts`: the video a run is of (displayed size, frames, rate)
export.py       `FORMATS`, `export`, `read_truth`: the formats by name, both ways
cvat.py         CVAT for video / for images 1.1 XML
mot.py          MOTChallenge sequence folder (seqinfo.ini, gt/ with labels.txt, det/)
datumaro.py     Datumaro's own format
labelstudio.py  Label Studio video tracking tasks and their labelling interface
fiftyone.py     FiftyOne video labels dataset folder
cocovid.py      COCO video (images per frame, track ids)
truth.py        ground truth and a run as the evaluators' files (COCO, MOTChallenge)
"""
