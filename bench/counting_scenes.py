"""People walking past a counting line, with exact boxes as a camera sees them and the true crossings.

Three sources of walks:
- real: heads tracked in the Juelich crowd experiments (../shared/data/trajectories/, tests/trajectories.py),
  25 fps, corridors and bottlenecks with tens to hundreds of people;
- simulated shop doors (JuPedSim, an optional benchmark extra: `pip install jupedsim==1.4.2`): a wall with one
  door between the street and the shop, people walking in (and out) through it, 10 fps like the agent's
  camera. `DOORS` lists the doors; each seed places the people differently;
- real box tracks (MOT15): the hand-annotated ground-truth boxes of two MOT15 sequences, TUD-Campus and
  TUD-Stadtmitte (640x480, 25 fps, elevated side views of people walking across a campus and a street),
  as the PyPI package motmetrics 1.4.0 ships them in its wheel (`mot15_scenes`).

Two cameras for each Juelich and door walk:
- overhead: a pinhole 6 m above the middle of the line looking straight down, 1280x720 at 160 px/m at head
  height; the box is the head-and-shoulders ellipse seen from above, the anchor the box centre (the head);
- side: an elevated camera 3.5 m high, 4.5 m away from the line on the inside and 3 m to the side, looking at
  the middle of the line (horizontal field of view 70 degrees, 1280x720), the box the whole body from feet
  to head (0.45 m wide), the anchor the bottom centre (the feet). People queueing towards the camera overlap
  in the image, as they do through a real door camera. Every person has their exact box, hidden or not (a
  detector's failures are the noise model's business); a person whose box is more than 70% behind one
  nearer person's box is marked `hidden`, so that the benchmark can also report the separate scenario in
  which nobody sees them at all (no tracker can count a person it never gets a box of).

Truth: crossings of the line per person with a 5 cm band in the world (tests/trajectories.py), within the
line's extent. The line is drawn in the image as the projection of its ground segment, so for the feet
anchor (on the ground) and the overhead head anchor the side in the image is the side in the world.

MOT15 lines and truth, by one rule for both sequences (nothing placed by looking at a count): the walking
area is the range of the people's feet x (bottom centres of the annotated boxes, clipped to the image); three
vertical lines stand at a quarter, half and three quarters of its width, over the whole image height, each a
scene of its own, "in" towards the right. A crossing is a change of side of a person's feet beyond a band of
`MOT15_TRUTH_BAND` of their box height (about the 5 cm of the other walks for a 1.7 m person is 0.03;
annotated box edges wobble by more, so 0.05), counted from the annotated track itself.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.trajectories import RECORDINGS, TRAJECTORIES, Person, crossings, load  # noqa: E402

WIDTH, HEIGHT = 1280, 720
JUPEDSIM_VERSION = "1.4.2"
DOOR_FPS = 10.0
# overhead camera
CAMERA_HEIGHT_M = 6.0
REFERENCE_HEIGHT_M = 1.7
PX_PER_M = 160.0
SHOULDERS_M, DEPTH_M = 0.46, 0.28
# side camera
SIDE_HEIGHT_M, SIDE_BACK_M, SIDE_ASIDE_M, SIDE_HFOV_DEG = 3.5, 4.5, 3.0, 70.0
BODY_WIDTH_M = 0.45
HIDDEN = 0.7  # a box covered this much by one nearer person's box is not seen at all
# MOT15 box tracks: the wheel of motmetrics 1.4.0 (MIT licence for the package; the sequences' own terms are
# MOTChallenge's, which the wheel does not restate: the benchmark reads them at run time and never copies them
# into the repository). Fetched with pip, pinned and hash-checked.
MOTMETRICS = "motmetrics==1.4.0"
MOTMETRICS_SHA256 = "cd4d691bd787360f1cd0a2127fe8a14d0646fb2912b344a9498719e132b25738"
MOT15 = {"TUD-Campus": 25.0, "TUD-Stadtmitte": 25.0}  # sequence: frames per second (MOTChallenge seqinfo)
MOT15_SIZE = (640, 480)
MOT15_LINES = (0.25, 0.5, 0.75)
MOT15_TRUTH_BAND = 0.05


@dataclass(frozen=True)
class Scene:
    """Exact boxes of one walk through one camera: one row per visible person-frame, frames from 0."""

    name: str
    family: str  # "juelich" or "door"
    view: str  # "overhead" or "side"
    fps: float
    pid: np.ndarray
    frame: np.ndarray
    boxes: np.ndarray  # xyxy pixels
    line: tuple[tuple[float, float], tuple[float, float]]
    in_point: tuple[float, float]
    anchor: str
    truth: tuple[int, int]  # (in, out)
    size: tuple[int, int] = (WIDTH, HEIGHT)
    # per row: more than `HIDDEN` behind one nearer person's box (side views only), for the "hidden" scenario
    hidden: np.ndarray | None = None


@dataclass(frozen=True)
class Walk:
    """People on the floor (metres) and a counting line: the segment `a`-`b`, "in" towards `inside`."""

    name: str
    family: str
    fps: float
    people: list[Person]
    a: tuple[float, float]
    b: tuple[float, float]
    inside: tuple[float, float]


def truth(walk: Walk) -> tuple[int, int]:
    """(in, out) crossings of the line segment per person, with the 5 cm band of tests/trajectories.py."""
    a, b = np.array(walk.a), np.array(walk.b)
    along = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-along[1], along[0]])
    if np.dot(np.array(walk.inside) - a, normal) < 0:
        normal = -normal
    length = float(np.linalg.norm(b - a))
    ins = outs = 0
    for p in walk.people:
        rel = p.pos - a
        across = rel @ normal
        t = rel @ along
        # crossings only count within the line's extent (walls close the rest of a door)
        coord = np.where((t >= 0) & (t <= length), across, np.nan)
        finite = ~np.isnan(coord)
        i, o = crossings(coord[finite]) if finite.any() else (0, 0)
        ins, outs = ins + i, outs + o
    return ins, outs


def juelich_walks() -> list[Walk]:
    """The five real recordings with their suggested lines (x = 0 or y = 0), clipped to where people walk."""
    walks = []
    for rec in RECORDINGS.values():
        people = load(rec)
        allpos = np.concatenate([p.pos for p in people])
        other = 1 - rec.axis
        lo, hi = float(allpos[:, other].min()) - 0.3, float(allpos[:, other].max()) + 0.3
        a, b = [0.0, 0.0], [0.0, 0.0]
        a[other], b[other] = lo, hi
        inside = [0.0, 0.0]
        inside[rec.axis] = float(rec.in_sign)
        inside[other] = (lo + hi) / 2
        walks.append(
            Walk(rec.name.removesuffix(".txt"), "juelich", 25.0, people, tuple(a), tuple(b), tuple(inside))  # type: ignore[arg-type]
        )
    return walks


@dataclass(frozen=True)
class Door:
    """A wall at x = 0 with a door of `width_m`; `ins` people start on the street (x < 0), `outs` in the shop."""

    name: str
    width_m: float
    ins: int
    outs: int
    spread_m: float  # depth of the area the people start in: smaller is denser


DOORS = [
    Door("door-1.2m-15in", 1.2, 15, 0, 7.0),
    Door("door-1.8m-10in-8out", 1.8, 10, 8, 9.0),
    Door("door-0.9m-6in-6out", 0.9, 6, 6, 10.0),
]


def have_jupedsim() -> bool:
    try:
        import jupedsim  # noqa: F401
    except ImportError:
        return False
    return True


def door_walk(door: Door, seed: int, fps: float = DOOR_FPS, max_s: float = 90.0) -> Walk:
    """JuPedSim's collision-free speed model walks the people through the door; positions sampled at `fps`."""
    import jupedsim as jps
    from shapely import Polygon, union_all

    half, wall = door.width_m / 2, 0.25
    street = Polygon([(-14, -4), (0, -4), (0, 4), (-14, 4)])
    gap = Polygon([(-0.01, -half), (wall + 0.01, -half), (wall + 0.01, half), (-0.01, half)])
    shop = Polygon([(wall, -4), (14, -4), (14, 4), (wall, 4)])
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=union_all([street, gap, shop]), dt=0.01)
    rng = np.random.default_rng([seed, 7])
    heights: dict[int, float] = {}

    def add(start: Polygon, goal: Polygon, n: int) -> None:
        if n == 0:
            return
        exit_id = sim.add_exit_stage(goal)
        journey = sim.add_journey(jps.JourneyDescription([exit_id]))
        spots = jps.distribute_by_number(
            polygon=start, number_of_agents=n, distance_to_agents=0.55, distance_to_polygon=0.3, seed=int(seed)
        )
        for pos in spots:
            speed = float(np.clip(rng.normal(1.3, 0.2), 0.8, 1.8))
            params = jps.CollisionFreeSpeedModelAgentParameters(
                journey_id=journey, stage_id=exit_id, position=pos, desired_speed=speed, radius=0.2
            )
            heights[sim.add_agent(params)] = float(rng.normal(1.72, 0.08))

    add(Polygon([(-1 - door.spread_m, -3.5), (-1, -3.5), (-1, 3.5), (-1 - door.spread_m, 3.5)]),
        Polygon([(13, -3), (14, -3), (14, 3), (13, 3)]), door.ins)  # fmt: skip
    add(Polygon([(wall + 1.5, -3.5), (wall + 1.5 + door.spread_m, -3.5), (wall + 1.5 + door.spread_m, 3.5),
                 (wall + 1.5, 3.5)]), Polygon([(-14, -3), (-13, -3), (-13, 3), (-14, 3)]), door.outs)  # fmt: skip
    every = round(1.0 / (fps * sim.delta_time()))
    tracks: dict[int, list[tuple[int, float, float]]] = {}
    k = 0
    while sim.agent_count() > 0 and sim.elapsed_time() < max_s:
        if sim.iteration_count() % every == 0:
            for agent in sim.agents():
                tracks.setdefault(agent.id, []).append((k, *agent.position))
            k += 1
        sim.iterate()
    people = []
    for aid, rows in sorted(tracks.items()):
        arr = np.array(rows)
        people.append(Person(aid, arr[:, 0].astype(int), arr[:, 1:3], heights[aid]))
    line_x = wall / 2
    # the line runs along the wall on both sides of the door (nobody crosses a wall), so that in the side
    # view people walking away from the door towards the camera stay within its extent
    return Walk(f"{door.name}-s{seed}", "door", fps, people, (line_x, -3.5), (line_x, 3.5), (1.0, 0.0))


