from __future__ import annotations

import hashlib
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from skimage import data as photos

from agent.config.detector import DetectorConfig, HogDetectorConfig, SsdliteDetectorConfig
from agent.vision.detectors.base import Detections, nms
from agent.vision.detectors.build import build_detector
from agent.vision.detectors.hog import HogDetector, margin_to_score, score_to_margin
from agent.vision.detectors.ssdlite import (
    BOX_CODER_SCALES,
    MODELS_DIR,
    SsdliteDetector,
    decode_boxes,
    load_anchors,
    logit_floor,
    postprocess,
    preprocess,
)

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = [
    "ssdlite_person_fp32.onnx",
    "ssdlite_person_int8.onnx",
    "ssdlite_anchors.npy",
    "nanodet_person_fp32.onnx",
    "nanodet_person_int8.onnx",
]

# Hand-judged extent of the person in scikit-image's photographs (x1, y1, x2, y2 pixels): the astronaut
# from hair to the bottom edge, without the helmet in her hands; the cameraman without the tripod.
ASTRONAUT_PERSON = np.array([20, 15, 365, 512], np.float32)
CAMERAMAN_PERSON = np.array([0, 65, 325, 512], np.float32)

HAS_HOG = hasattr(cv2, "HOGDescriptor")
needs_hog = pytest.mark.skipif(
    not HAS_HOG, reason=f"OpenCV {cv2.__version__} has no HOGDescriptor (OpenCV 5 ships it in the contrib wheel)"
)


def astronaut() -> np.ndarray:
    return cv2.cvtColor(photos.astronaut(), cv2.COLOR_RGB2BGR)


def cameraman() -> np.ndarray:
    return cv2.cvtColor(photos.camera(), cv2.COLOR_GRAY2BGR)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union)


@pytest.fixture(scope="module")
def int8() -> SsdliteDetector:
    return SsdliteDetector(SsdliteDetectorConfig(type="ssdlite", model="int8"))


@pytest.fixture(scope="module")
def fp32() -> SsdliteDetector:
    return SsdliteDetector(SsdliteDetectorConfig(type="ssdlite", model="fp32"))


@pytest.fixture(scope="module", params=["int8", "fp32"])
def model(request: pytest.FixtureRequest) -> SsdliteDetector:
    return request.getfixturevalue(request.param)


# -- shipped files ----------------------------------------------------------------------------------------


