"""Core value types shared by every stage: Frame, PictureType, ColorInfo, VideoInfo, Detections,
and the box helpers every layer shares: `iou_matrix`, `class_label`.

Nothing here imports PyAV: conversions from `av` objects live in `vidpipe.io`, so both
decoding backends emit the same `Frame`. The optional `supervision` is imported only inside
`Detections.to_supervision`; torch not at all.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


class PictureType(enum.IntEnum):
    """Picture type as FFmpeg's `AVPictureType` (same values), plus NONE for unknown."""

    NONE = 0
    I = 1  # noqa: E741 - FFmpeg's name
    P = 2
    B = 3
    S = 4
    SI = 5
    SP = 6
    BI = 7

    @classmethod
    def from_letter(cls, letter: str) -> PictureType:
        """Parse FFmpeg's one-letter form ("I", "P", "B", "S", "i", "p", "b", "?")."""
        table = {
            "I": cls.I,
            "P": cls.P,
            "B": cls.B,
            "S": cls.S,
            "i": cls.SI,
            "p": cls.SP,
            "b": cls.BI,
        }
        return table.get(letter, cls.NONE)

    @property
    def letter(self) -> str:
        """The label vidpipe prints: "I", "P", "B", "S", "SI", "SP", "BI" or "?"."""
        return "?" if self is PictureType.NONE else self.name


@dataclass(frozen=True, slots=True)
class ColorInfo:
    """Colour description with FFmpeg's names (as ffprobe prints them).

    matrix: `colorspace` ("bt709", "bt470bg", "smpte170m", "bt2020nc", "gbr", "unknown", ...);
    range: "tv" (limited), "pc" (full) or "unknown"; primaries / transfer: FFmpeg names;
    chroma_location: "left", "center", "topleft", "top", "bottomleft", "bottom" or "unspecified".
    """

    matrix: str = "unknown"
    range: str = "unknown"
    primaries: str = "unknown"
    transfer: str = "unknown"
    chroma_location: str = "unspecified"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame.

    planes: contiguous arrays without line padding. For planar Y'CbCr, (Y, U, V) each
        `[H, W]` (chroma planes subsampled as `pix_fmt` says), uint8 for 8-bit formats and
        uint16 (values 0..2**bits-1, native endian) for 10/12/16-bit; for packed RGB/BGR,
        a single `[H, W, 3]` uint8 array. numpy on the host or torch on a device.
    pix_fmt: FFmpeg pixel format name of `planes` ("yuv420p", "yuv420p10le", "rgb24", ...).
    index: 0-based position in display order among all frames of the stream.
    pts: presentation timestamp in `time_base` units, None when the stream has none.
    time_base: seconds per pts unit.
    pkt_size: bytes of the packet this frame was decoded from, None when unknown.
    rotation: display rotation in degrees counter-clockwise, as FFmpeg's display matrix.
    wall_time: seconds since the epoch when a live source delivered the frame; None for a
        file (its time is `time`).
    """

    planes: tuple[Any, ...]
    pix_fmt: str
    index: int
    pts: int | None
    time_base: Fraction
    pict_type: PictureType = PictureType.NONE
    key_frame: bool = False
    color: ColorInfo = field(default_factory=ColorInfo)
    pkt_size: int | None = None
    rotation: int = 0
    wall_time: float | None = None

    @property
    def time(self) -> float | None:
        """Presentation time in seconds (pts * time_base), None when pts is None."""
        return None if self.pts is None else float(self.pts * self.time_base)

    @property
    def width(self) -> int:
        return int(self.planes[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.planes[0].shape[0])


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """One audio stream of a container."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration: float | None
    bit_rate: int | None


