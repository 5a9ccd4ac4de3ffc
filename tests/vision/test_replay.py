"""`replay --detections`: CSV in, counts out, through the same pipeline as the camera.

Includes real recordings end to end, heads tracked from above and seen by a simulated overhead camera: 61 people
walking through an opening (vendored in tests/data/, always run) and the bottleneck experiment of
../shared/data/trajectories (75 people leaving through a narrow exit; skipped on a fresh clone without it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.cli import replay as replay_command
from agent.cli.main import main
from agent.config.camera import CameraSensorConfig
from agent.vision import replay
from agent.vision.camera_counter import CameraCounter, FrameStep
from tests import clips
from tests.trajectories import RECORDINGS, Recording, needs
from tests.trajectories import path as recording_path

REPO = Path(__file__).resolve().parents[2]
BOTTLENECK = RECORDINGS["040_c_56_h-.txt"]
OPENING = RECORDINGS["uo-050-180-180.txt"]
HEADER = "frame,x1,y1,x2,y2,score\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    replay_command.add_arguments(parser)
    code = replay_command.run(parser.parse_args(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_rows(path: Path, rows: list[tuple]) -> Path:
    path.write_text(HEADER + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


def walker_rows(frames: range, x: float, y0: float, dy: float, score: float = 0.9) -> list[tuple]:
    """A 40x100 px person whose feet move by dy pixels per frame."""
    return [(f, x - 20, y0 + dy * f - 100, x + 20, y0 + dy * f, score) for f in frames]


@pytest.fixture
def two_people(tmp_path: Path) -> Path:
    """One person walks down across y = 300 (in), a second one walks up across it 50 frames later (out)."""
    rows = walker_rows(range(0, 100), 200, 150, 3) + walker_rows(range(50, 150), 450, 600, -3)
    rows.sort(key=lambda r: r[0])
    return write_rows(tmp_path / "dets.csv", rows)


LINE = ["--line=0,300,640,300", "--in-side=320,400"]


def test_json_counts_per_line(two_people: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--detections", str(two_people), "--fps", "25", *LINE, "--json"], capsys)
    assert code == 0, err
    lines = {"line": {"in": 1, "out": 1}}
    assert json.loads(out) == {
        "ins": 1,
        "outs": 1,
        "lines": lines,
        "zones": {},
        "intervals": [{"start": 0.0, "end": 6.0, "ins": 1, "outs": 1, "lines": lines, "zones": {}}],
    }, "no agent config: the whole replay is one interval"


def test_text_output(two_people: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--detections", str(two_people), *LINE], capsys)
    assert code == 0
    assert "150 frames (6.0 s at 25 fps), 200 detections" in out
    assert out.splitlines()[-1].split() == ["line", "1", "1"]


def test_in_side_decides_the_direction(two_people: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--detections", str(two_people), "--line=0,300,640,300", "--in-side=320,100", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["lines"]["line"] == {"in": 1, "out": 1}
    code, out, _ = run(["--detections", str(two_people), "--line=0,300,300,300", "--in-side=100,100", "--json"], capsys)
    assert json.loads(out)["lines"]["line"] == {"in": 0, "out": 1}  # only the first person passes this short line


def test_module_entry_point_prints_only_json(two_people: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli.replay", "--detections", str(two_people), *LINE, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["lines"] == {"line": {"in": 1, "out": 1}}
    assert proc.stdout.count("\n") == 1


def test_config_file_with_lines_and_zones(two_people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "camera.yaml"
    config.write_text(
        "site: shop\n"
        "counting:\n"
        "  lines:\n"
        "    - name: door\n"
        "      points: [[0, 300], [640, 300]]\n"
        "      in_direction: down\n"
        "  zones:\n"
        "    - name: shop-floor\n"
        "      points: [[0, 300], [640, 300], [640, 480], [0, 480]]\n"
    )
    code, out, err = run(["--detections", str(two_people), "--config", str(config), "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["lines"] == {"door": {"in": 1, "out": 1}}
    zone = result["zones"]["shop-floor"]
    assert (zone["in"], zone["out"], zone["dwell_count"]) == (1, 1, 0)  # the first stays, the second was born inside


def test_normalized_config_needs_the_frame_size(
    two_people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "camera.yaml"
    config.write_text(
        "camera:\n  counting:\n    units: normalized\n"
        "    lines:\n      - {name: door, points: [[0, 0.625], [1, 0.625]], in_point: [0.5, 0.9]}\n"
    )
    code, _, err = run(["--detections", str(two_people), "--config", str(config), "--json"], capsys)
    assert code == 2 and "--frame-size" in err
    code, out, _ = run(
        ["--detections", str(two_people), "--config", str(config), "--frame-size", "640x480", "--json"], capsys
    )
    assert code == 0
    assert json.loads(out)["lines"]["door"] == {"in": 1, "out": 1}


def test_frames_without_rows_are_empty_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A person missed for 10 frames on the line: the tracker must see those frames as empty, not skip them."""
    rows = [r for r in walker_rows(range(100), 320, 150, 3) if not 45 <= r[0] < 55]
    path = write_rows(tmp_path / "gap.csv", rows)
    code, out, _ = run(["--detections", str(path), *LINE, "--json"], capsys)
    assert code == 0
    assert json.loads(out)["lines"]["line"] == {"in": 1, "out": 0}