def _rows(people: list[Person]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pid = np.concatenate([np.full(len(p.frames), p.id) for p in people])
    frame = np.concatenate([p.frames for p in people])
    pos = np.concatenate([p.pos for p in people])
    z = np.concatenate([np.full(len(p.frames), p.height_m) for p in people])
    step = np.concatenate([_heading(p.pos) for p in people])
    return pid, frame, pos, z, step


def _heading(pos: np.ndarray) -> np.ndarray:
    """Walking direction (radians) from the displacement over +-5 samples."""
    idx = np.arange(len(pos))
    d = pos[np.minimum(idx + 5, len(pos) - 1)] - pos[np.maximum(idx - 5, 0)]
    return np.arctan2(d[:, 1], d[:, 0])


def overhead(walk: Walk) -> Scene:
    """Looking straight down from 6 m above the middle of the line; image u along world x, v along -y."""
    pid, frame, pos, z, heading = _rows(walk.people)
    centre = (np.array(walk.a) + np.array(walk.b)) / 2
    scale = PX_PER_M * (CAMERA_HEIGHT_M - REFERENCE_HEIGHT_M) / np.maximum(CAMERA_HEIGHT_M - z, 0.5)
    rel = (pos - centre) * scale[:, None]
    u, v = WIDTH / 2 + rel[:, 0], HEIGHT / 2 - rel[:, 1]
    rng = np.random.default_rng(1234)
    shoulders = {p.id: rng.normal(SHOULDERS_M, 0.03) for p in walk.people}
    a = np.array([shoulders[i] for i in pid]) / 2 * scale
    b = DEPTH_M / 2 * scale
    phi = heading + np.pi / 2
    hx, hy = np.hypot(a * np.cos(phi), b * np.sin(phi)), np.hypot(a * np.sin(phi), b * np.cos(phi))
    boxes = np.stack([u - hx, v - hy, u + hx, v + hy], axis=1)

    def image(p: tuple[float, float]) -> tuple[float, float]:
        s = PX_PER_M  # the line is drawn at head height, where the scale is PX_PER_M
        return WIDTH / 2 + (p[0] - centre[0]) * s, HEIGHT / 2 - (p[1] - centre[1]) * s

    return _scene(walk, "overhead", pid, frame, boxes, (image(walk.a), image(walk.b)), image(walk.inside), "center")


def side(walk: Walk) -> Scene:
    """An elevated camera on the inside of the line, looking at its middle; feet and head projected."""
    pid, frame, pos, z, _ = _rows(walk.people)
    a, b = np.array(walk.a), np.array(walk.b)
    centre = (a + b) / 2
    along = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-along[1], along[0]])
    if np.dot(np.array(walk.inside) - centre, normal) < 0:
        normal = -normal
    cam = np.array([*(centre + normal * SIDE_BACK_M + along * SIDE_ASIDE_M), SIDE_HEIGHT_M])
    target = np.array([*centre, 0.0])
    forward = (target - cam) / np.linalg.norm(target - cam)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    focal = (WIDTH / 2) / np.tan(np.radians(SIDE_HFOV_DEG / 2))

    def project(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rel = xyz - cam
        depth = rel @ forward
        safe = np.maximum(depth, 1e-6)
        return WIDTH / 2 + focal * (rel @ right) / safe, HEIGHT / 2 + focal * (rel @ down) / safe, depth

    feet = np.column_stack([pos, np.zeros(len(pos))])
    head = np.column_stack([pos, z])
    uf, vf, depth = project(feet)
    _, vh, _ = project(head)
    half = BODY_WIDTH_M / 2 * focal / np.maximum(depth, 1e-6)
    boxes = np.stack([uf - half, vh, uf + half, vf], axis=1)
    seen = (depth > 1.0) & (uf >= 0) & (uf < WIDTH) & (vf >= 0) & (vf < HEIGHT * 1.1)

    def image(p: tuple[float, float]) -> tuple[float, float]:
        u, v, _ = project(np.array([[p[0], p[1], 0.0]]))
        return float(u[0]), float(v[0])

    keep = np.flatnonzero(seen)
    return _scene(
        walk,
        "side",
        pid[keep],
        frame[keep],
        boxes[keep],
        (image(walk.a), image(walk.b)),
        image(tuple(centre + normal)),  # type: ignore[arg-type]
        "bottom-center",
        _hidden(frame[keep], boxes[keep], depth[keep]),
    )


def _hidden(frame: np.ndarray, boxes: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Person-frames whose box is covered by more than `HIDDEN` of its area by one nearer person's box."""
    hidden = np.zeros(len(frame), dtype=bool)
    order = np.argsort(frame, kind="stable")
    for rows in np.split(order, np.flatnonzero(np.diff(frame[order])) + 1):
        if len(rows) < 2:
            continue
        b = boxes[rows]
        iw = np.clip(np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]), 0, None)
        ih = np.clip(np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]), 0, None)
        cover = iw * ih / ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[:, None]
        nearer = depth[rows][None, :] < depth[rows][:, None]
        hidden[rows] = (np.where(nearer, cover, 0.0) > HIDDEN).any(axis=1)
    return hidden


