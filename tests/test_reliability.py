"""Reliability and security of the web service (issue 6): bad input, faults, restarts, cleanup.

Everything that a client can send goes through real HTTP to a real uvicorn server on loopback
(in a thread of this process, so the job folder and open files can be inspected). The bad inputs
are cut from the real example clips (truncated, header-only, one frame, a real frame saved as an
image) or synthesised small in tmp_path (an 8K clip, a text file, an empty file). After every bad
input the server must still answer /health and track a normal clip.

Needs the baseline checkpoint and the example clips, like tests/test_api.py; skips otherwise.
The pure parts (content sniffing, filename cleaning, path guard, admission, Retry-After, the job
pool under faults) run everywhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import pytest
import uvicorn

from app.config import AppConfig
from app.errors import QueueFullError, ServiceUnavailableError
from app.filetype import display_name, sniff
from app.gate import Admission, has_dot_segment
from tests.helpers import Payload
from app.jobs import DEFAULT_RETRY_AFTER_S, STATUS_FILE, JobManager, retry_after_seconds
from app.server import create_app
from model.data.render import VideoWriter
from tests.test_api import baseline_checkpoint_or_skip

MP4 = "intel-one-by-one-person-detection.mp4"  # 1394 frames, 768x432, 3.2 MB, header first
GIF = "intel-preview-classroom.gif"  # 45 frames, 480x270, 1.2 MB
LIMIT_MB = 2
MAX_FRAMES = 20
SECONDS = 120  # bound on any single wait: nothing may hang


# ====================================================================================== pure parts


def test_sniff_tells_videos_from_images_by_their_first_bytes() -> None:
    assert sniff(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00").suffix == ".mp4"
    assert sniff(b"\x00\x00\x00\x08wide\x00\x00").suffix == ".mp4"  # QuickTime .mov
    assert sniff(b"RIFF\x10\x00\x00\x00AVI LIST").suffix == ".avi"
    assert sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81").suffix == ".mkv"  # WebM is Matroska
    assert sniff(b"GIF89a\x10\x00").suffix == ".gif"
    assert sniff(b"\x89PNG\r\n\x1a\n\x00\x00").description == "a PNG image"
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF").description == "a JPEG image"
    assert sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 ").description == "a WebP image"
    assert sniff(b"\x00\x00\x00\x1cftypheic\x00\x00").description == "a HEIC image"
    assert sniff(b"hello, this is text").kind == "text"  # notes renamed .mp4: a 415, not a decoder error
    assert sniff(b"\x00not a video at all").kind == "unknown"
    assert sniff(b"").kind == "unknown"


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("..\\..\\windows\\win.ini.gif", "win.ini.gif"),
        ("clip\u202egpj.mp4", "clipgpj.mp4"),  # RIGHT-TO-LEFT OVERRIDE would make it read "clip4pm.jpg"
        ("a\x00b\nc.mp4", "abc.mp4"),
        ("ñandú 🚶.gif", "ñandú 🚶.gif"),
        ("..", "the upload"),
        ("", "the upload"),
        (None, "the upload"),
    ],
)
def test_client_filenames_are_cleaned_before_they_are_shown(filename: str | None, shown: str) -> None:
    assert display_name(filename) == shown


def test_long_filenames_are_cut_keeping_their_suffix() -> None:
    shown = display_name("x" * 500 + ".mp4")
    assert len(shown) == 80 and shown.endswith("….mp4") and shown.startswith("x" * 75)


@pytest.mark.parametrize(
    ("path", "climbs"),
    [
        ("/jobs/../../etc/passwd", True),
        ("/jobs/..%2F..%2Fetc%2Fpasswd", True),
        ("/jobs/%2e%2e/%2e%2e/etc/passwd", True),
        ("/jobs/%252e%252e/x", True),  # encoded twice
        ("/jobs/..\\..\\x", True),
        ("/./health", True),
        ("/jobs/abc%00", True),
        ("/jobs/0123456789abcdef0123456789abcdef/mot/baseline", False),
        ("/gradio_api/file=/tmp/gradio/x..y.mp4", False),  # dots inside a name are fine
        ("/", False),
    ],
)
def test_the_path_guard_spots_every_spelling_of_dot_segments(path: str, climbs: bool) -> None:
    assert has_dot_segment(path) is climbs


def test_retry_after_is_the_backlog_at_the_recent_rate() -> None:
    # mean of 4 s and 6 s = 5 s; 3 queued + 1 running = 4 jobs ahead; 2 workers: 5 * 4 / 2 = 10 s.
    assert retry_after_seconds([4.0, 6.0], jobs_ahead=4, workers=2) == 10
    # 0.3 s * 1 / 1 = 0.3 -> rounded up to 1 s, never 0.
    assert retry_after_seconds([0.3], jobs_ahead=1, workers=1) == 1
    # 100 s * 9 / 1 = 900 s -> capped at 600 s.
    assert retry_after_seconds([100.0], jobs_ahead=9, workers=1) == 600
    assert retry_after_seconds([], jobs_ahead=5, workers=1) == DEFAULT_RETRY_AFTER_S


def _asgi_post(path: str = "/track") -> tuple[dict, object, object, list[dict]]:
    """An ASGI POST with an empty body: (scope, receive, send, messages sent back)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    return {"type": "http", "method": "POST", "path": path, "headers": [], "raw_path": path.encode()}, receive, send, sent


