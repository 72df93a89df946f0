"""Object detection behind one protocol: `Detector` (prepare / infer / names / batch /
input_spec) made by `load_detector` from `DetectOptions`.

    options.py      DetectOptions (validated once; the CLI's and batch's defaults)
    detector.py     Detector, load_detector, devices, CPU thread use
    families.py     the registry of model families (module + `load(path, request)`)
    recognize.py    which family an exported graph is (output shape, exporters' metadata)
    yolox/          the YOLOX family: modules, weights, grid decode, ONNX export, engines
    foreign/        other projects' exports: YOLOv5, YOLOv8/11, end-to-end, RT-DETR
    runtimes.py     CPU runtimes for exported graphs: onnxruntime, OpenVINO
    preprocess.py   InputSpec and the letterbox on the host (numpy + swscale)
    device_letterbox.py  the letterbox on a torch device (CUDA)
    postprocess.py  decoded boxes -> NMS -> Detections in displayed-frame pixels
    nms.py, nms_torch.py  class-aware NMS in numpy and on a torch device
    names.py        COCO class names and category ids, the `--classes` option
"""
