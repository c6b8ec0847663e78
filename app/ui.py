"""The Gradio page: upload or pick a clip, choose trackers and degradation, watch both side by side.

Why the UI goes through the job pool instead of calling the tracker: the same bounded workers
serve the API and the page, and the job id is kept in the browser's local storage, so reloading
the page re-attaches to a running or finished job instead of losing it. The progress bar is fed
from the job's frame counter, which the tracking loop itself advances.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import gradio as gr
import plotly.graph_objects as go

from app.config import UPLOAD_SUFFIXES, AppConfig
from app.errors import AppError, as_app_error
from app.jobs import JobManager
from app.panels import PANEL_TITLES
from app.schemas import FrameRecord, TrackResult
from app.service import TrackingService, TrackOptions
from app.submit import client_key, submit_clip
from app.worker import TrackingWorkers
from model.core.choices import BOTH, DEGRADE_CHOICES, NO_DEGRADATION, VARIANTS

log = logging.getLogger("app")
POLL_S = 0.3
VARIANT_LABELS = {"Both side by side": BOTH, "Baseline only": "baseline", "VSD-MOT only": "vsd-mot"}
SERIES = (("quality", "Quality Q", "#1f77b4"), ("clarity", "clarity", "#2ca02c"),
          ("noise", "noise", "#d62728"), ("contrast", "contrast", "#9467bd"))


def example_clips(folder: Path | None, limit: int = 8) -> list[str]:
    """Clips the app can really read, shortest files first (they track fastest)."""
    if folder is None or not folder.is_dir():
        return []
    clips = [p for p in folder.iterdir() if p.suffix.lower() in UPLOAD_SUFFIXES and p.is_file()]
    return [str(p) for p in sorted(clips, key=lambda p: p.stat().st_size)[:limit]]


def models_markdown(service: TrackingService) -> str:
    status = service.models_status()
    lines = []
    if status.detector is None:
        lines.append(f"- **Detector: not available** — {status.detector_error}")
    for name in VARIANTS:
        v, title = status.variants[name], PANEL_TITLES[name]
        if v.loaded:
            teacher = f", distilled from {v.teacher}" if v.teacher else ""
            lines.append(f"- **{title}**: `{v.checkpoint}` (sha256 `{(v.sha256 or '')[:12]}…`{teacher})")
        else:
            lines.append(f"- **{title}: not available** — {v.reason}")
    return "\n".join(lines)


def quality_figure(frames: list[FrameRecord]) -> go.Figure:
    """Per-frame quality Q and its three parts, against DSWR's semantic weight w."""
    x = [f.frame for f in frames]
    fig = go.Figure()
    series = {"quality": [f.quality for f in frames], "clarity": [f.clarity for f in frames],
              "noise": [f.noise for f in frames], "contrast": [f.contrast for f in frames]}
    for key, label, colour in SERIES:
        width = 3 if key == "quality" else 1.5
        fig.add_trace(go.Scatter(x=x, y=series[key], name=label, line={"color": colour, "width": width}))
    weights = [f.semantic_weight for f in frames]
    if any(w is not None for w in weights):
        fig.add_trace(go.Scatter(x=x, y=weights, name="semantic weight w", line={"color": "#ff7f0e", "width": 3, "dash": "dash"}))
        title = "Frame quality Q (and its parts) vs DSWR semantic weight w"
    else:
        title = "Frame quality Q and its parts (w: VSD-MOT with DSWR did not run)"
    fig.update_layout(title=title, xaxis_title="frame", yaxis={"title": "score", "range": [0, 1.05]},
                      height=360, margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.25})
    return fig


def summary_markdown(result: TrackResult) -> str:
    meta = result.meta
    rows = ["| tracker | boxes | identities | fps (detector + tracker) |", "|---|---|---|---|"]
    for name, s in result.summary.items():
        rows.append(f"| {name} | {s.rows} | {s.ids} | {s.fps:.1f} |")
    for name in result.unavailable:
        rows.append(f"| {name} | — | — | not available |")
    rows.append("")
    rows.append(
        f"{meta.frames_processed} of {meta.source.num_frames} frames of `{meta.source.filename}` "
        f"({meta.source.width}×{meta.source.height}, {meta.fps:.0f} fps), degradation "
        f"**{meta.degrade}** (seed {meta.seed}), {meta.elapsed_s:.1f} s on {meta.device}."
    )
    return "\n".join(rows)


def _eta_text(eta: float | None) -> str:
    return "" if eta is None else f", about {eta:.0f} s left"