def test_admission_refuses_uploads_beyond_its_capacity_with_retry_after(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path, workers=1, max_queued=4)

    async def scenario() -> list[int]:
        release = asyncio.Event()

        async def tracking_app(scope, receive, send) -> None:  # a /track that answers once released
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        gate = Admission(tracking_app, jobs, paths=("/track",), capacity=1)
        first_scope, first_receive, first_send, first_sent = _asgi_post()
        first = asyncio.create_task(gate(first_scope, first_receive, first_send))
        await asyncio.sleep(0)  # the first request is now in flight
        second_scope, second_receive, second_send, second_sent = _asgi_post()
        await gate(second_scope, second_receive, second_send)
        release.set()
        await first
        third_scope, third_receive, third_send, third_sent = _asgi_post()
        await gate(third_scope, third_receive, third_send)
        assert dict(second_sent[0]["headers"])[b"retry-after"] == str(DEFAULT_RETRY_AFTER_S).encode()
        assert b"(limit 1)" in second_sent[1]["body"]
        return [first_sent[0]["status"], second_sent[0]["status"], third_sent[0]["status"], gate.in_flight]

    try:
        assert asyncio.run(scenario()) == [200, 429, 200, 0]
    finally:
        jobs.shutdown()


# ---------------------------------------------------------------------------------- job pool faults


def _blocking(gate: threading.Event, started: threading.Event):
    def work(folder: Path, progress) -> Payload:
        started.set()
        assert gate.wait(SECONDS)
        return Payload(ok=True)

    return work


def test_a_full_queue_answers_429_with_retry_after_and_shutdown_answers_503(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path, workers=1, max_queued=1)
    gate, started = threading.Event(), threading.Event()
    try:
        jobs.submit(jobs.new_job()[0], _blocking(gate, started), 1)
        assert started.wait(SECONDS)
        queued = jobs.new_job()[0]
        jobs.submit(queued, _blocking(gate, threading.Event()), 1)
        assert jobs.is_full()
        with pytest.raises(QueueFullError) as refused:
            jobs.submit(jobs.new_job()[0], _blocking(gate, threading.Event()), 1)
        assert refused.value.retry_after == DEFAULT_RETRY_AFTER_S and "try again in 10 s" in refused.value.detail
        jobs.shutdown()
        # The queued job can never run now: it fails at once, so whoever waits on it is released.
        assert jobs.wait(queued, timeout=SECONDS).state == "failed"
        assert "shut down before this job started" in jobs.get(queued).error
        with pytest.raises(ServiceUnavailableError) as closed:
            jobs.submit(jobs.new_job()[0], lambda f, p: Payload(), 1)
        assert closed.value.status == 503 and closed.value.retry_after >= 1
    finally:
        gate.set()
        jobs.shutdown()