def _scene(
    walk: Walk,
    view: str,
    pid: np.ndarray,
    frame: np.ndarray,
    boxes: np.ndarray,
    line: tuple[tuple[float, float], tuple[float, float]],
    in_point: tuple[float, float],
    anchor: str,
    hidden: np.ndarray | None = None,
) -> Scene:
    first = int(frame.min())
    return Scene(
        walk.name,
        walk.family,
        view,
        walk.fps,
        pid,
        frame - first,
        boxes,
        line,
        in_point,
        anchor,
        truth(walk),
        hidden=hidden,
    )


def mot15_ground_truth() -> dict[str, np.ndarray] | str:
    """The annotated boxes (frame, id, x, y, w, h per row) of each MOT15 sequence from the motmetrics wheel,
    downloaded by pip with its pinned hash; or why they could not be had."""
    with tempfile.TemporaryDirectory(prefix="mot15-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"{MOTMETRICS} --hash=sha256:{MOTMETRICS_SHA256}\n")
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--require-hashes"]
        proc = subprocess.run([*cmd, "-r", str(req), "-d", tmp], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("motmetrics-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            return f"pip could not fetch {MOTMETRICS}: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
        if hashlib.sha256(wheels[0].read_bytes()).hexdigest() != MOTMETRICS_SHA256:
            return f"{wheels[0].name} does not have the pinned sha256"
        with zipfile.ZipFile(wheels[0]) as whl:
            return {
                name: np.loadtxt(whl.read(f"motmetrics/data/{name}/gt.txt").decode().splitlines(), delimiter=",")
                for name in MOT15
            }


def mot15_scenes(ground_truth: dict[str, np.ndarray]) -> list[Scene]:
    """Three vertical lines across each sequence's walking area (see the module docstring), feet anchor."""
    out = []
    width, height = MOT15_SIZE
    for name, gt in ground_truth.items():
        gt = gt[np.lexsort((gt[:, 0], gt[:, 1]))]
        pid, frame = gt[:, 1].astype(int), gt[:, 0].astype(int) - 1
        boxes = np.column_stack([gt[:, 2], gt[:, 3], gt[:, 2] + gt[:, 4], gt[:, 3] + gt[:, 5]])
        feet = np.clip((boxes[:, 0] + boxes[:, 2]) / 2, 0, width)
        for frac in MOT15_LINES:
            x = float(feet.min() + frac * (feet.max() - feet.min()))
            ins = outs = 0
            for p in np.unique(pid):
                mine = pid == p
                i, o = crossings((feet[mine] - x) / gt[mine, 5], MOT15_TRUTH_BAND)
                ins, outs = ins + i, outs + o
            out.append(
                Scene(
                    f"{name}-x{frac:g}",
                    "mot15",
                    "side",
                    MOT15[name],
                    pid,
                    frame - frame.min(),
                    boxes,
                    ((x, 0.0), (x, float(height))),
                    (x + 50.0, height / 2),
                    "bottom-center",
                    (ins, outs),
                    size=MOT15_SIZE,
                    hidden=np.zeros(len(pid), dtype=bool),
                )  # fmt: skip
            )
    return out


def scenes(seeds: list[int], families: tuple[str, ...] = ("juelich", "door", "mot15")) -> tuple[list[Scene], list[str]]:
    """Every walk through both cameras, the MOT15 box tracks, and notes on what had to be left out (and why)."""
    notes: list[str] = []
    walks: list[Walk] = []
    extra: list[Scene] = []
    if "mot15" in families:
        got = mot15_ground_truth()
        if isinstance(got, str):
            notes.append(f"MOT15 box tracks left out: {got}")
        else:
            extra = mot15_scenes(got)
    if "juelich" in families:
        if TRAJECTORIES.is_dir():
            walks += juelich_walks()
        else:
            notes.append(f"Juelich trajectories left out: {TRAJECTORIES} is absent (a fresh clone has no ../shared)")
    if "door" in families:
        if have_jupedsim():
            walks += [door_walk(door, seed) for door in DOORS for seed in seeds]
        else:
            notes.append(f"shop doors left out: JuPedSim is not installed (pip install jupedsim=={JUPEDSIM_VERSION})")
    return [view(w) for w in walks for view in (overhead, side)] + extra, notes