def test_a_crossing_still_waiting_to_be_sure_when_the_file_ends_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file ends with the person just past the band (15 px beyond y = 300), a few frames after the line:
    the crossing waits to be sure (`HOLD_S`), and the end of the input must not lose it."""
    path = write_rows(tmp_path / "end.csv", walker_rows(range(61), 320, 150, 3))
    code, out, _ = run(["--detections", str(path), *LINE, "--json"], capsys)
    assert code == 0
    assert json.loads(out)["lines"]["line"] == {"in": 1, "out": 0}


def test_empty_file_counts_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "none.csv"
    path.write_text(HEADER)
    code, out, _ = run(["--detections", str(path), *LINE, "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert (doc["ins"], doc["outs"], doc["lines"], doc["zones"]) == (0, 0, {"line": {"in": 0, "out": 0}}, {})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("frame,x,y,w,h,score\n0,1,2,3,4,0.5\n", ":1: expected the header frame,x1,y1,x2,y2,score"),
        ("", ":1: expected the header"),
        (HEADER + "0,1,2,30,40,0.9\n2,1,2,30,40,0.9\n1,1,2,30,40,0.9\n", ":4: frame 1 after frame 2"),
        (HEADER + "0,1,2,30,40,0.9\n0,1,2,30\n", ":3: expected 6 fields, got 4"),
        (HEADER + "0,1,2,30,40,0.9\nzero,1,2,30,40,0.9\n", ":3: not a number"),
        (HEADER + "0,1,2,30,nan,0.9\n", ":2: non-finite value"),
        (HEADER + "-1,1,2,30,40,0.9\n", ":2: frame -1 is negative"),
        (HEADER + "0,30,2,1,40,0.9\n", ":2: box has x2 < x1"),
        (HEADER + "0,1,2,30,40,1.5\n", ":2: score 1.5 outside 0..1"),
        (HEADER + "0,1,2,30,40,0.9\n0.5,1,2,30,40,0.9\n", ":3: frame 0.5 is not a whole number"),
        (HEADER + "0,1,2,30,40,0.9\n\n1,1,2,30,40,0.9\n\n", None),
        ("\ufeff" + HEADER + "0,1,2,30,40,0.9\r\n1,1,2,30,40,0.9\r\n", None),
    ],
)
def test_csv_errors_exit_2_with_the_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str | None
) -> None:
    path = tmp_path / "dets.csv"
    path.write_text(content)
    code, out, err = run(["--detections", str(path), *LINE, "--json"], capsys)
    if expected is None:
        assert code == 0, err
        return
    assert code == 2
    assert out == ""
    assert f"dets.csv{expected}" in err


def test_invalid_utf8_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dets.csv"
    path.write_bytes(HEADER.encode() + b"0,1,2,30,40,0.9\n1,1,2,30,40,0.9\xff\n")
    code, _, err = run(["--detections", str(path), *LINE], capsys)
    assert code == 2 and "dets.csv:3: not UTF-8 text" in err


def test_frames_spanning_read_chunks(
    two_people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader works in chunks of lines; a frame split over two chunks is still one frame."""
    frames_whole = [(f, len(b)) for f, b, _ in replay.read_detections(two_people)]
    monkeypatch.setattr(replay, "_CHUNK_LINES", 3)
    assert [(f, len(b)) for f, b, _ in replay.read_detections(two_people)] == frames_whole
    code, out, _ = run(["--detections", str(two_people), *LINE, "--json"], capsys)
    assert json.loads(out)["lines"]["line"] == {"in": 1, "out": 1}
    unsorted = write_rows(
        tmp_path / "unsorted.csv",
        [(0, 1, 2, 30, 40, 0.9), (5, 1, 2, 30, 40, 0.9), (5, 1, 2, 30, 40, 0.9), (4, 1, 2, 30, 40, 0.9)],
    )
    code, _, err = run(["--detections", str(unsorted), *LINE], capsys)
    assert code == 2 and "unsorted.csv:5: frame 4 after frame 5" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--line=0,300,640,300"], "--line needs --in-side"),
        ([], "give --config FILE or --line"),
        (["--line=0,300,640", "--in-side=1,1"], "--line: expected X1,Y1,X2,Y2"),
        (["--line=0,300,640,300", "--in-side=100,300"], "lies on the line"),
        (["--line=0,300,640,300", "--in-side=1"], "--in-side: expected 2 finite numbers"),
        (["--line=0,300,640,300", "--in-side=1,2", "--fps", "0"], "--fps must be a positive number"),
    ],
)
def test_usage_errors_exit_2(
    two_people: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run(["--detections", str(two_people), *argv], capsys)
    assert (code, out) == (2, "")
    assert expected in err


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--detections", str(tmp_path / "nope.csv"), *LINE], capsys)
    assert code == 2 and "nope.csv: cannot read" in err
    path = write_rows(tmp_path / "d.csv", [])
    code, _, err = run(["--detections", str(path), "--config", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml: cannot read" in err


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "counting:\n  lines:\n    - name: door\n      points: [[0, 1], [5, 1]]\n      in_point: [2, 2]\n"
            "      colour: red\n",
            "counting.lines[0]: unknown key 'colour' (line 6)",
        ),
        (
            "counting:\n  lines:\n    - name: door\n      points: [[0, 1]]\n      in_point: [2, 2]\n",
            "counting.lines[0].points: List should have at least 2 items",
        ),
        ("site: shop\n", "no counting: section"),
        ("counting: [1, 2\n", "invalid YAML (line 2)"),
    ],
)
def test_config_errors_name_the_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str, expected: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    path = write_rows(tmp_path / "d.csv", [])
    code, _, err = run(["--detections", str(path), "--config", str(config)], capsys)
    assert code == 2
    assert expected in err