def test_a_worker_survives_a_disk_that_refuses_status_files(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path, workers=1)
    try:
        job_id, folder = jobs.new_job()
        (folder / (STATUS_FILE + ".tmp")).mkdir()  # writing the status file now fails with OSError
        jobs.submit(job_id, lambda f, p: Payload(ok=True), 1)
        assert jobs.wait(job_id, timeout=SECONDS).state == "done"
        other = jobs.new_job()[0]
        jobs.submit(other, lambda f, p: Payload(ok=2), 1)
        assert jobs.wait(other, timeout=SECONDS).state == "done" and json.loads(jobs.result_json(other)) == {"ok": 2}
    finally:
        jobs.shutdown()


def test_results_expire_exactly_at_their_time_even_between_janitor_runs(tmp_path: Path) -> None:
    now = [1000.0]
    jobs = JobManager(tmp_path, workers=1, ttl_s=60, clock=lambda: now[0])
    try:
        job_id, folder = jobs.new_job()
        jobs.submit(job_id, lambda f, p: Payload(ok=True), 1)
        jobs.wait(job_id, timeout=SECONDS)
        now[0] = 1059.9
        assert jobs.get(job_id).state == "done"
        now[0] = 1060.0  # finished at 1000 + ttl 60
        with pytest.raises(Exception, match="expired"):
            jobs.get(job_id)
        assert not folder.exists()
    finally:
        jobs.shutdown()


def test_a_restart_drops_expired_results_and_interrupted_uploads_at_once(tmp_path: Path) -> None:
    now = [1000.0]
    first = JobManager(tmp_path, workers=1, ttl_s=60, clock=lambda: now[0])
    old, kept = first.new_job()[0], first.new_job()[0]
    first.submit(old, lambda f, p: Payload(n=1), 1)
    first.wait(old, timeout=SECONDS)
    now[0] = 1030.0
    first.submit(kept, lambda f, p: Payload(n=2), 1)
    first.wait(kept, timeout=SECONDS)
    first.shutdown()
    interrupted = "cd" * 16  # was running when the server died; its upload is still there
    (tmp_path / interrupted).mkdir()
    (tmp_path / interrupted / "upload.mp4").write_bytes(b"\x00" * 1000)
    (tmp_path / interrupted / STATUS_FILE).write_text(json.dumps({"id": interrupted, "state": "running"}))

    now[0] = 1070.0  # old expired at 1060; kept expires at 1090
    second = JobManager(tmp_path, workers=1, ttl_s=60, clock=lambda: now[0])
    try:
        assert not (tmp_path / old).exists()
        assert json.loads(second.result_json(kept)) == {"n": 2}
        assert second.get(interrupted).state == "failed"
        assert not (tmp_path / interrupted / "upload.mp4").exists()
    finally:
        second.shutdown()


def test_the_janitor_cleans_results_and_abandoned_folders_on_its_own(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path, workers=1, ttl_s=1)  # janitor period: max(1, ttl / 4) = 1 s
    try:
        job_id, folder = jobs.new_job()
        jobs.submit(job_id, lambda f, p: Payload(ok=True), 1)
        jobs.wait(job_id, timeout=SECONDS)
        abandoned = tmp_path / ("ef" * 16)  # e.g. an upload cut off by a crash: no status file
        abandoned.mkdir()
        (abandoned / "upload.mp4").write_bytes(b"\x00" * 100)
        os.utime(abandoned, (time.time() - 10, time.time() - 10))
        deadline = time.monotonic() + 30
        while (folder.exists() or abandoned.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)  # nobody calls cleanup() here: only the janitor thread can remove them
        assert not folder.exists() and not abandoned.exists()
    finally:
        jobs.shutdown()


# ====================================================================================== over HTTP


