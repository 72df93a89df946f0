"""Drawing onto video frames in their native pixel format (Y'CbCr planes, gray, packed RGB),
never through a full-frame RGB round trip; host (numpy) frames only. Knows nothing of
detectors or trackers: it draws `Detections`, polylines and shapes it is given.

    boxes.py    `annotate(frame, dets)`: boxes and "#id name 0.87" labels
    trails.py   `draw_trails`: each track's recent path as a polyline in its class colour
    regions.py  `draw_regions`, `draw_captions`: counting lines (with their "in" arrow) and
                zones, and their captions
    paint.py    what the three share: the class palette (`class_color`), default sizes, label
                text, display -> storage geometry, the polyline brush and the `Painter` that
                writes colours into the planes (package-internal, no leading underscore)
"""