# --- a real recording ------------------------------------------------------------------------------------------

PX_PER_M = 160.0


def recording_detections(
    rec: Recording,
    rng: np.random.Generator | None,
    miss: float = 0.0,
    jitter: float = 0.0,
    fp_per_frame: float = 0.0,
) -> np.ndarray:
    """A recording (line y = 0, walking towards -y) seen from above: heads as 0.46 x 0.28 m head-and-shoulder
    boxes, the line across the middle of a 1280x720 image, walking towards -y (down the image) is "in"."""
    data = np.loadtxt(recording_path(rec), comments="#")
    frame, x, y = data[:, 1], data[:, 2] * rec.unit_m, data[:, 3] * rec.unit_m
    x = x - (x.min() + x.max()) / 2
    u, v = 640 + PX_PER_M * x, 360 - PX_PER_M * y
    half_w, half_h = 0.23 * PX_PER_M, 0.14 * PX_PER_M
    boxes = np.stack([u - half_w, v - half_h, u + half_w, v + half_h], axis=1)
    scores = np.full(len(frame), 0.85)
    keep = np.ones(len(frame), dtype=bool)
    if rng is not None:
        boxes += rng.normal(0, jitter, boxes.shape) * [2 * half_w, 2 * half_h, 2 * half_w, 2 * half_h]
        keep = rng.random(len(frame)) >= miss
        scores = np.clip(rng.normal(0.8, 0.1, len(frame)), 0.2, 1.0)
    rows = np.column_stack([frame, boxes, scores])[keep]
    if rng is not None and fp_per_frame:
        n = rng.poisson(fp_per_frame * (frame.max() + 1))
        at = rng.uniform(0, 1280 - 2 * half_w, n), rng.uniform(0, 720 - 2 * half_h, n)
        fps = np.column_stack(
            [
                rng.integers(0, int(frame.max()) + 1, n),
                at[0],
                at[1],
                at[0] + 2 * half_w,
                at[1] + 2 * half_h,
                rng.uniform(0.1, 0.8, n),
            ]
        )
        rows = np.vstack([rows, fps])
    centre_u, centre_v = (rows[:, 1] + rows[:, 3]) / 2, (rows[:, 2] + rows[:, 4]) / 2
    rows = rows[(centre_u >= 0) & (centre_u < 1280) & (centre_v >= 0) & (centre_v < 720)]
    return rows[np.argsort(rows[:, 0], kind="stable")]