def test_shipped_files_match_their_checksums() -> None:
    sums = dict(reversed(line.split()) for line in (REPO_MODELS / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == sorted(SHIPPED)
    for name, digest in sums.items():
        data = (REPO_MODELS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert len(data) < 20 * 1024 * 1024, name


def test_the_package_finds_the_repository_models() -> None:
    assert (MODELS_DIR / "ssdlite_person_int8.onnx").samefile(REPO_MODELS / "ssdlite_person_int8.onnx")


def test_anchors_cover_the_ssdlite_grid() -> None:
    anchors = load_anchors()
    assert anchors.shape == (1917, 4)
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    assert centres.min() > 0 and centres.max() < 1
    assert np.all(anchors[:, 2:] > anchors[:, :2])


# -- the network on real photographs --------------------------------------------------------------------


@pytest.mark.parametrize(("photo", "person"), [(astronaut, ASTRONAUT_PERSON), (cameraman, CAMERAMAN_PERSON)])
def test_finds_the_person_in_a_photo(model: SsdliteDetector, photo, person: np.ndarray) -> None:
    found = model.detect(photo())
    assert len(found) == 1
    assert found.scores[0] > 0.8
    assert iou(found.boxes[0], person) > 0.8


@pytest.mark.parametrize("photo", [astronaut, cameraman])
@pytest.mark.parametrize("mirrored", [False, True])
def test_int8_agrees_with_fp32(int8: SsdliteDetector, fp32: SsdliteDetector, photo, mirrored: bool) -> None:
    frame = photo()
    if mirrored:
        frame = np.ascontiguousarray(frame[:, ::-1])
    a, b = fp32.detect(frame), int8.detect(frame)
    assert len(a) == len(b) == 1
    assert iou(a.boxes[0], b.boxes[0]) > 0.9
    assert abs(float(a.scores[0] - b.scores[0])) < 0.05


def test_a_photo_without_people_gives_nothing(model: SsdliteDetector) -> None:
    assert len(model.detect(cv2.cvtColor(photos.coffee(), cv2.COLOR_RGB2BGR))) == 0


@pytest.mark.parametrize("shape", [(480, 640, 3), (1, 1, 3), (1080, 1920, 3)])
def test_a_black_frame_gives_nothing(model: SsdliteDetector, shape: tuple[int, int, int]) -> None:
    found = model.detect(np.zeros(shape, np.uint8))
    assert len(found) == 0
    assert found.boxes.shape == (0, 4) and found.boxes.dtype == np.float32


@pytest.mark.parametrize(("width", "height"), [(512, 512), (1024, 384), (200, 300), (1920, 1080)])
def test_boxes_are_in_pixels_of_the_frame_given(int8: SsdliteDetector, width: int, height: int) -> None:
    frame = cv2.resize(astronaut(), (width, height), interpolation=cv2.INTER_AREA)
    found = int8.detect(frame)
    assert len(found) == 1
    scale = np.array([width / 512, height / 512, width / 512, height / 512], np.float32)
    assert iou(found.boxes[0], ASTRONAUT_PERSON * scale) > 0.75


def test_a_person_off_centre_is_found_where_they_are(int8: SsdliteDetector) -> None:
    frame = np.full((600, 1400, 3), 90, np.uint8)
    frame[60:572, 800:1312] = astronaut()
    found = int8.detect(frame)
    assert len(found) >= 1
    assert iou(found.boxes[0], ASTRONAUT_PERSON + np.array([800, 60, 800, 60], np.float32)) > 0.7


def test_grey_and_bgra_frames_are_accepted(int8: SsdliteDetector) -> None:
    grey = photos.camera()
    bgra = cv2.cvtColor(cameraman(), cv2.COLOR_BGR2BGRA)
    assert iou(int8.detect(grey).boxes[0], CAMERAMAN_PERSON) > 0.8
    assert iou(int8.detect(bgra).boxes[0], CAMERAMAN_PERSON) > 0.8
    with pytest.raises(ValueError, match="uint8"):
        int8.detect(np.zeros((300, 300, 3), np.float32))


def test_score_threshold_and_threads_come_from_config() -> None:
    cfg = SsdliteDetectorConfig(type="ssdlite", model="int8", threads=2, score_threshold=0.05)
    detector = SsdliteDetector(cfg)
    assert detector.session.get_session_options().intra_op_num_threads == 2
    lenient = detector.detect(astronaut())
    assert len(lenient) > 1
    assert lenient.scores.min() >= 0.05
    assert np.all(np.diff(lenient.scores) <= 0)


def test_an_explicit_model_path_is_used(tmp_path: Path) -> None:
    path = REPO_MODELS / "ssdlite_person_fp32.onnx"
    detector = SsdliteDetector(SsdliteDetectorConfig(type="ssdlite", model=path))
    assert iou(detector.detect(astronaut()).boxes[0], ASTRONAUT_PERSON) > 0.8
    missing = tmp_path / "absent.onnx"
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        SsdliteDetector(SsdliteDetectorConfig(type="ssdlite", model=missing))


# -- decoding and NMS without a model -------------------------------------------------------------------


def test_preprocessing_makes_a_300x300_rgb_image_in_minus_one_to_one() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :, 0] = 255  # blue, in OpenCV's BGR order
    frame[:, :, 1] = 51
    x = preprocess(frame)
    assert x.shape == (1, 300, 300, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 150, 150], [-1.0, 51 * 2 / 255 - 1, 1.0], atol=1e-6)


def test_zero_encodings_decode_to_the_anchor_itself() -> None:
    anchors = np.array([[0.1, 0.2, 0.5, 0.4], [0.0, 0.0, 1.0, 1.0]], np.float32)
    np.testing.assert_allclose(decode_boxes(np.zeros((2, 4), np.float32), anchors), anchors, atol=1e-6)


def test_encodings_shift_and_scale_the_anchor() -> None:
    anchor = np.array([[0.2, 0.2, 0.4, 0.6]], np.float32)  # centre (0.3, 0.4), height 0.2, width 0.4
    # One anchor height down, half a width left, twice as high, same width.
    enc = np.array([[1.0, -0.5, math.log(2.0), 0.0]], np.float32) * BOX_CODER_SCALES
    np.testing.assert_allclose(decode_boxes(enc, anchor), [[0.3, 0.0, 0.7, 0.4]], atol=1e-6)


def logits_for(scores: list[float]) -> np.ndarray:
    """Class logits whose person column gives these sigmoid scores; the background column, which the
    original graph ignores (sigmoid per class, not softmax), is set high to prove it is ignored."""
    p = np.array(scores, np.float64)
    person = np.log(p / (1 - p))
    return np.stack([np.full_like(person, 3.0), person], axis=1).astype(np.float32)[None]


def test_postprocess_thresholds_suppresses_clips_and_scales() -> None:
    anchors = np.array(
        [
            [0.1, 0.1, 0.5, 0.3],  # a person
            [0.11, 0.1, 0.51, 0.3],  # the same person, slightly lower score: suppressed
            [0.1, 0.6, 0.5, 0.8],  # another person
            [0.5, 0.5, 0.9, 0.9],  # below the threshold
            [0.8, 0.9, 1.2, 1.1],  # partly outside the image: clipped
        ],
        np.float32,
    )
    enc = np.zeros((1, 5, 1, 4), np.float32)
    found = postprocess(enc, logits_for([0.9, 0.8, 0.7, 0.3, 0.6]), anchors, 200, 100, 0.5, 0.45)
    np.testing.assert_allclose(found.scores, [0.9, 0.7, 0.6], atol=1e-6)
    np.testing.assert_allclose(found.boxes, [[20, 10, 60, 50], [120, 10, 160, 50], [180, 80, 200, 100]], atol=1e-3)


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999999, 1.0])
def test_thresholding_on_logits_keeps_exactly_the_anchors_whose_score_reaches_the_threshold(threshold: float) -> None:
    # Logits a float32 step or a few apart around the threshold's, where rounding the float64 sigmoid to
    # float32 decides, plus a wide spread; the reference scores every anchor as the original graph does.
    p = float(np.float32(threshold))
    centre = np.float32(math.log(p / (1 - p))) if p < 1 else np.float32(17.0)
    around = centre + np.arange(-40, 40, dtype=np.float32) * max(abs(centre), np.float32(1e-3)) * np.float32(2**-23)
    spread = np.random.default_rng(7).normal(0.0, 6.0, 5000).astype(np.float32)
    for person in (around.astype(np.float32), spread):
        reference = (1.0 / (1.0 + np.exp(-person.astype(np.float64)))).astype(np.float32)
        assert (person[reference >= threshold] >= logit_floor(threshold)).all()
    reference = (1.0 / (1.0 + np.exp(-around.astype(np.float64)))).astype(np.float32)
    logits = np.stack([np.zeros_like(around), around], axis=1)[None]
    anchors = np.tile(np.array([[0.1, 0.2, 0.5, 0.4]], np.float32), (len(around), 1))
    anchors[:, [0, 2]] += np.linspace(0.0, 0.5, len(around), dtype=np.float32)[:, None]
    found = postprocess(np.zeros((1, len(around), 1, 4), np.float32), logits, anchors, 100, 100, threshold, 1.0)
    assert sorted(found.scores.tolist()) == sorted(reference[reference >= threshold].tolist())


