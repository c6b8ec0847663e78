"""The web service through real HTTP (FastAPI TestClient on the mounted app) on real clips.

Needs a trained baseline checkpoint (``VSDMOT_BASELINE_CHECKPOINT`` or ``assets/baseline.pt``) and
the example clips (``../shared/videos``); skips with the reason otherwise. VSD-MOT's plumbing is
exercised with a checkpoint built here from the baseline weights plus a fresh VSD hook: its
student starts as the identity, so it must reproduce the baseline's tracks exactly while DSWR
reports a real semantic weight. It is a test fixture only, never served as a trained model.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.config import AppConfig
from app.panels import panel_size
from app.server import create_app
from model.data.mot_io import read_mot, rows_to_tracks
from model.tracking.checkpoint import DEFAULT_CHECKPOINTS
from tests.helpers import held_job, labelled_zip, write_sequence_subset

CLIP = "intel-preview-classroom.gif"  # 45 frames, 480x270, 1.2 MB, several people from frame 1
LONG_CLIP = "intel-one-by-one-person-detection.mp4"  # 1394 frames, 3.2 MB
MAX_FRAMES_LIMIT = 20
RENDER_WIDTH = 320


def baseline_checkpoint_or_skip() -> Path:
    """The trained baseline the tests run on; skip (with what to do) when there is none."""
    explicit = os.environ.get("VSDMOT_BASELINE_CHECKPOINT", "").strip()
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    if DEFAULT_CHECKPOINTS["baseline"].is_file():
        return DEFAULT_CHECKPOINTS["baseline"]
    pytest.skip("no trained baseline checkpoint: put it at assets/baseline.pt or set VSDMOT_BASELINE_CHECKPOINT")


def build_plumbing_vsd_checkpoint(baseline: Path, out: Path) -> Path:
    """Baseline weights + a fresh VSD hook (identity student, untrained DSWR): for tests only."""
    from model.tracking.checkpoint import load_checkpoint, save_checkpoint
    from model.tracking.hooks import VSDHook

    model, meta = load_checkpoint(baseline)
    model.hook = VSDHook(trained_student=True, trained_dswr=True)
    meta = {k: v for k, v in meta.items() if k not in ("sha256", "path")}
    save_checkpoint(out, model, {**meta, "variant": "vsd-mot", "teacher": "none (test fixture)"})
    return out


@pytest.fixture(scope="module")
def baseline_ckpt() -> Path:
    return baseline_checkpoint_or_skip()


@pytest.fixture(scope="module")
def clip(videos_dir: Path) -> Path:
    path = videos_dir / CLIP
    if not path.is_file():
        pytest.skip(f"{CLIP} not in {videos_dir}")
    return path


@pytest.fixture(scope="module")
def vsd_ckpt(baseline_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_plumbing_vsd_checkpoint(baseline_ckpt, tmp_path_factory.mktemp("ckpt") / "vsd_plumbing.pt")


def _config(tmp: Path, baseline: Path, vsdmot: Path) -> AppConfig:
    return AppConfig(
        baseline_checkpoint=baseline, vsdmot_checkpoint=vsdmot, jobs_dir=tmp / "jobs", max_upload_mb=2,
        max_frames=MAX_FRAMES_LIMIT, workers=1, max_queued=4, job_ttl_s=600, render_width=RENDER_WIDTH,
        max_jobs_per_client=50,  # one TestClient plays every client here; the fairness test sets its own bound
    )


@pytest.fixture(scope="module")
def client(baseline_ckpt: Path, vsd_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Both variants loaded (VSD-MOT from the plumbing checkpoint)."""
    config = _config(tmp_path_factory.mktemp("app"), baseline_ckpt, vsd_ckpt)
    with TestClient(create_app(config)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def baseline_only(baseline_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The situation today: no VSD-MOT checkpoint on the server."""
    tmp = tmp_path_factory.mktemp("app_baseline_only")
    config = _config(tmp, baseline_ckpt, tmp / "missing_vsd_mot.pt")
    with TestClient(create_app(config)) as test_client:
        yield test_client


def post_clip(client: TestClient, path: Path, route: str = "/track", **fields: object):
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}
    with path.open("rb") as handle:
        return client.post(route, files={"video": (path.name, handle)}, data=data)


def meta_is_unlabelled(body: dict) -> bool:
    return body["meta"]["labelled"] is False and body["meta"]["request"]["sweep"] is False


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------ pure helpers


def test_panel_size_keeps_aspect_and_even_sides() -> None:
    assert panel_size(768, 432, 640) == (640, 360)  # scale 640/768 = 0.8333: 432 * 0.8333 = 360
    assert panel_size(480, 270, 640) == (480, 270)  # never upscaled
    assert panel_size(1920, 1080, 320) == (320, 180)
    assert panel_size(481, 271, 640) == (480, 272)  # 240.5 -> 240 (half to even), 135.5 -> 136


def test_config_rejects_nonsense_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSDMOT_MAX_FRAMES", "lots")
    with pytest.raises(ValueError, match="VSDMOT_MAX_FRAMES='lots' must be a whole number"):
        AppConfig.from_env()
    monkeypatch.setenv("VSDMOT_MAX_FRAMES", "0")
    with pytest.raises(ValueError, match="VSDMOT_MAX_FRAMES=0 must be at least 1"):
        AppConfig.from_env()


def test_config_reads_checkpoints_and_port_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VSDMOT_BASELINE_CHECKPOINT", str(tmp_path / "b.pt"))
    monkeypatch.setenv("VSDMOT_VSDMOT_CHECKPOINT", str(tmp_path / "v.pt"))
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.delenv("VSDMOT_MAX_FRAMES", raising=False)
    config = AppConfig.from_env()
    assert (config.baseline_checkpoint, config.vsdmot_checkpoint) == (tmp_path / "b.pt", tmp_path / "v.pt")
    assert config.port == 8123
    assert config.checkpoint("vsd-mot") == tmp_path / "v.pt"
    assert config.max_upload_bytes == 50 * 1024 * 1024


# ------------------------------------------------------------------------------------ service status


def test_health_reports_limits_and_readiness(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["ready"] is True
    assert body["limits"]["max_frames"] == MAX_FRAMES_LIMIT
    assert body["limits"]["max_upload_mb"] == 2
    assert "gif" in body["limits"]["upload_types"]
    # Where it computes, truthfully: this machine has no CUDA, so the default "auto" is the CPU for both.
    if not torch.cuda.is_available():
        assert body["device"] == {"requested": "auto", "tracker": "cpu", "detector": "CPUExecutionProvider"}


def test_models_lists_loaded_checkpoints_with_their_hashes(client: TestClient, baseline_ckpt: Path, vsd_ckpt: Path) -> None:
    body = client.get("/models").json()
    assert body["detector"]["name"] == "yolox_nano"
    assert body["variants"]["baseline"]["sha256"] == sha256(baseline_ckpt)
    assert body["variants"]["vsd-mot"]["sha256"] == sha256(vsd_ckpt)
    assert body["variants"]["vsd-mot"]["switches"] == {"student": True, "dswr": True}
    assert body["variants"]["baseline"]["switches"] is None


def test_models_says_why_vsd_mot_is_missing(baseline_only: TestClient) -> None:
    vsd = baseline_only.get("/models").json()["variants"]["vsd-mot"]
    assert vsd["loaded"] is False
    assert "no trained vsd-mot checkpoint" in vsd["reason"]
    assert "VSDMOT_VSDMOT_CHECKPOINT" in vsd["reason"]


def test_the_ui_page_and_the_api_docs_are_both_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<gradio-app" in page.text
    spec = client.get("/openapi.json").json()
    assert {"/track", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/result", "/jobs/{job_id}/video",
            "/jobs/{job_id}/mot/{variant}", "/health", "/models"} <= set(spec["paths"])
    track = spec["paths"]["/track"]["post"]
    assert {"200", "409", "413", "415", "422", "429"} <= set(track["responses"])
    form = spec["components"]["schemas"][track["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
    assert {"video", "variant", "student", "dswr", "degrade", "seed", "max_frames", "output"} <= set(form["properties"])
    assert client.get("/docs").status_code == 200


def test_the_docs_pages_load_their_assets_from_this_server(client: TestClient) -> None:
    for page_path in ("/docs", "/redoc"):
        page = client.get(page_path)
        assert page.status_code == 200 and "/openapi.json" in page.text
        assert "cdn.jsdelivr" not in page.text and "fonts.googleapis" not in page.text
        assets = re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', page.text)
        assert assets, page.text
        for asset in assets:
            answer = client.get(asset)
            assert answer.status_code == 200 and len(answer.content) > 500, asset


# ------------------------------------------------------------------------------------ POST /track


def test_track_answers_tracks_per_frame_quality_and_metadata(client: TestClient, clip: Path, baseline_ckpt: Path) -> None:
    response = post_clip(client, clip, max_frames=8)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["frame", "id", "x", "y", "w", "h", "score"]
    assert set(body["tracks"]) == {"baseline", "vsd-mot"} and body["unavailable"] == {}
    for rows in body["tracks"].values():
        for frame, track_id, x, y, w, h, score in rows:
            assert isinstance(frame, int) and isinstance(track_id, int)
            assert 1 <= frame <= 8 and track_id >= 1 and w > 0 and h > 0 and 0 <= score <= 1
            assert 0 <= x <= 480 and 0 <= y <= 270
    assert [f["frame"] for f in body["frames"]] == list(range(1, 9))
    for record in body["frames"]:
        for key in ("quality", "clarity", "noise", "contrast"):
            assert 0.0 <= record[key] <= 1.0
        rows = {name: sum(1 for r in body["tracks"][name] if r[0] == record["frame"]) for name in body["tracks"]}
        assert record["track_count"] == rows
    meta = body["meta"]
    assert body["scores"] is None and body["sweep"] is None and meta_is_unlabelled(body)
    # The GIF's own rate, from its 70 ms frame delays (not a nominal 10 fps).
    assert meta["frames_processed"] == 8 and meta["fps"] == 14.286 and meta["device"] == "cpu"
    assert meta["detector"]["device"] == "CPUExecutionProvider"
    assert meta["source"] == {"filename": CLIP, "width": 480, "height": 270, "num_frames": 45}
    assert meta["models"]["baseline"]["sha256"] == sha256(baseline_ckpt)
    assert meta["models"]["baseline"]["student"] == "not applicable"
    assert meta["models"]["vsd-mot"]["teacher"] == "none (test fixture)"
    assert (meta["models"]["vsd-mot"]["student"], meta["models"]["vsd-mot"]["dswr"]) == (True, True)
    assert meta["elapsed_s"] > 0
    for name, summary in body["summary"].items():
        assert summary["rows"] == len(body["tracks"][name])
        assert summary["ids"] == len({r[1] for r in body["tracks"][name]})


def test_track_ids_restart_at_one_for_every_request(client: TestClient, clip: Path) -> None:
    first = post_clip(client, clip, variant="baseline", max_frames=12).json()["tracks"]["baseline"]
    second = post_clip(client, clip, variant="baseline", max_frames=12).json()["tracks"]["baseline"]
    if not first:
        pytest.skip("the checkpoint found nobody in the first 12 frames; nothing to number")
    ids = sorted({row[1] for row in first})
    assert ids == list(range(1, len(ids) + 1))  # every born track is visible at birth: no gaps
    assert second == first  # a fresh tracker per request: same clip, same answer


def test_an_untrained_vsd_hook_reproduces_the_baseline_on_the_shared_detections(client: TestClient, clip: Path) -> None:
    body = post_clip(client, clip, max_frames=10).json()
    if not body["tracks"]["baseline"]:
        pytest.skip("the checkpoint found nobody in the first 10 frames; nothing to compare")
    baseline, vsdmot = rows_to_tracks(body["tracks"]["baseline"]), rows_to_tracks(body["tracks"]["vsd-mot"])
    assert set(baseline) == set(vsdmot)
    for frame in baseline:
        np.testing.assert_array_equal(baseline[frame].ids, vsdmot[frame].ids)
        np.testing.assert_allclose(baseline[frame].xyxy, vsdmot[frame].xyxy, atol=0.01)


def test_dswr_reports_a_weight_per_frame_only_when_it_runs(client: TestClient, clip: Path) -> None:
    on = post_clip(client, clip, variant="vsd-mot", max_frames=5).json()
    weights = [f["semantic_weight"] for f in on["frames"]]
    assert all(w is not None and 0.0 < w < 1.0 for w in weights)
    off = post_clip(client, clip, variant="vsd-mot", dswr=False, max_frames=5).json()
    assert [f["semantic_weight"] for f in off["frames"]] == [None] * 5
    assert off["meta"]["models"]["vsd-mot"]["dswr"] is False
    no_student = post_clip(client, clip, variant="vsd-mot", student=False, max_frames=5).json()
    assert no_student["meta"]["models"]["vsd-mot"]["student"] is False
    assert [f["semantic_weight"] for f in no_student["frames"]] == [None] * 5
    baseline = post_clip(client, clip, variant="baseline", max_frames=5).json()
    assert [f["semantic_weight"] for f in baseline["frames"]] == [None] * 5


def test_degradation_lowers_the_measured_quality(client: TestClient, clip: Path) -> None:
    clean = post_clip(client, clip, variant="baseline", max_frames=4).json()
    severe = post_clip(client, clip, variant="baseline", degrade="severe", seed=3, max_frames=4).json()
    assert severe["meta"]["degrade"] == "severe" and severe["meta"]["seed"] == 3
    clean_q = np.mean([f["quality"] for f in clean["frames"]])
    severe_q = np.mean([f["quality"] for f in severe["frames"]])
    assert severe_q < clean_q


def test_mot_output_parses_and_matches_the_json_rows(client: TestClient, clip: Path, tmp_path: Path) -> None:
    response = post_clip(client, clip, variant="baseline", output="mot", max_frames=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    mot_file = tmp_path / "baseline.txt"
    mot_file.write_text(response.text)
    from_text = read_mot(mot_file)
    from_json = rows_to_tracks(post_clip(client, clip, variant="baseline", max_frames=10).json()["tracks"]["baseline"])
    if not from_json:
        pytest.skip("the checkpoint found nobody in the first 10 frames; nothing to compare")
    assert set(from_text) == set(from_json)
    for frame in from_json:
        np.testing.assert_array_equal(from_text[frame].ids, from_json[frame].ids)
        np.testing.assert_allclose(from_text[frame].xyxy, from_json[frame].xyxy, atol=1e-3)
    for line in response.text.splitlines():
        assert line.endswith(",-1,-1,-1") and len(line.split(",")) == 10


def test_both_without_a_vsd_mot_checkpoint_runs_the_baseline_and_says_why(baseline_only: TestClient, clip: Path) -> None:
    body = post_clip(baseline_only, clip, max_frames=3).json()
    assert set(body["tracks"]) == {"baseline"}
    assert "no trained vsd-mot checkpoint" in body["unavailable"]["vsd-mot"]
    assert body["meta"]["models"]["vsd-mot"]["available"] is False
    assert all(set(f["track_count"]) == {"baseline"} for f in body["frames"])


# ------------------------------------------------------------------------------------ errors


def test_asking_for_a_missing_vsd_mot_is_a_clear_409(baseline_only: TestClient, clip: Path) -> None:
    response = post_clip(baseline_only, clip, variant="vsd-mot", max_frames=3)
    assert response.status_code == 409
    assert response.json()["error"] == "model_unavailable"
    assert "no trained vsd-mot checkpoint" in response.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"variant": "fast"}, "variant: Input should be 'baseline', 'vsd-mot' or 'both'"),
        ({"degrade": "extreme"}, "degrade: Input should be"),
        ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
        ({"max_frames": 0}, "max_frames: Input should be greater than or equal to 1"),
        ({"max_frames": MAX_FRAMES_LIMIT + 1}, f"limit of {MAX_FRAMES_LIMIT}"),
        ({"output": "mot"}, "output=mot returns one tracker's file"),
    ],
)
def test_bad_options_are_a_readable_422(client: TestClient, clip: Path, fields: dict, words: str) -> None:
    response = post_clip(client, clip, **fields)
    assert response.status_code == 422
    assert words in response.json()["detail"]


def test_a_clip_over_the_frame_limit_asks_for_max_frames(client: TestClient, clip: Path) -> None:
    response = post_clip(client, clip)  # 45 frames > 20
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "clip_too_long"
    assert "45 frames" in body["detail"] and "set max_frames" in body["detail"]


def test_a_file_that_is_not_a_clip_is_refused_by_type(client: TestClient) -> None:
    response = client.post("/track", files={"video": ("notes.txt", b"hello")})
    assert response.status_code == 415
    assert "mp4" in response.json()["detail"] and "gif" in response.json()["detail"]


@pytest.mark.parametrize("name", ["broken.mp4", "broken.gif"])
def test_an_undecodable_clip_is_a_422_naming_the_upload(client: TestClient, name: str) -> None:
    response = client.post("/track", files={"video": (name, b"\x00not a video at all" * 50)})
    assert response.status_code == 422
    assert response.json()["error"] == "unreadable_video"
    assert name in response.json()["detail"]


def _job_folders(client: TestClient) -> set[str]:
    return {p.name for p in client.app.state.jobs.root.iterdir()}


def test_an_upload_over_the_size_limit_is_refused_before_it_is_stored(client: TestClient, videos_dir: Path) -> None:
    big = videos_dir / LONG_CLIP  # 3.2 MB > 2 MB
    before = _job_folders(client)
    response = post_clip(client, big, max_frames=5)
    assert response.status_code == 413
    assert response.json()["error"] == "upload_too_large" and "2 MB" in response.json()["detail"]
    assert _job_folders(client) == before


def test_the_size_limit_holds_for_a_chunked_upload_without_length(client: TestClient) -> None:
    boundary = "vsdmotboundary"

    def body() -> Iterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"big.mp4\"\r\n"
               "Content-Type: video/mp4\r\n\r\n").encode()
        for _ in range(3 * 16):  # 3 MB in 64 KB chunks, never announced up front
            yield b"\x00" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post("/track", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert response.json()["error"] == "upload_too_large"


# ------------------------------------------------------------------------------------ jobs


def test_job_lifecycle_progress_result_and_a_playable_video(client: TestClient, clip: Path) -> None:
    created = post_clip(client, clip, route="/jobs", max_frames=12)
    assert created.status_code == 202
    job = created.json()
    assert job["state"] in ("queued", "running") and job["progress"]["frames_total"] == 12
    job_id = job["id"]
    seen = []
    while job["state"] not in ("done", "failed"):
        job = client.get(f"/jobs/{job_id}").json()
        seen.append(job["progress"]["frames_done"])
    assert job["state"] == "done", job["error"]
    assert seen == sorted(seen) and job["progress"] == {"frames_done": 12, "frames_total": 12, "eta_s": 0.0}
    assert job["expires_at"] == pytest.approx(job["finished_at"] + 600)

    result = client.get(f"/jobs/{job_id}/result").json()
    assert result["meta"]["frames_processed"] == 12 and set(result["tracks"]) == {"baseline", "vsd-mot"}

    video = client.get(f"/jobs/{job_id}/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(stream))
    width, height = panel_size(480, 270, RENDER_WIDTH)
    assert len(frames) == 12
    assert (frames[0].width, frames[0].height) == (2 * width, height)  # baseline | VSD-MOT
    assert frames[0].format.name == "yuv420p"

    mot = client.get(f"/jobs/{job_id}/mot/baseline")
    assert mot.status_code == 200
    assert len([line for line in mot.text.splitlines() if line]) == len(result["tracks"]["baseline"])


def test_unknown_and_malformed_jobs_are_404(client: TestClient) -> None:
    for job_id in ("0" * 32, "nope"):
        response = client.get(f"/jobs/{job_id}")
        assert response.status_code == 404 and response.json()["error"] == "job_not_found"
    assert client.get(f"/jobs/{'0' * 32}/video").status_code == 404


def test_track_renders_no_video_and_says_where_to_get_one(client: TestClient, clip: Path) -> None:
    post_clip(client, clip, variant="baseline", max_frames=2)
    jobs = client.app.state.jobs
    finished = [p.name for p in jobs.root.iterdir() if (p / "result.json").is_file() and not (p / "side_by_side.mp4").exists()]
    assert finished
    response = client.get(f"/jobs/{finished[0]}/video")
    assert response.status_code == 404 and "use POST /jobs" in response.json()["detail"]


def test_a_result_before_the_job_finishes_is_a_409(client: TestClient, clip: Path) -> None:
    jobs = client.app.state.jobs
    hold, gate, started = held_job()
    blocker = jobs.new_job()[0]
    jobs.submit(blocker, hold, 1)  # occupies the single worker
    try:
        assert started.wait(30)
        waiting = post_clip(client, clip, route="/jobs", max_frames=2).json()
        assert waiting["state"] == "queued" and waiting["queue_position"] == 1
        response = client.get(f"/jobs/{waiting['id']}/result")
        assert response.status_code == 409 and "poll GET /jobs/" in response.json()["detail"]
    finally:
        gate.set()
    assert jobs.wait(waiting["id"], timeout=60).state == "done"
    assert json.loads(client.get(f"/jobs/{waiting['id']}/result").text)["meta"]["frames_processed"] == 2


# ------------------------------------------------------------------------------ public-Space hygiene


@pytest.mark.parametrize("path", ["/health", "/models", "/docs", "/openapi.json", "/", "/jobs/" + "0" * 32,
                                  "/jobs/nope/result", "/no-such-page"])
def test_every_answer_carries_nosniff_and_a_request_id(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])
    if response.status_code >= 400 and "error" in response.json():  # our JSON errors (Gradio has its own 404)
        assert response.json()["request_id"] == response.headers["x-request-id"]


def test_a_plain_client_request_id_is_kept_and_an_odd_one_replaced(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "run-42.a_b"}).headers["x-request-id"] == "run-42.a_b"
    odd = client.get("/health", headers={"X-Request-ID": "x" * 65}).headers["x-request-id"]
    assert odd != "x" * 65 and re.fullmatch(r"[0-9a-f]{16}", odd)


def test_a_text_file_renamed_mp4_is_a_415_logged_as_one_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="app"):
        response = client.post("/track", files={"video": ("notes.mp4", b"meeting notes: track people\n" * 20)})
    assert response.status_code == 415 and response.json()["error"] == "unsupported_file"
    assert "notes.mp4 is a text file, not a video" in response.json()["detail"]
    lines = [r for r in caplog.records if response.json()["request_id"] in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None and "415 unsupported_file" in lines[0].getMessage()


def test_a_server_fault_is_logged_with_its_traceback_and_answered_without_one(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("disk on fire at /srv/secret/path")

    monkeypatch.setattr(client.app.state.service, "models_status", broken)
    raw = TestClient(client.app, raise_server_exceptions=False)  # no "with": the shared app's lifespan stays up
    with caplog.at_level("INFO", logger="app"):
        response = raw.get("/models")
    body = response.json()
    assert response.status_code == 500 and body["error"] == "internal_error"
    assert "Traceback" not in response.text and "/srv/secret" not in response.text and body["request_id"] in body["detail"]
    logged = [r for r in caplog.records if body["request_id"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log, under the same id


def test_cors_is_off_unless_configured(client: TestClient, baseline_ckpt: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    asked = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    preflight = client.options("/track", headers=asked)
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    assert preflight.json()["error"] == "cross_origin_refused"
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": asked["Origin"]}).headers
    public = {"Host": "demo.example.org"}  # Gradio grants any origin on a host that is not localhost: not here
    for path in ("/gradio_api/upload", "/gradio_api/queue/join", "/"):
        answer = client.options(path, headers={**asked, **public})
        assert "access-control-allow-origin" not in answer.headers, path
        assert "access-control-allow-origin" not in client.get(path, headers={"Origin": asked["Origin"], **public}).headers
    config = _config(tmp_path, baseline_ckpt, tmp_path / "none.pt")
    config.cors_origins = ("https://elsewhere.example",)
    with TestClient(create_app(config)) as allowed:
        answer = allowed.get("/health", headers={"Origin": asked["Origin"]})
        assert answer.headers["access-control-allow-origin"] == asked["Origin"]
        assert allowed.options("/track", headers=asked).headers["access-control-allow-origin"] == asked["Origin"]
    monkeypatch.setenv("VSDMOT_CORS_ORIGINS", "https://a.example, https://b.example")
    assert AppConfig.from_env().cors_origins == ("https://a.example", "https://b.example")
    monkeypatch.setenv("VSDMOT_CORS_ORIGINS", "a.example")
    with pytest.raises(ValueError, match="not an origin"):
        AppConfig.from_env()


def test_downloads_are_attachments(client: TestClient, clip: Path) -> None:
    answer = post_clip(client, clip, route="/jobs", variant="baseline", max_frames=3)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    for _ in range(600):
        if client.get(f"/jobs/{job['id']}").json()["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    for path in (f"/jobs/{job['id']}/video", f"/jobs/{job['id']}/mot/baseline"):
        disposition = client.get(path).headers["content-disposition"]
        assert disposition.startswith("attachment;") and "filename=" in disposition


def test_one_client_cannot_fill_the_queue_and_the_page_upload_obeys_the_same_admission(
    client: TestClient, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    jobs = client.app.state.jobs
    for job_id in list(jobs._jobs):  # earlier tests' jobs finish first: this test counts the client's own
        jobs.wait(job_id, timeout=120)
    monkeypatch.setattr(jobs, "per_owner", 2)
    hold, gate, started = held_job()
    blocker = jobs.new_job()[0]
    jobs.submit(blocker, hold, 1, owner="testclient")  # the TestClient's own address: one of its 2 slots
    try:
        assert started.wait(30)
        queued = post_clip(client, clip, route="/jobs", max_frames=2)
        assert queued.status_code == 202  # its second slot
        refused = post_clip(client, clip, route="/jobs", max_frames=2)
        assert refused.status_code == 429 and refused.json()["error"] == "client_busy"
        assert int(refused.headers["retry-after"]) >= 1 and "2 per client" in refused.json()["detail"]
        other = post_clip(client, clip, route="/jobs", max_frames=2)
        assert other.status_code == 429  # the same client again, whatever route
    finally:
        gate.set()
    assert jobs.wait(queued.json()["id"], timeout=60).state == "done"
    monkeypatch.setattr(jobs, "is_full", lambda: True)  # the page's upload route meets the same queue bound
    page = client.post("/gradio_api/upload", files={"files": ("clip.mp4", b"\x00" * 100)})
    assert page.status_code == 429 and page.json()["error"] == "queue_full" and "retry-after" in page.headers


# ------------------------------------------------------------------------------ sweep and labelled clips


def test_a_sweep_tracks_every_level_and_reports_agreement_with_the_clean_run(client: TestClient, clip: Path) -> None:
    created = post_clip(client, clip, route="/jobs", max_frames=6, degrade="medium", seed=3, sweep=True)
    assert created.status_code == 202 and created.json()["progress"]["frames_total"] == 6 * 5  # one pass per level
    job_id = created.json()["id"]
    while (job := client.get(f"/jobs/{job_id}").json())["state"] not in ("done", "failed"):
        time.sleep(0.2)
    assert job["state"] == "done", job["error"]
    result = client.get(f"/jobs/{job_id}/result").json()
    assert result["meta"]["request"] == {"variant": "both", "student": None, "dswr": None, "degrade": "medium",
                                         "seed": 3, "max_frames": 6, "sweep": True}
    levels = result["sweep"]
    assert [level["degrade"] for level in levels] == ["none", "mild", "medium", "severe", "realesrgan"]
    assert all(level["seed"] == 3 and set(level["trackers"]) == {"baseline", "vsd-mot"} for level in levels)
    for name in ("baseline", "vsd-mot"):
        assert levels[0]["trackers"][name]["agreement"] is None  # the clean run is the reference
        for level in levels[1:]:
            agreed = level["trackers"][name]["agreement"]
            assert agreed is not None and 0 <= agreed["HOTA"] <= 100 and level["trackers"][name]["score"] is None
    # The requested level is the main run itself, not a second pass with other numbers.
    medium = levels[2]["trackers"]["baseline"]
    assert medium["rows"] == result["summary"]["baseline"]["rows"] and medium["ids"] == result["summary"]["baseline"]["ids"]
    folder = client.app.state.jobs.folder(job_id)
    assert (folder / "sweep" / "medium-baseline.txt").read_text() == (folder / "baseline.txt").read_text()
    # Harder levels look worse to the quality score, and w follows Q.
    assert levels[0]["quality_mean"] > levels[3]["quality_mean"]
    assert all(level["semantic_weight_mean"] is not None for level in levels)


def test_a_labelled_zip_is_tracked_and_scored_against_its_ground_truth(client: TestClient, pets_dir: Path,
                                                                       tmp_path: Path) -> None:
    from model.evaluation.metrics import evaluate_sequence

    archive = labelled_zip(pets_dir, tmp_path / "pets.zip", 8)
    response = post_clip(client, archive)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["labelled"] is True and body["meta"]["source"]["num_frames"] == 8
    assert body["meta"]["fps"] == 7.0  # seqinfo.ini's frameRate
    # The same numbers `vsdmot evaluate` gives for the returned tracks on the same frames.
    truth = write_sequence_subset(pets_dir, tmp_path / "truth", 1, 8)
    for name in ("baseline", "vsd-mot"):
        expected = evaluate_sequence(truth, rows_to_tracks(body["tracks"][name]))
        score = body["scores"][name]
        assert score["HOTA"] == pytest.approx(expected.HOTA, abs=0.01) and score["IDF1"] == pytest.approx(expected.IDF1, abs=0.01)
        assert score["gt_ids"] == expected.gt_ids and score["HOTA"] > 20  # people really were tracked


def test_a_labelled_zip_that_does_not_fit_its_frames_is_refused_before_tracking(client: TestClient, pets_dir: Path,
                                                                                tmp_path: Path) -> None:
    shifted = post_clip(client, labelled_zip(pets_dir, tmp_path / "shifted.zip", 4, gt_shift=30))
    assert shifted.status_code == 422 and shifted.json()["error"] == "bad_labelled_clip"
    assert "frames 31..34" in shifted.json()["detail"] and "img1/ holds frames 1..4" in shifted.json()["detail"]
    assert "pytest" not in shifted.text  # no server path in the answer
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"\x00\x01 not an archive" * 10)
    answer = post_clip(client, fake)
    assert answer.status_code == 415 and "not a zip archive" in answer.json()["detail"]
    escape = post_clip(client, labelled_zip(pets_dir, tmp_path / "escape.zip", 2, extra={"../../x.txt": b"x"}))
    assert escape.status_code == 422 and "leaves the archive" in escape.json()["detail"]
    # Nothing was queued or left on disk for the refused uploads.
    leftovers = [p for p in client.app.state.jobs.root.iterdir() if not (p / "status.json").exists()]
    assert leftovers == []
