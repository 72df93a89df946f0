"""The YOLOX family: blocks -> backbone (CSPDarknet) -> neck (PAFPN) -> head, composed by
injection (`model`), its weights (.pth / .safetensors / .onnx; `weights`), the torch engine
(`torch_engine`) and the ONNX export the CPU runtimes run (`export`). `family.load` is the
family's entry in `vidpipe.detectors.families`."""
