"""Object detection: the YOLOX family in PyTorch, its weights, pre/post-processing, drawing and
COCO results."""
