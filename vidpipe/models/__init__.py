"""Model files: which named models there are, where their files live and how they get there.

    hub.py    the named models (`MODELS`), the model folder and the cache folder, resolving
              what a user typed (a path or a name) to a file, downloads (`pull`)

Knows nothing of detectors: loading a file into a network, or exporting a network to a file,
belongs to the family that owns the network (`vidpipe.detectors.yolox.weights`, `.export`).
"""
