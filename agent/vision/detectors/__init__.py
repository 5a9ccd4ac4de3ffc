"""Person detectors, chosen by the `type` of their config (one module per detector).

To add one (say an overhead head detector in ONNX): add its settings class to `agent.config.detector`
(derived from `DetectorConfigBase`, with `type: Literal["<name>"]`, and listed in `DetectorConfig`), write
`agent/vision/detectors/<name>.py` with a class with `detect(frame_bgr) -> Detections`, and add it to `_BUILDERS`
in `build.py`. Nothing else in the agent changes. Importing this package loads neither OpenCV nor onnxruntime;
building a detector does.
"""