def test_postprocess_of_a_frame_without_candidates_is_empty() -> None:
    logits = logits_for([0.1, 0.2, 0.3])
    found = postprocess(np.zeros((1, 3, 1, 4), np.float32), logits, load_anchors()[:3], 10, 10, 0.5, 0.5)
    assert found.boxes.shape == (0, 4) and found.scores.shape == (0,)
    assert found.boxes.dtype == np.float32 and found.scores.dtype == np.float32


def test_postprocess_rejects_a_model_that_does_not_fit_the_anchors() -> None:
    with pytest.raises(ValueError, match="anchors"):
        postprocess(np.zeros((1, 3, 1, 4), np.float32), logits_for([0.5] * 3), load_anchors(), 10, 10, 0.5, 0.5)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.5, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.65, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.5, 0.9).tolist() == [1, 2, 0]
    assert nms(boxes, scores, 0.95, 0.5).tolist() == []


def test_detections_check_their_arrays() -> None:
    assert len(Detections.empty()) == 0
    with pytest.raises(ValueError, match="float32"):
        Detections(np.zeros((1, 4), np.float64), np.zeros((1,), np.float32))
    with pytest.raises(ValueError, match="scores"):
        Detections(np.zeros((2, 4), np.float32), np.zeros((1,), np.float32))