def build_ui(service: TrackingService, jobs: JobManager, workers: TrackingWorkers, config: AppConfig) -> gr.Blocks:
    examples = example_clips(config.examples_dir)
    # The checkboxes start as the served VSD-MOT checkpoint was trained; a switch its hook does not have
    # (e.g. the student of a direct-integration checkpoint) is shown off, greyed out, and never sent.
    trained = service.variants["vsd-mot"].trained_switches or {}

    def start(path: str | None, variant_label: str, student: bool, dswr: bool, degrade: str, seed: float,
              max_frames: float, request: gr.Request) -> tuple[str, str]:
        if not path:
            raise gr.Error("Upload a clip or pick an example first.", print_exception=False)
        options = TrackOptions(variant=VARIANT_LABELS[variant_label], student=student if "student" in trained else None,
                               dswr=dswr if "dswr" in trained else None, degrade=degrade,
                               seed=int(seed or 0), max_frames=int(max_frames) if max_frames else None)
        owner = client_key(request.client.host if request.client else None, dict(request.headers),
                           config.trust_forwarded_for)
        try:
            with open(path, "rb") as data:
                job = submit_clip(service, jobs, workers, data, Path(path).name, options, owner)
        except Exception as exc:
            mapped = as_app_error(exc)
            if mapped is None:  # a server fault: the traceback to the log, a reference to the page
                reference = uuid.uuid4().hex[:16]
                log.exception("unhandled error on the page [reference %s]", reference)
                raise gr.Error(f"internal error; the server log has it under reference {reference}",
                               print_exception=False) from None
            # the page's mistake: one log line, no traceback (as error_response does for REST)
            log.info("%d %s: %s [page, client %s]", mapped.status, mapped.code, mapped.detail, owner)
            raise gr.Error(mapped.detail, print_exception=False) from None
        return job.id, job.id

    def follow(job_id: str | None, progress: gr.Progress = gr.Progress()) -> tuple:
        if not job_id:
            return (gr.skip(),) * 7
        try:
            job = jobs.get(job_id)
        except AppError:
            gr.Warning("The previous job has expired and its results were deleted; run the clip again.")
            return (gr.skip(),) * 7
        while not job.finished:
            position = jobs.queue_position(job_id)
            if position is not None:
                progress(0, desc=f"Waiting in the queue: position {position}")
            else:
                progress((job.frames_done, job.frames_total), desc=f"Tracking{_eta_text(jobs.eta(job))}", unit="frames")
            time.sleep(POLL_S)
            job = jobs.get(job_id)
        if job.state == "failed":  # logged where it failed (the job pool)
            raise gr.Error(job.error or "tracking failed", print_exception=False)
        return outputs_for(job_id)

    def outputs_for(job_id: str) -> tuple:
        result = TrackResult.model_validate_json(jobs.result_json(job_id))
        folder = jobs.folder(job_id)
        videos = {name: folder / f"{name}.mp4" for name in VARIANTS}
        shown = {name: str(p) if p.is_file() and name in result.tracks else None for name, p in videos.items()}
        notes = {
            name: (f"**{title}: not available** — {result.unavailable[name]}" if name in result.unavailable
                   else (f"**{title}**" if name in result.tracks else f"*{title} not requested*"))
            for name, title in PANEL_TITLES.items()
        }
        names = ["side_by_side.mp4", "result.json"] + [f"{n}.{ext}" for n in result.tracks for ext in ("txt", "json")]
        downloads = [str(folder / n) for n in names if (folder / n).is_file()]
        return (shown["baseline"], shown["vsd-mot"], notes["baseline"], notes["vsd-mot"],
                quality_figure(result.frames), summary_markdown(result), downloads)

    with gr.Blocks(title="VSD-MOT demo", delete_cache=(3600, config.job_ttl_s)) as demo:
        gr.Markdown(
            "# VSD-MOT: multi-object tracking in low-quality video\n"
            "Track people with the baseline query tracker and with VSD-MOT (student + DSWR) on the same "
            "frames. Degrade a clean clip on purpose to watch both under controlled blur, noise and compression."
        )
        gr.Markdown(f"**Limits:** {config.limits_text()}", elem_id="limits")
        gr.Markdown(models_markdown(service), elem_id="model-status")
        saved_job = gr.BrowserState(None, storage_key="vsdmot-last-job")
        with gr.Row():
            with gr.Column(scale=1):
                clip = gr.File(label="Clip", file_types=list(UPLOAD_SUFFIXES), elem_id="clip")
                if examples:
                    gr.Examples(examples=[[p] for p in examples], inputs=[clip], label="Example clips")
                variant = gr.Radio(list(VARIANT_LABELS), value="Both side by side", label="Trackers", elem_id="variant")
                with gr.Row():
                    student = gr.Checkbox(trained.get("student", False), label="Student (VSD-MOT only)",
                                          interactive="student" in trained, elem_id="student")
                    dswr = gr.Checkbox(trained.get("dswr", False), label="DSWR (VSD-MOT only)",
                                       interactive="dswr" in trained, elem_id="dswr")
                with gr.Row():
                    degrade = gr.Dropdown(list(DEGRADE_CHOICES), value=NO_DEGRADATION, label="Degradation", elem_id="degrade")
                    seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="seed")
                max_frames = gr.Slider(1, config.max_frames, value=min(150, config.max_frames), step=1,
                                       label="Max frames", elem_id="max-frames")
                run = gr.Button("Track", variant="primary", elem_id="run")
                job_box = gr.Textbox(label="Job id", interactive=False, elem_id="job-id")
            with gr.Column(scale=2):
                with gr.Row():
                    with gr.Column():
                        baseline_note = gr.Markdown("**Baseline**", elem_id="baseline-note")
                        baseline_video = gr.Video(label="Baseline", interactive=False, elem_id="video-baseline")
                    with gr.Column():
                        vsdmot_note = gr.Markdown("**VSD-MOT**", elem_id="vsdmot-note")
                        vsdmot_video = gr.Video(label="VSD-MOT", interactive=False, elem_id="video-vsdmot")
                plot = gr.Plot(label="Quality vs semantic weight", elem_id="quality-plot")
                summary = gr.Markdown(elem_id="summary")
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")

        outputs = [baseline_video, vsdmot_video, baseline_note, vsdmot_note, plot, summary, downloads]
        run.click(start, [clip, variant, student, dswr, degrade, seed, max_frames], [job_box, saved_job],
                  concurrency_limit=4).success(follow, [job_box], outputs, concurrency_limit=16)
        demo.load(lambda saved: saved or "", [saved_job], [job_box]).then(follow, [job_box], outputs,
                                                                           concurrency_limit=16)
    demo.queue(max_size=32)
    return demo