@dataclass
class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a thread of this process."""

    app: object
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jobs(self) -> JobManager:
        return self.app.state.jobs

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(SECONDS)


def start_server(config: AppConfig) -> LiveServer:
    app = create_app(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SECONDS
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    return LiveServer(app, sock.getsockname()[1], server, thread)


def service_config(root: Path, baseline: Path, **overrides: object) -> AppConfig:
    fields = dict(
        baseline_checkpoint=baseline, vsdmot_checkpoint=root / "no_vsd_mot.pt", jobs_dir=root / "jobs",
        max_upload_mb=LIMIT_MB, max_frames=MAX_FRAMES, workers=1, max_queued=2, job_ttl_s=600, render_width=160,
        examples_dir=None, max_jobs_per_client=50,  # every client here is this one machine
    )
    fields.update(overrides)
    return AppConfig(**fields)


def write_h264(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    with VideoWriter(path, fps, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    return path


@pytest.fixture(scope="module")
def material(videos_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every file the tests upload, made from the real clips or synthesised small."""
    mp4, gif = videos_dir / MP4, videos_dir / GIF
    for path in (mp4, gif):
        if not path.is_file():
            pytest.skip(f"{path.name} not in {videos_dir}")
    out = tmp_path_factory.mktemp("material")
    capture = cv2.VideoCapture(str(mp4))
    real = [capture.read()[1] for _ in range(4)]
    capture.release()
    mp4_bytes, gif_bytes = mp4.read_bytes(), gif.read_bytes()
    files = {
        "clip": write_h264(out / "clip.mp4", real),  # 4 real frames: the "normal request"
        "one_frame": write_h264(out / "one_frame.mp4", real[:1]),
        "eight_k": write_h264(out / "eight_k.mp4", [np.full((4320, 7680, 3), 90, np.uint8)] * 2),
        "real_mp4": mp4,
        "real_gif": gif,
    }
    cuts = {"truncated_10pct": (mp4_bytes, 0.10, "mp4"), "truncated_1p5pct": (mp4_bytes, 0.015, "mp4"),
            "header_only": (mp4_bytes, 0.01, "mp4"), "truncated_gif": (gif_bytes, 0.10, "gif")}
    for name, (data, fraction, suffix) in cuts.items():
        files[name] = out / f"{name}.{suffix}"
        files[name].write_bytes(data[: int(len(data) * fraction)])
    cv2.imwrite(str(out / "frame.png"), real[0])
    cv2.imwrite(str(out / "frame.jpg"), real[0])
    files["png"], files["jpg"] = out / "frame.png", out / "frame.jpg"
    files["text"] = out / "notes.txt"
    files["text"].write_text("These are meeting notes, not a video.\n" * 40)
    files["empty"] = out / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["raw_h264"] = out / "raw_stream.mp4"  # an elementary H.264 stream stores no frame count
    with av.open(str(files["raw_h264"]), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(MAX_FRAMES + 10):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((64, 96, 3), 5 * i, np.uint8), format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return files


@pytest.fixture(scope="module")
def live(material: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    baseline = baseline_checkpoint_or_skip()
    server = start_server(service_config(tmp_path_factory.mktemp("live"), baseline))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=SECONDS) as client:
        yield client


def post(http: httpx.Client, path: Path, upload_name: str | None = None, route: str = "/track",
         **fields: object) -> httpx.Response:
    data = {k: str(v) for k, v in fields.items()}
    return http.post(route, files={"video": (upload_name or path.name, path.read_bytes())}, data=data)


def assert_still_serving(http: httpx.Client, material: dict[str, Path]) -> None:
    health = http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    normal = post(http, material["clip"], variant="baseline", max_frames=2)
    assert normal.status_code == 200, normal.text
    assert normal.json()["meta"]["frames_processed"] == 2


@dataclass
class BadInput:
    file: str  # key into ``material``
    upload_name: str | None
    fields: dict
    status: int
    code: str
    words: str


BAD_INPUTS = {
    "empty file": BadInput("empty", "empty.mp4", {}, 400, "empty_upload", "empty.mp4 is empty (0 bytes)"),
    "text renamed .mp4": BadInput("text", "notes.mp4", {}, 415, "unsupported_file", "notes.mp4 is a text file, not a video"),
    "text as .txt": BadInput("text", None, {}, 415, "unsupported_file", "notes.txt is not a supported clip"),
    "truncated mp4 (first 10%)": BadInput(
        "truncated_10pct", None, {}, 422, "clip_too_long", "the clip has 1394 frames"),
    "truncated mp4 read past its end": BadInput(
        "truncated_1p5pct", None, {"max_frames": MAX_FRAMES}, 422, "unreadable_video",
        "truncated_1p5pct.mp4 stopped decoding after frame"),
    "zero decodable frames": BadInput("header_only", None, {}, 422, "unreadable_video",
                                      "header_only.mp4 has no decodable frames"),
    "truncated gif": BadInput("truncated_gif", None, {}, 422, "unreadable_video", "cannot decode frame"),
    "png image": BadInput("png", None, {}, 415, "unsupported_file", "frame.png is not a supported clip"),
    "jpeg renamed .mp4": BadInput("jpg", "frame.mp4", {}, 415, "unsupported_file", "frame.mp4 is a JPEG image, not a video"),
    "png renamed .gif": BadInput("png", "frame.gif", {}, 415, "unsupported_file", "frame.gif is a PNG image, not a video"),
    "8K frames": BadInput("eight_k", None, {}, 422, "frames_too_large", "7680x4320 frames (33.2 megapixels)"),
    "over the upload limit": BadInput("real_mp4", None, {"max_frames": 2}, 413, "upload_too_large",
                                      f"{LIMIT_MB} MB limit"),
    "over the frame limit": BadInput("real_gif", None, {}, 422, "clip_too_long", "the clip has 45 frames"),
    "uncounted stream over the frame limit": BadInput(
        "raw_h264", None, {}, 422, "clip_too_long", f"the clip has at least {MAX_FRAMES + 1} frames"),
    "unknown variant": BadInput("clip", None, {"variant": "fastest"}, 422, "bad_option", "variant: Input should be"),
    "unknown degrade": BadInput("clip", None, {"degrade": "apocalyptic"}, 422, "bad_option", "degrade: Input should be"),
    "negative max_frames": BadInput("clip", None, {"max_frames": -3}, 422, "bad_option", "max_frames: Input should be greater"),
    "absurd max_frames": BadInput("clip", None, {"max_frames": 10**12}, 422, "bad_option", f"limit of {MAX_FRAMES}"),
    "max_frames not a number": BadInput("clip", None, {"max_frames": "lots"}, 422, "bad_option", "max_frames: Input should be a valid integer"),
    "negative seed": BadInput("clip", None, {"seed": -1}, 422, "bad_option", "seed: Input should be greater than or equal to 0"),
    "absurd seed": BadInput("clip", None, {"seed": 2**32}, 422, "bad_option", "seed: Input should be less than or equal to 4294967295"),
    "5000-digit seed": BadInput("clip", None, {"seed": "9" * 5000}, 422, "bad_option", "seed: Unable to parse"),
    "mot output of both": BadInput("clip", None, {"output": "mot"}, 422, "bad_option", "output=mot returns one tracker's file"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_gets_a_clear_4xx_and_the_server_keeps_serving(
    http: httpx.Client, live: LiveServer, material: dict[str, Path], case: str
) -> None:
    bad = BAD_INPUTS[case]
    before = set(os.listdir(live.jobs.root))
    response = post(http, material[bad.file], bad.upload_name, **bad.fields)
    assert response.status_code == bad.status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail", "request_id"} and body["error"] == bad.code
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert bad.words in body["detail"]
    assert "Traceback" not in body["detail"] and str(live.jobs.root) not in body["detail"]
    assert set(os.listdir(live.jobs.root)) <= before | _finished_ids(live)  # a refusal leaves no folder
    assert_still_serving(http, material)


def _finished_ids(live: LiveServer) -> set[str]:
    return {p.name for p in live.jobs.root.iterdir() if (p / STATUS_FILE).is_file()}


def test_a_single_frame_video_is_tracked(http: httpx.Client, material: dict[str, Path]) -> None:
    response = post(http, material["one_frame"], variant="baseline")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["frame"] for f in body["frames"]] == [1]
    assert body["meta"]["source"]["num_frames"] == 1 and body["meta"]["frames_processed"] == 1


def test_a_truncated_mp4_still_tracks_its_intact_start(http: httpx.Client, material: dict[str, Path]) -> None:
    response = post(http, material["truncated_10pct"], variant="baseline", max_frames=3)
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["frames_processed"] == 3


def test_hostile_filenames_are_never_used_as_paths(http: httpx.Client, live: LiveServer, material: dict[str, Path]) -> None:
    names = {"../../../../tmp/escaped.mp4": "escaped.mp4", "..\\..\\escaped2.mp4": "escaped2.mp4",
             "ñandú 🚶\u202e4pm.mp4": "ñandú 🚶4pm.mp4"}
    root = live.jobs.root.parent
    for sent, shown in names.items():
        created = post(http, material["clip"], sent, route="/jobs", variant="baseline", max_frames=1)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert live.jobs.wait(job_id, timeout=SECONDS).state == "done"
        result = http.get(f"/jobs/{job_id}/result").json()
        assert result["meta"]["source"]["filename"] == shown
        stored = {p.name for p in (live.jobs.root / job_id).iterdir()}
        assert stored <= {STATUS_FILE, "result.json", "baseline.txt", "baseline.json", "baseline.mp4", "side_by_side.mp4"}
    outside = [p for p in root.rglob("*") if "escaped" in p.name]
    assert outside == [] and not Path("/tmp/escaped.mp4").exists()


def raw_http(port: int, request: bytes, body_chunks: Iterator[bytes] = iter(()), read_timeout: float = 30.0):
    """Send ``request`` then ``body_chunks`` until the server answers; return (status, headers, body, sent).

    ``sent`` counts the body bytes handed to the socket before the answer was seen.
    """
    import select

    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(request)
        sent = 0
        answered = False
        for chunk in body_chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                answered = True
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            part = sock.recv(65536)
            if not part:
                break
            body += part
        return status, headers, body, sent


@pytest.mark.parametrize(
    "path",
    ["/jobs/../../etc/passwd", "/jobs/..%2F..%2Fetc%2Fpasswd", "/jobs/%2e%2e/%2e%2e/etc/passwd",
     "/jobs/0123456789abcdef0123456789abcdef/mot/..%2F..%2F..%2Fetc%2Fpasswd", "/../../etc/passwd",
     "/jobs/00000000000000000000000000000000", "/jobs/not-a-job", "/jobs/00000000000000000000000000000000/video"],
)
def test_job_paths_that_do_not_exist_or_climb_out_are_a_json_404(live: LiveServer, http: httpx.Client, path: str) -> None:
    status, headers, body, _ = raw_http(live.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert status == 404 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["error"] in ("not_found", "job_not_found", "bad_option") and answer["detail"]
    assert b"root:" not in body
    assert http.get("/health").status_code == 200


def test_gradio_file_route_does_not_serve_files_outside_its_cache(live: LiveServer) -> None:
    status, _, body, _ = raw_http(live.port, b"GET /gradio_api/file=/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status in (403, 404) and b"root:" not in body


MULTIPART_HEAD = (b"--bnd\r\nContent-Disposition: form-data; name=\"video\"; filename=\"big.mp4\"\r\n"
                  b"Content-Type: video/mp4\r\n\r\n")


def test_an_announced_oversize_upload_is_refused_before_its_body_is_sent(live: LiveServer) -> None:
    announced = 100 * 1024 * 1024  # 100 MB promised; only the part headers are ever sent
    request = (f"POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=bnd\r\n"
               f"Content-Length: {announced}\r\n\r\n").encode() + MULTIPART_HEAD
    status, _, body, _ = raw_http(live.port, request)
    assert status == 413 and json.loads(body)["error"] == "upload_too_large"


def test_a_chunked_oversize_upload_is_cut_off_while_it_streams(live: LiveServer, http: httpx.Client) -> None:
    total = 200 * 1024 * 1024  # the client would send 200 MB; the limit is 2 MB
    chunk = b"\x00" * 65536
    body = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(total // len(chunk)))
    request = (b"POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=bnd\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(MULTIPART_HEAD):x}\r\n".encode() + MULTIPART_HEAD + b"\r\n")
    before = set(os.listdir(live.jobs.root))
    status, _, answer, sent = raw_http(live.port, request, body)
    assert status == 413 and json.loads(answer)["error"] == "upload_too_large"
    # The answer came while most of the body was still unsent: the server stopped reading near the
    # limit (what it had read plus what the loopback socket buffers held), never the whole body.
    assert sent < 32 * 1024 * 1024 < total
    assert set(os.listdir(live.jobs.root)) == before
    assert http.get("/health").status_code == 200


def _spool_files() -> set[str]:
    """Open files of this process that are temp spools (named in the temp dir, or already unlinked)."""
    import tempfile

    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(tempfile.gettempdir()) or target.endswith("(deleted)"):
            found.add(target)
    return found


def test_a_client_that_disconnects_mid_upload_leaves_nothing_behind(live: LiveServer, http: httpx.Client) -> None:
    before_files, before_folders = _spool_files(), set(os.listdir(live.jobs.root))
    length = 1_800_000  # under the 2 MB limit; more than the 1 MB the parser keeps in memory
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        sock.sendall((f"POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=bnd\r\n"
                      f"Content-Length: {length}\r\n\r\n").encode() + MULTIPART_HEAD + b"\x00" * 1_300_000)
        deadline = time.monotonic() + SECONDS
        while not (_spool_files() - before_files) and time.monotonic() < deadline:
            time.sleep(0.05)  # the server has spilled the part to a temp file
        assert _spool_files() - before_files, "the upload never reached a temp file"
    deadline = time.monotonic() + SECONDS  # the socket is closed mid-body: the server must let go
    while (_spool_files() - before_files) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _spool_files() - before_files == set()
    assert set(os.listdir(live.jobs.root)) == before_folders
    assert http.get("/health").status_code == 200


def _poll(http: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + SECONDS
    job = http.get(f"/jobs/{job_id}").json()
    while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = http.get(f"/jobs/{job_id}").json()
    return job


@pytest.mark.parametrize(
    ("file", "fields", "words"),
    [("truncated_gif", {}, r"cannot decode frame \d+ of truncated_gif\.gif: image file is truncated"),
     ("truncated_1p5pct", {"max_frames": MAX_FRAMES},
      r"truncated_1p5pct\.mp4 stopped decoding after frame \d+ although its header announces 1394 frames")],
)
def test_a_job_whose_decoder_fails_mid_video_is_failed_with_its_reason(
    http: httpx.Client, material: dict[str, Path], file: str, fields: dict, words: str
) -> None:
    created = post(http, material[file], route="/jobs", variant="baseline", **fields)
    assert created.status_code == 202, created.text  # the header and first frame were fine
    job = _poll(http, created.json()["id"])
    assert job["state"] == "failed" and re.search(words, job["error"]), job["error"]
    assert job["progress"]["frames_done"] >= 1  # it really ran into the damage mid-clip
    result = http.get(f"/jobs/{job['id']}/result")
    assert result.status_code == 409 and "failed" in result.json()["detail"]
    after = post(http, material["clip"], route="/jobs", variant="baseline", max_frames=2)
    assert _poll(http, after.json()["id"])["state"] == "done"  # the pool went on


def test_a_full_queue_refuses_uploads_with_429_and_retry_after_over_http(
    http: httpx.Client, live: LiveServer, material: dict[str, Path]
) -> None:
    gate, started = threading.Event(), threading.Event()
    blocker = live.jobs.new_job()[0]
    live.jobs.submit(blocker, _blocking(gate, started), 1)  # occupies the single worker
    try:
        assert started.wait(SECONDS)
        queued = [post(http, material["clip"], route="/jobs", variant="baseline", max_frames=1).json() for _ in range(2)]
        assert [q["queue_position"] for q in queued] == [1, 2]
        before = set(os.listdir(live.jobs.root))
        for route in ("/jobs", "/track"):
            refused = post(http, material["clip"], route=route, variant="baseline", max_frames=1)
            assert refused.status_code == 429 and refused.json()["error"] == "queue_full"
            assert int(refused.headers["retry-after"]) >= 1
        assert set(os.listdir(live.jobs.root)) == before  # refused at the door: nothing stored
    finally:
        gate.set()
    assert all(_poll(http, q["id"])["state"] == "done" for q in queued)
    assert_still_serving(http, material)


def test_a_restart_keeps_finished_results_readable_until_they_expire(
    material: dict[str, Path], tmp_path: Path
) -> None:
    config = service_config(tmp_path, baseline_checkpoint_or_skip(), job_ttl_s=600)
    first = start_server(config)
    try:
        with httpx.Client(base_url=first.url, timeout=SECONDS) as client:
            job_id = post(client, material["clip"], route="/jobs", variant="baseline", max_frames=3).json()["id"]
            assert _poll(client, job_id)["state"] == "done"
            before = client.get(f"/jobs/{job_id}/result").json()
            mot_before = client.get(f"/jobs/{job_id}/mot/baseline").text
    finally:
        first.stop()
    second = start_server(config)
    try:
        with httpx.Client(base_url=second.url, timeout=SECONDS) as client:
            assert client.get(f"/jobs/{job_id}").json()["state"] == "done"
            assert client.get(f"/jobs/{job_id}/result").json() == before
            assert client.get(f"/jobs/{job_id}/mot/baseline").text == mot_before
            assert client.get(f"/jobs/{job_id}/video").status_code == 200
            finished_at = client.get(f"/jobs/{job_id}").json()["finished_at"]
            second.jobs.clock = lambda: finished_at + 600  # the moment its time is up
            gone = client.get(f"/jobs/{job_id}/result")
            assert gone.status_code == 404 and "expired" in gone.json()["detail"]
            assert not (config.jobs_dir / job_id).exists()
    finally:
        second.stop()


@pytest.mark.slow
def test_the_schemathesis_fuzz_script_finds_no_failure(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.fuzz_api import main as fuzz_main

    assert fuzz_main(["--examples", "4", "--budget-s", "60", "--seed", "1"]) == 0
    summary = capsys.readouterr().out
    assert re.search(r"total: \d+ requests in \d+ s, 0 answers 5xx, 0 failures; /health afterwards: 200 ok", summary)
    assert "POST /track positive" in summary and "GET /jobs/{job_id} positive" in summary


def test_the_page_obeys_the_per_client_bound_through_gradios_own_api(
    material: dict[str, Path], tmp_path: Path
) -> None:
    """Through Gradio's HTTP API (gradio_client), as the page calls it: the same client may hold only
    ``max_jobs_per_client`` jobs, and a further one is refused with the API's reason."""
    import threading

    from gradio_client import Client, handle_file

    config = service_config(tmp_path, baseline_checkpoint_or_skip(), max_jobs_per_client=1, max_frames=2000)
    server = start_server(config)
    gate = threading.Event()

    def hold(folder: Path, progress) -> Payload:
        gate.wait(SECONDS)
        return Payload()

    try:
        blocker = server.jobs.new_job()[0]
        server.jobs.submit(blocker, hold, 1, owner="127.0.0.1")  # this machine's one slot
        client = Client(server.url, verbose=False)
        arguments = (handle_file(str(material["clip"])), "Baseline only", True, True, "none", 0, 2)
        with pytest.raises(Exception, match="1 per client"):
            client.predict(*arguments, api_name="/start")
        gate.set()
        assert server.jobs.wait(blocker, timeout=SECONDS).state == "done"
        job_id, _ = client.predict(*arguments, api_name="/start")  # its slot is free again
        assert server.jobs.wait(job_id, timeout=SECONDS).state == "done"
    finally:
        gate.set()
        server.stop()
