"""Tracking: stable ids for detections across frames (`Tracker`: SORT, ByteTrack, BoT-SORT,
OC-SORT behind one class), and counting what crosses lines and enters zones (`counting`).
Built on `vidpipe.types.Detections` alone; the `track` stage that feeds it the pipeline's
(Frame, Detections) pairs is `vidpipe.pipeline.track`."""