@dataclass(frozen=True, slots=True)
class GopSummary:
    """Picture-type statistics of a whole video stream (`vidpipe probe --gop`)."""

    frames: int
    i_frames: int
    p_frames: int
    b_frames: int
    other_frames: int
    key_frames: int
    keyframe_interval_mean: float | None
    keyframe_interval_max: int | None
    longest_b_run: int
    open_gops: int
    closed_gops: int


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """Probe result of a file's first video stream plus its container and audio streams.

    codec is FFmpeg's name of the codec (as ffprobe's codec_name: "av1", "msmpeg4v3"),
    decoder the FFmpeg decoder that reads it ("libdav1d", "msmpeg4"). Frame rates are
    Fractions (never an integer fps); durations in seconds; frame_count is the number of
    frames the container holds: its own count when it records one (AVI: less its empty index
    entries), else counted from packets. live: a network stream read as it runs (rtsp, rtmp,
    srt, udp, tcp, or http(s) without a duration), which may never end.
    """

    path: str
    container: str
    stream_index: int
    codec: str
    profile: str | None
    width: int
    height: int
    sar: Fraction | None
    dar: Fraction | None
    pix_fmt: str
    bit_depth: int
    chroma_subsampling: str
    color: ColorInfo
    field_order: str
    rotation: int
    frame_rate: Fraction | None
    avg_frame_rate: Fraction | None
    time_base: Fraction
    duration: float | None
    frame_count: int
    bit_rate: int | None
    audio: tuple[AudioInfo, ...] = ()
    gop: GopSummary | None = None
    decoder: str = ""
    live: bool = False


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections of one frame, one array per field (row i of every array is box i).

    xyxy: `[N, 4]` float32, x1 y1 x2 y2 in displayed-frame pixels (the picture as shown, after
        `Frame.rotation`); scores: `[N]` float32 0..1; class_ids: `[N]` int64 (any integer
        dtype is accepted); tracker_id: `[N]` int64 track ids (any integer dtype), or None when
        the boxes are not tracked. names: the class names by class id of the detector that
        made them (its vocabulary, shared by every frame; None: unknown), used for labels.

    Index it like supervision's `Detections`: a boolean mask `[N]`, integer indices (a list or
    array), a slice, or an int (a 1-row Detections); every field, tracker_id included, is
    indexed alike and the result owns copies of its arrays.

    >>> dets = Detections(
    ...     np.array([[0, 0, 10, 10], [5, 5, 20, 20]], np.float32),
    ...     np.array([0.9, 0.3], np.float32),
    ...     np.array([0, 2]),
    ... )
    >>> len(dets[dets.scores > 0.5]), dets[1].class_ids.tolist(), len(dets[:0])
    (1, [2], 0)
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    tracker_id: np.ndarray | None = None
    names: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.names is not None:
            object.__setattr__(self, "names", tuple(map(str, self.names)))
        for name in ("xyxy", "scores", "class_ids", "tracker_id"):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) and not (name == "tracker_id" and value is None):
                raise TypeError(
                    f"Detections.{name} must be a numpy array, got {type(value).__name__}"
                )
        n = len(self.xyxy) if self.xyxy.ndim else -1
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"Detections.xyxy must have shape (N, 4), got {self.xyxy.shape}")
        for name in ("scores", "class_ids", "tracker_id"):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                raise ValueError(
                    f"Detections.{name} must have shape ({n},) matching xyxy, got {value.shape}"
                )
        for name in ("class_ids", "tracker_id"):
            value = getattr(self, name)
            if value is not None and not np.issubdtype(value.dtype, np.integer):
                raise ValueError(f"Detections.{name} must be integers, got dtype {value.dtype}")

    @classmethod
    def empty(cls) -> Detections:
        """No detections: xyxy `[0, 4]` float32, scores `[0]` float32, class_ids `[0]` int64."""
        return cls(
            np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(
        self, index: int | slice | Sequence[int] | Sequence[bool] | np.ndarray
    ) -> Detections:
        """The selected rows as a new Detections (arrays copied, dtypes kept).

        index: an int (negative counts from the end; a 1-row Detections, as supervision
        does), a slice, a boolean mask `[N]`, or integer indices (list or 1-D array).
        Raises TypeError for any other index (float, bool scalar, tuple, 2-D array) and
        IndexError for an int out of range or a mask of the wrong length.
        """
        rows = self._rows(index)
        tracker_id = None if self.tracker_id is None else self.tracker_id[rows].copy()
        return Detections(
            self.xyxy[rows].copy(),
            self.scores[rows].copy(),
            self.class_ids[rows].copy(),
            tracker_id,
            self.names,
        )

    def _rows(self, index: object) -> slice | np.ndarray:
        """A numpy index (slice or integer array) that selects rows and keeps the row axis."""
        n = len(self)
        if isinstance(index, slice):
            return index
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            if not -n <= index < n:
                raise IndexError(f"Detections index {index} out of range for {n} detections")
            return np.array([int(index) % n], np.intp)
        if isinstance(index, (list, np.ndarray)):
            rows = np.asarray(index)
            if rows.size == 0 and rows.ndim == 1 and rows.dtype != np.bool_:
                return np.zeros(0, np.intp)  # [] comes as float64
            if rows.ndim == 1 and rows.dtype == np.bool_:
                if len(rows) != n:
                    raise IndexError(
                        f"Detections boolean mask has {len(rows)} entries, expected {n}"
                    )
                return np.flatnonzero(rows)
            if rows.ndim == 1 and np.issubdtype(rows.dtype, np.integer):
                if np.any((rows < -n) | (rows >= n)):
                    raise IndexError(f"Detections indices out of range for {n} detections")
                return rows
            raise TypeError(
                "Detections index must be a 1-D boolean mask or integer indices, got an array "
                f"of dtype {rows.dtype} and shape {rows.shape}"
            )
        raise TypeError(
            "Detections index must be an int, a slice, a boolean mask or integer indices, "
            f"got {type(index).__name__}"
        )

    @classmethod
    def from_supervision(
        cls,
        detections: Any,
        *,
        default_score: float | None = None,
        default_class_id: int | None = None,
    ) -> Detections:
        """A `supervision.Detections` -> Detections (arrays copied; supervision is not imported).

        xyxy -> xyxy (float32), confidence -> scores (float32), class_id -> class_ids (int64),
        tracker_id -> tracker_id (int64, None stays None). mask, data and metadata are not
        carried. supervision allows confidence and class_id to be None (ground truth,
        language-model detectors): that raises ValueError naming the field unless
        `default_score` / `default_class_id` is given, which then fills it; nothing is invented
        silently. Ids given as floats must be whole numbers.

        >>> import supervision as sv  # doctest: +SKIP
        >>> dets = Detections.from_supervision(sv.Detections(xyxy=np.zeros((1, 4)),
        ...     confidence=np.ones(1), class_id=np.zeros(1, int)))  # doctest: +SKIP
        """
        try:
            xyxy, confidence, class_id = detections.xyxy, detections.confidence, detections.class_id
            tracker_id = detections.tracker_id
        except AttributeError as err:
            raise TypeError(
                f"from_supervision needs a supervision.Detections, got {type(detections).__name__}"
            ) from err
        xyxy = np.array(xyxy, np.float32)  # a copy
        n = len(xyxy) if xyxy.ndim else 0
        if confidence is None:
            if default_score is None:
                raise ValueError(
                    "supervision Detections has no confidence: pass default_score= to fill it"
                )
            confidence = np.full(n, default_score, np.float32)
        if class_id is None:
            if default_class_id is None:
                raise ValueError(
                    "supervision Detections has no class_id: pass default_class_id= to fill it"
                )
            class_id = np.full(n, default_class_id, np.int64)
        return cls(
            xyxy,
            np.array(confidence, np.float32),
            _int64("class_id", class_id),
            None if tracker_id is None else _int64("tracker_id", tracker_id),
        )

    def to_supervision(self) -> Any:
        """This Detections -> a `supervision.Detections` (needs the optional `supervision`).

        xyxy -> xyxy, scores -> confidence, class_ids -> class_id, tracker_id -> tracker_id,
        arrays copied with their dtypes; `data["class_name"]` from `names` when known (what
        supervision's LabelAnnotator shows); mask None, metadata empty.

        >>> sv_dets = Detections.empty().to_supervision()  # doctest: +SKIP
        """
        try:
            import supervision as sv
        except ImportError as err:
            raise ImportError(
                "Detections.to_supervision needs supervision: pip install 'vidpipe[supervision]'"
            ) from err
        return sv.Detections(
            xyxy=self.xyxy.copy(),
            confidence=self.scores.copy(),
            class_id=self.class_ids.copy(),
            tracker_id=None if self.tracker_id is None else self.tracker_id.copy(),
            data={} if self.names is None else {"class_name": self._class_names()},
        )

    def _class_names(self) -> np.ndarray:
        """`[N]` the label of each box's class (`class_label`)."""
        return np.array([class_label(c, self.names) for c in self.class_ids.tolist()], dtype=str)


def class_label(class_id: int, names: Sequence[str] | None) -> str:
    """The label of a class: `names[class_id]`, or the id as text when there are no names or
    none for that id (a negative id, or one past the end).

    >>> class_label(1, ("person", "bicycle")), class_label(7, ("person",)), class_label(2, None)
    ('bicycle', '7', '2')
    """
    class_id = int(class_id)
    return names[class_id] if names is not None and 0 <= class_id < len(names) else str(class_id)


def _int64(name: str, values: Any) -> np.ndarray:
    """Integer ids (any integer dtype, or floats holding whole numbers) -> a new int64 array;
    ValueError naming the field otherwise."""
    values = np.asarray(values)
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"supervision Detections {name} must be integers, got {values.dtype}")
    if not np.issubdtype(values.dtype, np.integer) and (
        not np.all(np.isfinite(values)) or np.any(values != np.round(values))
    ):
        raise ValueError(f"supervision Detections {name} holds non-integer values")
    return values.astype(np.int64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`[A, B]` IoU of `[A, 4]` and `[B, 4]` x1 y1 x2 y2 boxes (any pixel unit), computed in
    the boxes' float dtype (float32 boxes give float32 IoU; integer boxes give float64).

    The one edge-case rule: a box's area is max(x2 - x1, 0) * max(y2 - y1, 0), so an empty
    box (zero width or height, or inverted) has area 0; a pair whose union is 0 (two empty
    boxes) has IoU 0, never NaN; no boxes on either side give an `[A, B]` array of zeros.

    >>> box = np.array([[0, 0, 10, 10]], np.float32)
    >>> iou_matrix(box, np.array([[0, 0, 10, 5], [20, 0, 30, 10], [3, 3, 3, 3]], np.float32))
    array([[0.5, 0. , 0. ]], dtype=float32)
    """
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    ax1, ay1, ax2, ay2 = (a[:, i, None] for i in range(4))  # [A, 1] each
    bx1, by1, bx2, by2 = (b[:, i] for i in range(4))  # [B] each
    inter_w = np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0)
    inter_h = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0)
    inter = inter_w * inter_h
    area_a = np.maximum(ax2 - ax1, 0) * np.maximum(ay2 - ay1, 0)
    area_b = np.maximum(bx2 - bx1, 0) * np.maximum(by2 - by1, 0)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def frame_record(frame: Frame) -> dict[str, object]:
    """The listing of one frame (`vidpipe frames --json`): index, pts, time, type, key, size,
    and for a live source's frame its wall_time (seconds since the epoch)."""
    record: dict[str, object] = {
        "index": frame.index,
        "pts": frame.pts,
        "time": frame.time,
        "type": frame.pict_type.letter,
        "key": frame.key_frame,
        "size": frame.pkt_size,
    }
    if frame.wall_time is not None:
        record["wall_time"] = round(frame.wall_time, 6)
    return record