def write_detections(rows: np.ndarray, path: Path) -> Path:
    with path.open("w") as f:
        f.write(HEADER)
        for r in rows:
            f.write(f"{int(r[0])},{r[1]:.2f},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.3f}\n")
    return path


OVERHEAD_LINE = ["--line=0,360,1280,360", "--in-side=640,600", "--anchor", "center"]


REAL = [
    pytest.param(OPENING, 61, id="opening"),
    pytest.param(BOTTLENECK, 75, id="bottleneck", marks=needs(BOTTLENECK)),
]


@pytest.mark.parametrize(("rec", "people"), REAL)
def test_real_recording_clean_detections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rec: Recording, people: int
) -> None:
    path = write_detections(recording_detections(rec, None), tmp_path / "clean.csv")
    code, out, err = run(["--detections", str(path), *OVERHEAD_LINE, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["lines"]["line"] == {"in": people, "out": 0}


@pytest.mark.parametrize(("rec", "people"), REAL)
def test_real_recording_noisy_detections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rec: Recording, people: int
) -> None:
    """10% missed detections, 5% box jitter, 0.1 false positives per frame: the goal is >= 99% per direction."""
    rows = recording_detections(rec, np.random.default_rng(5), miss=0.1, jitter=0.05, fp_per_frame=0.1)
    path = write_detections(rows, tmp_path / "noisy.csv")
    code, out, err = run(["--detections", str(path), *OVERHEAD_LINE, "--json"], capsys)
    assert code == 0, err
    counts = json.loads(out)["lines"]["line"]
    assert abs(counts["in"] - people) <= 0.01 * people
    assert counts["out"] == 0


def test_video_replay_prints_the_counts_per_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.clips import LINE, write_walk

    clip = tmp_path / "walk.avi"
    frames = write_walk(clip)
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"site: t\nintervals: {{length: 1s}}\nmqtt: {{enabled: false}}\nstore: {{path: {tmp_path}}}\nsensors:\n"
        "  - id: cam\n    type: camera\n    source: /dev/video0\n    fps: 20\n    counting:\n      lines:\n"
        f"        - {{name: door, points: {LINE}, in_direction: right}}\n"
    )
    assert main(["replay", "--config", str(config), "--video", str(clip), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["intervals"]
    assert (doc["ins"], doc["outs"], doc["lines"], doc["zones"]) == (1, 1, {"door": {"in": 1, "out": 1}}, {})
    assert [r["start"] for r in rows] == [float(i) for i in range(len(rows))]
    assert len(rows) == -(-frames // 20)  # every second of the clip, the last one partial
    assert sum(r["ins"] for r in rows) == 1 and sum(r["outs"] for r in rows) == 1
    ins_at = next(r["start"] for r in rows if r["ins"])
    outs_at = next(r["start"] for r in rows if r["outs"])
    assert ins_at < outs_at and rows[-1]["end"] == pytest.approx(frames / 20)
    assert all(r["lines"]["door"] == {"in": r["ins"], "out": r["outs"]} for r in rows)
    assert main(["replay", "--config", str(config), "--video", str(clip)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["total", "1", "1"]


def test_both_modes_take_the_agent_config_and_print_the_same_json_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The clip as video, and the same walk as detections: one agent config, one document shape."""
    from tests.clips import LINE, write_walk

    clip = tmp_path / "walk.avi"
    write_walk(clip)
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"site: t\nintervals: {{length: 2s}}\nmqtt: {{enabled: false}}\nstore: {{path: {tmp_path}}}\nsensors:\n"
        "  - id: cam\n    type: camera\n    source: /dev/video0\n    fps: 20\n    counting:\n      lines:\n"
        f"        - {{name: door, points: {LINE}, in_direction: right}}\n"
        "      zones:\n        - {name: all, points: [[0, 0], [640, 0], [640, 480], [0, 480]]}\n"
    )
    assert main(["replay", "--config", str(config), "--video", str(clip), "--json"]) == 0
    video = json.loads(capsys.readouterr().out)
    walker = write_rows(tmp_path / "dets.csv", walker_rows(range(0, 60), 200, 150, 5))
    assert main(["replay", "--config", str(config), "--detections", str(walker), "--fps", "20", "--json"]) == 0
    detections = json.loads(capsys.readouterr().out)

    def shape(doc: object) -> object:
        """Keys all the way down, each list by its first item; values only as a number (or null) or not."""
        if isinstance(doc, dict):
            return {key: shape(value) for key, value in doc.items()}
        if isinstance(doc, list):
            return [shape(doc[0])] if doc else []
        return "number" if doc is None or isinstance(doc, int | float) else type(doc).__name__

    assert set(video) == {"ins", "outs", "lines", "zones", "intervals"}
    assert shape(video) == shape(detections)
    assert [r["start"] for r in detections["intervals"]] == [0.0, 2.0], "the agent config's 2 s intervals"
    assert detections["intervals"][-1]["end"] == 3.0


def test_video_replay_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("site: t\nsensors:\n  - {id: door, type: simulated}\n")
    assert main(["replay", "--config", str(config), "--video", str(tmp_path / "clip.avi")]) == 2
    assert "no sensor of type camera" in capsys.readouterr().err
    assert main(["replay", "--video", str(tmp_path / "clip.avi")]) == 2
    assert "give --config" in capsys.readouterr().err


class RecordingCounter(CameraCounter):
    """A real `CameraCounter` that remembers the clip time and pixels of each frame it analyses, and can
    be made slow or made to fail at a given frame."""

    def __init__(self, sensor: CameraSensorConfig, delay_s: float = 0.0, fail_at: int | None = None) -> None:
        super().__init__(sensor)
        self.delay_s = delay_s
        self.fail_at = fail_at
        self.seen: list[tuple[float, bytes]] = []

    def step(self, frame: np.ndarray, t: float) -> FrameStep:
        if len(self.seen) == self.fail_at:
            raise RuntimeError("analysis failed")
        self.seen.append((t, frame.tobytes()))
        time.sleep(self.delay_s)
        return super().step(frame, t)


def camera(clip: Path, fps: float) -> CameraSensorConfig:
    return CameraSensorConfig(
        id="cam",
        source=str(clip),
        fps=fps,
        counting={"lines": [{"name": "door", "points": json.loads(clips.LINE), "in_direction": "right"}]},
    )


@pytest.mark.parametrize("fps, every", [(20, 1), (10, 2)])
def test_video_replay_analyses_every_due_frame_in_order(tmp_path: Path, fps: float, every: int) -> None:
    """Decoding runs ahead on a reader thread; the analysis still gets exactly the frames the sensor's fps
    makes due, in order, with their pixels, even when it is slower than decoding (replay never drops)."""
    clip = tmp_path / "walk.avi"
    count = clips.write_walk(clip)
    capture = cv2.VideoCapture(str(clip))
    decoded = [capture.read()[1].tobytes() for _ in range(count)]
    capture.release()
    sensor = camera(clip, fps)
    counter = RecordingCounter(sensor, delay_s=0.002)
    rows = replay.replay_video(sensor, clip, 1.0, counter)["intervals"]
    seen = counter.seen
    assert [t for t, _ in seen] == [i / 20 for i in range(0, count, every)]
    assert all(pixels == decoded[i] for (_, pixels), i in zip(seen, range(0, count, every), strict=True))
    assert rows[-1]["end"] == pytest.approx(count / 20)
    assert sum(r["ins"] for r in rows) == 1 and sum(r["outs"] for r in rows) == 1


def test_video_replay_stops_its_reader_when_the_analysis_fails(tmp_path: Path) -> None:
    clip = tmp_path / "walk.avi"
    clips.write_walk(clip)
    sensor = camera(clip, 20)
    with pytest.raises(RuntimeError, match="analysis failed"):
        replay.replay_video(sensor, clip, 1.0, RecordingCounter(sensor, fail_at=3))
    assert not [t for t in threading.enumerate() if t.name == "replay-reader"]
