"""Object detection behind one protocol: `Detector` (prepare / infer / names / batch /
input_spec) made by `load_detector` from `DetectOptions`.

    options.py      DetectOptions (validated once; the CLI's and batch's defaults)
    detector.py     Detector, load_detector, devices, CPU thread use
    families.py     the registry of model families (module + `load(path, request)`)
    yolox/          the YOLOX family: blocks, backbone, neck, head, model, weights, onnx
    hub.py          named models: download, cache, checksums
    preprocess.py   InputSpec and the letterbox on the model's device
    postprocess.py  decoded boxes -> NMS -> Detections in displayed-frame pixels
    draw.py         annotate(frame, dets); coco.py, results.py: COCO names, JSON Lines / COCO
"""
