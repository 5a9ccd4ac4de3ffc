"""The NanoDet person detector: the shipped networks on real photos, int8 against fp32, and the GFL decoding,
score calibration and thread budget on their own."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from skimage import data as photos

from agent.config.detector import DetectorConfig, NanodetDetectorConfig
from agent.vision.detectors.build import build_detector
from agent.vision.detectors.nanodet import (
    BINS,
    CHANNELS,
    MEAN_BGR,
    MODELS_DIR,
    SCORE_CALIBRATION,
    STD_BGR,
    NanodetDetector,
    calibrate,
    decode_level,
    logit_floor,
    postprocess,
    preprocess,
    side_distances,
)
from agent.vision.detectors.onnx_session import auto_threads
from tests.vision.test_detectors import ASTRONAUT_PERSON, CAMERAMAN_PERSON, REPO_MODELS, astronaut, cameraman, iou


@pytest.fixture(scope="module")
def int8() -> NanodetDetector:
    return NanodetDetector(NanodetDetectorConfig(type="nanodet", model="int8"))


@pytest.fixture(scope="module")
def fp32() -> NanodetDetector:
    return NanodetDetector(NanodetDetectorConfig(type="nanodet", model="fp32"))


@pytest.fixture(scope="module", params=["int8", "fp32"])
def model(request: pytest.FixtureRequest) -> NanodetDetector:
    return request.getfixturevalue(request.param)


def mirrored(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


# -- the shipped networks on real photographs --------------------------------------------------------------


def test_the_package_finds_the_repository_models() -> None:
    assert (MODELS_DIR / "nanodet_person_int8.onnx").samefile(REPO_MODELS / "nanodet_person_int8.onnx")


@pytest.mark.parametrize(("photo", "person"), [(astronaut, ASTRONAUT_PERSON), (cameraman, CAMERAMAN_PERSON)])
def test_finds_the_person_in_a_photo(model: NanodetDetector, photo, person: np.ndarray) -> None:
    found = model.detect(photo())
    assert len(found) == 1
    assert found.scores[0] > 0.7
    assert iou(found.boxes[0], person) > 0.85


@pytest.mark.parametrize("photo", [astronaut, cameraman])
@pytest.mark.parametrize("flip", [False, True])
def test_int8_agrees_with_fp32(int8: NanodetDetector, fp32: NanodetDetector, photo, flip: bool) -> None:
    # int8 scores differ between CPUs by a quantization step or two (integer kernels differ), so the
    # tolerances are those of two detectors seeing the same person, not of bit-identical arithmetic.
    frame = mirrored(photo()) if flip else photo()
    a, b = fp32.detect(frame), int8.detect(frame)
    assert len(a) == len(b) == 1
    assert iou(a.boxes[0], b.boxes[0]) > 0.9
    assert abs(float(a.scores[0] - b.scores[0])) < 0.1


def test_the_raw_maps_of_int8_and_fp32_agree_where_a_person_is(int8: NanodetDetector, fp32: NanodetDetector) -> None:
    a, b = fp32.raw(astronaut()), int8.raw(astronaut())
    for out_a, out_b in zip(a, b, strict=True):
        assert out_a.shape == out_b.shape and out_a.shape[1] == CHANNELS
    # The best cell of the finest map with a person: same place (or a neighbour), similar logit.
    best_a = np.unravel_index(np.argmax(a[1][0, 0]), a[1].shape[2:])
    best_b = np.unravel_index(np.argmax(b[1][0, 0]), b[1].shape[2:])
    assert max(abs(int(p) - int(q)) for p, q in zip(best_a, best_b, strict=True)) <= 1
    assert abs(float(a[1][0, 0][best_a] - b[1][0, 0][best_b])) < 0.6


def test_a_photo_without_people_gives_nothing(model: NanodetDetector) -> None:
    assert len(model.detect(cv2.cvtColor(photos.coffee(), cv2.COLOR_RGB2BGR))) == 0


@pytest.mark.parametrize("shape", [(480, 640, 3), (1, 1, 3), (1080, 1920, 3)])
def test_a_black_frame_gives_nothing(model: NanodetDetector, shape: tuple[int, int, int]) -> None:
    found = model.detect(np.zeros(shape, np.uint8))
    assert len(found) == 0 and found.boxes.shape == (0, 4) and found.boxes.dtype == np.float32


@pytest.mark.parametrize(("width", "height"), [(512, 512), (1024, 384), (200, 300), (1920, 1080)])
def test_boxes_are_in_pixels_of_the_frame_given(int8: NanodetDetector, width: int, height: int) -> None:
    frame = cv2.resize(astronaut(), (width, height), interpolation=cv2.INTER_AREA)
    found = int8.detect(frame)
    assert len(found) == 1
    scale = np.array([width / 512, height / 512, width / 512, height / 512], np.float32)
    assert iou(found.boxes[0], ASTRONAUT_PERSON * scale) > 0.75


def test_a_small_person_is_found_where_ssdlite_input_would_lose_them(int8: NanodetDetector) -> None:
    # The cameraman at 72 px of a 576-px frame (an eighth of its height), off centre on a plain floor.
    frame = np.full((576, 768, 3), 120, np.uint8)
    small = cv2.resize(cameraman()[40:512, 0:335], (51, 72), interpolation=cv2.INTER_AREA)
    frame[400:472, 500:551] = small
    found = int8.detect(frame)
    assert len(found) >= 1
    assert iou(found.boxes[0], np.array([500, 400, 551, 472], np.float32)) > 0.5


def test_the_input_size_and_threads_come_from_config() -> None:
    cfg = NanodetDetectorConfig(type="nanodet", input_size=(416, 320), threads=2, score_threshold=0.3)
    detector = NanodetDetector(cfg)
    assert detector.session.get_session_options().intra_op_num_threads == 2
    assert [out.shape[2:] for out in detector.raw(astronaut())] == [(40, 52), (20, 26), (10, 13)]
    assert iou(detector.detect(astronaut()).boxes[0], ASTRONAUT_PERSON) > 0.8


def test_an_explicit_model_path_is_used_with_the_fp32_calibration(tmp_path: Path) -> None:
    detector = NanodetDetector(NanodetDetectorConfig(type="nanodet", model=REPO_MODELS / "nanodet_person_int8.onnx"))
    assert detector.calibration == SCORE_CALIBRATION["fp32"]
    assert iou(detector.detect(astronaut()).boxes[0], ASTRONAUT_PERSON) > 0.8
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        NanodetDetector(NanodetDetectorConfig(type="nanodet", model=tmp_path / "absent.onnx"))
    with pytest.raises(ValueError, match="NanoDet"):
        NanodetDetector(NanodetDetectorConfig(type="nanodet", model=REPO_MODELS / "ssdlite_person_int8.onnx"))


# -- pre- and post-processing without a model -----------------------------------------------------------


def test_preprocessing_normalises_bgr_channels_into_nchw() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :, 0] = 255
    frame[:, :, 2] = 51
    x = preprocess(frame, (320, 256))
    assert x.shape == (1, 3, 256, 320) and x.dtype == np.float32 and x.flags.c_contiguous
    expected = (np.array([255, 0, 51], np.float32) - MEAN_BGR) / STD_BGR
    np.testing.assert_allclose(x[0, :, 100, 100], expected, rtol=1e-5)


def test_side_distances_are_the_expectation_of_each_sides_bins() -> None:
    bins = np.full((1, 4, BINS), -30.0, np.float32)
    bins[0, 0, 3] = 10.0  # left: all weight on bin 3
    bins[0, 1, 0] = bins[0, 1, 2] = 10.0  # top: half on 0, half on 2 -> 1
    bins[0, 2, :] = 0.0  # right: uniform -> 5
    bins[0, 3, 10] = 10.0  # bottom: the last bin
    np.testing.assert_allclose(side_distances(bins.reshape(1, -1)), [[3.0, 1.0, 5.0, 10.0]], atol=1e-4)


def one_cell_map(height: int, width: int, row: int, col: int, logit: float, sides: list[int]) -> np.ndarray:
    """A stride map whose only candidate is (row, col), with all box weight on the given bins."""
    out = np.full((1, CHANNELS, height, width), -30.0, np.float32)
    out[0, 0, row, col] = logit
    for side, bin_index in enumerate(sides):
        out[0, 1 + side * BINS + bin_index, row, col] = 10.0
    return out


def test_a_cell_decodes_to_its_centre_minus_and_plus_the_distances() -> None:
    out = one_cell_map(4, 5, row=2, col=3, logit=2.0, sides=[1, 2, 3, 4])
    boxes, logits = decode_level(out, stride=8, floor=0.0)
    # centre ((3 + 0.5) * 8, (2 + 0.5) * 8) = (28, 20); left 1, top 2, right 3, bottom 4 strides
    np.testing.assert_allclose(boxes, [[20.0, 4.0, 52.0, 52.0]], atol=1e-3)
    np.testing.assert_allclose(logits, [2.0])
    assert len(decode_level(out, stride=8, floor=2.5)[0]) == 0
    with pytest.raises(ValueError, match="channels"):
        decode_level(out[:, :10], stride=8, floor=0.0)


def test_postprocess_decodes_all_strides_calibrates_suppresses_clips_and_scales() -> None:
    input_size = (64, 32)
    outputs = [
        one_cell_map(4, 8, 1, 1, logit=3.0, sides=[1, 1, 1, 1]),  # stride 8: (4..20, 4..20)
        one_cell_map(2, 4, 0, 0, logit=2.0, sides=[0, 0, 0, 0]),  # stride 16: empty box, dropped
        one_cell_map(1, 2, 0, 1, logit=1.0, sides=[0, 1, 5, 5]),  # stride 32: clipped to the input
    ]
    found = postprocess(outputs, input_size, (640, 320), 0.5, 0.45, (1.0, 0.0))
    np.testing.assert_allclose(found.scores, calibrate(np.array([3.0, 1.0]), 1.0, 0.0), rtol=1e-6)
    np.testing.assert_allclose(found.boxes, [[40, 40, 200, 200], [480, 0, 640, 320]], atol=1e-2)
    lifted = postprocess(outputs, input_size, (640, 320), 0.5, 0.45, (1.0, 1.0))
    assert (lifted.scores > found.scores).all()
    assert len(postprocess(outputs, input_size, (640, 320), 0.9, 0.45, (1.0, 0.0))) == 1


def test_postprocess_of_maps_without_candidates_is_empty() -> None:
    outputs = [np.full((1, CHANNELS, 4 // k, 8 // k), -9.0, np.float32) for k in (1, 2, 4)]
    found = postprocess(outputs, (64, 32), (64, 32), 0.1, 0.45, SCORE_CALIBRATION["int8"])
    assert found.boxes.shape == (0, 4) and found.scores.dtype == np.float32


@pytest.mark.parametrize("variant", sorted(SCORE_CALIBRATION))
def test_the_score_calibration_is_monotone_and_keeps_scores_in_0_to_1(variant: str) -> None:
    a, b = SCORE_CALIBRATION[variant]
    assert a > 0
    logits = np.linspace(-20, 20, 4001)
    scores = calibrate(logits, a, b)
    assert (np.diff(scores.astype(np.float64)) >= 0).all() and scores.min() >= 0 and scores.max() <= 1
    # It lifts NanoDet's quality-like scores: a raw 0.5 (logit 0) is more than 0.5 calibrated.
    assert calibrate(np.array([0.0]), a, b)[0] > 0.5


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.3, 0.5, 0.6, 0.9, 0.999])
def test_the_logit_floor_keeps_every_cell_whose_calibrated_score_reaches_the_threshold(threshold: float) -> None:
    a, b = SCORE_CALIBRATION["int8"]
    logits = np.random.default_rng(3).normal(0.0, 4.0, 20000).astype(np.float32)
    reaching = logits[calibrate(logits, a, b) >= threshold]
    assert (reaching >= logit_floor(threshold, a, b)).all()
    assert math.isinf(logit_floor(1.0, a, b))


# -- configuration and thread budget ----------------------------------------------------------------------


def test_registry_builds_nanodet_and_checks_its_input_size() -> None:
    configs = TypeAdapter(DetectorConfig)
    cfg = configs.validate_python({"type": "nanodet", "model": "fp32", "threads": 1})
    assert isinstance(cfg, NanodetDetectorConfig) and cfg.input_size == (320, 256)
    assert isinstance(build_detector(cfg), NanodetDetector)
    for bad in ({"type": "nanodet", "input_size": [300, 256]}, {"type": "nanodet", "input_size": [32, 32]}):
        with pytest.raises(ValidationError, match="multiples of 32"):
            configs.validate_python(bad)


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 1), (3, 1), (4, 2), (6, 3), (8, 4), (64, 4)])
def test_automatic_threads_leave_cores_for_capture_and_the_agent(cpus: int, threads: int) -> None:
    assert auto_threads(cpus) == threads


def test_unset_threads_follow_the_usable_cores() -> None:
    detector = NanodetDetector(NanodetDetectorConfig(type="nanodet"))
    from agent.vision.detectors.onnx_session import usable_cpus

    expected = auto_threads(usable_cpus())
    assert detector.session.get_session_options().intra_op_num_threads == expected