# -- the classical baseline -------------------------------------------------------------------------------


def test_svm_margins_map_to_scores_and_back() -> None:
    assert margin_to_score(np.array([0.0], np.float32))[0] == pytest.approx(0.5)
    for score in (0.1, 0.5, 0.73):
        assert margin_to_score(np.array([score_to_margin(score)], np.float32))[0] == pytest.approx(score)


@needs_hog
def test_hog_baseline_runs_behind_the_same_interface() -> None:
    strict = HogDetector(HogDetectorConfig(type="hog"))
    lenient = HogDetector(HogDetectorConfig(type="hog", score_threshold=0.3))
    frame = cv2.imread(str(Path(photos.__file__).parent / "camera.png"), cv2.IMREAD_COLOR)
    a, b = strict.detect(frame), lenient.detect(frame)
    assert len(b) >= len(a) and len(b) >= 1
    for found, threshold in ((a, 0.5), (b, 0.3)):
        assert found.boxes.dtype == np.float32 and found.scores.dtype == np.float32
        assert np.all(found.scores >= threshold) and np.all(found.scores < 1)
        assert np.all(found.boxes >= 0) and np.all(found.boxes[:, [2, 3]] <= [512, 512])
    assert len(strict.detect(np.zeros((480, 640, 3), np.uint8))) == 0
    assert len(strict.detect(np.zeros((100, 50, 3), np.uint8))) == 0


# -- configuration and registry -------------------------------------------------------------------------


def test_registry_builds_the_detector_the_type_names() -> None:
    configs = TypeAdapter(DetectorConfig)
    ssd = configs.validate_python({"type": "ssdlite", "model": "fp32", "threads": 1})
    assert isinstance(ssd, SsdliteDetectorConfig)
    assert isinstance(build_detector(ssd), SsdliteDetector)
    hog = configs.validate_python({"type": "hog"})
    assert isinstance(hog, HogDetectorConfig)
    if HAS_HOG:
        assert isinstance(build_detector(hog), HogDetector)
    assert configs.validate_python({"type": "ssdlite", "model": "/opt/heads.onnx"}).model == Path("/opt/heads.onnx")


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "yolo"},
        {"type": "ssdlite", "modle": "int8"},
        {"type": "ssdlite", "threads": 0},
        {"type": "ssdlite", "score_threshold": 0},
        {"type": "hog", "nms_iou": 1.5},
    ],
)
def test_bad_detector_configs_are_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(DetectorConfig).validate_python(bad)


def test_every_config_field_is_documented() -> None:
    schema = TypeAdapter(DetectorConfig).json_schema()
    for model in schema["$defs"].values():
        assert model["additionalProperties"] is False
        for name, field in model["properties"].items():
            assert field.get("title") and field.get("description"), name
