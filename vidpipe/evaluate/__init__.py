"""Evaluation: scoring a run's results files against ground truth, apart from the detectors
and trackers that made them (nothing here imports either; `vidpipe eval` is the command).

    agreement.py  two runs of a detector over the same frames box by box, per class, without
              ground truth (a precision or a canvas against the reference; `vidpipe models check`)
    coco.py   bbox mAP of a COCO results file against a COCO ground truth (pycocotools)
    mot.py    HOTA, IDF1 and MOTA of MOTChallenge tracks against their ground truth
              (Roboflow `trackers`' port of TrackEval)
"""
