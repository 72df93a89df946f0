"""The YOLOX family: blocks -> backbone (CSPDarknet) -> neck (PAFPN) -> head, composed by
injection (`model`), its weights (.pth / .safetensors / .onnx; `weights`), and its
onnxruntime engine (`onnx`). `load` is the family's entry in `vidpipe.detectors.families`."""
