"""Evaluation: scoring a run's results files against ground truth, apart from the detectors
and trackers that made them (nothing here imports either; `vidpipe eval` is the command).

    coco.py   bbox mAP of a COCO results file against a COCO ground truth (pycocotools)
    mot.py    HOTA, IDF1 and MOTA of MOTChallenge tracks against their ground truth
              (Roboflow `trackers`' port of TrackEval)
"""
