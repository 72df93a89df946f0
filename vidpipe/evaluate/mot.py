"""`evaluate_mot`: HOTA, IDF1 and CLEAR MOT (MOTA) of a MOTChallenge result file against a
ground-truth file, computed by Roboflow `trackers`' evaluation (a port of TrackEval's
algorithms, checked by its authors against TrackEval; `pip install 'vidpipe[eval]'`).

Files are MOTChallenge text: `frame,id,x,y,w,h,score,...` (frame 1-based, box in pixels);
a ground-truth file's 7th column (1: evaluated, 0: ignored) and, when present, its class and
visibility columns are honoured as TrackEval does for MOT17 (distractor classes removed).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from vidpipe.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotReport:
    """One sequence's tracking metrics (fractions 0..1 for the scores, counts otherwise)."""

    hota: float
    deta: float
    assa: float
    idf1: float
    idp: float
    idr: float
    mota: float
    motp: float
    id_switches: int
    false_positives: int
    false_negatives: int
    fragmentations: int
    mostly_tracked: int
    mostly_lost: int
    gt_boxes: int
    pred_boxes: int


def evaluate_mot(
    gt: str | os.PathLike[str], pred: str | os.PathLike[str], *, iou: float = 0.5
) -> MotReport:
    """Compare `pred` with `gt` (MOTChallenge files). iou: the match threshold of CLEAR and
    the identity metrics (HOTA averages over 0.05..0.95 itself). Raises InputError for a
    missing, empty or malformed file, or when the evaluation package is not installed."""
    if not 0.0 < iou <= 1.0:
        raise InputError(f"--iou must be in (0, 1], got {iou:g}")
    for flag, path in (("--gt", gt), ("--pred", pred)):
        if not Path(path).is_file():
            raise InputError(f"{flag} {os.fspath(path)}: no such file")
    try:
        from trackers.eval import evaluate_mot_sequence
    except ImportError as err:
        raise InputError(
            "MOT evaluation needs Roboflow's trackers: pip install 'vidpipe[eval]'"
        ) from err
    try:
        result = evaluate_mot_sequence(
            gt, pred, metrics=["CLEAR", "HOTA", "Identity"], threshold=iou
        )
    except (ValueError, IndexError, KeyError) as err:
        raise InputError(f"not a MOTChallenge file pair ({gt}, {pred}): {err}") from None
    clear, hota, ident = result.CLEAR, result.HOTA, result.Identity
    assert clear is not None and hota is not None and ident is not None
    if int(ident.IDTP + ident.IDFN) == 0:
        rows = sum(1 for line in Path(gt).read_text(errors="replace").splitlines() if line.strip())
        if rows:
            log.warning(
                "%s: none of its %d boxes is evaluated: in ground truth, column 7 is a flag "
                "(1: evaluated, 0: ignored), where a result file has scores", os.fspath(gt), rows
            )  # fmt: skip
    return MotReport(
        hota=float(hota.HOTA), deta=float(hota.DetA), assa=float(hota.AssA),
        idf1=float(ident.IDF1), idp=float(ident.IDP), idr=float(ident.IDR),
        mota=float(clear.MOTA), motp=float(clear.MOTP), id_switches=int(clear.IDSW),
        false_positives=int(clear.CLR_FP), false_negatives=int(clear.CLR_FN),
        fragmentations=int(clear.Frag), mostly_tracked=int(clear.MT), mostly_lost=int(clear.ML),
        gt_boxes=int(ident.IDTP + ident.IDFN), pred_boxes=int(ident.IDTP + ident.IDFP),
    )  # fmt: skip
