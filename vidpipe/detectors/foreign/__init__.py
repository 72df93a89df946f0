"""Detector families read from other projects' exports (ONNX, OpenVINO IR): YOLOv5-style,
YOLOv8/11-style, end-to-end (YOLOv10, YOLO26) and RT-DETR-style. Each family module is its
layout (`ExportFormat`: input convention, output decoding, NMS or not); `exported.py` loads
any of them on a CPU runtime or onnxruntime's GPU providers.
"""
