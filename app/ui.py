"""The Gradio page: upload or pick a clip (or a labelled zip), choose trackers and degradation, watch
both in one synchronised side-by-side video, sweep every degradation level, compare runs.

Why the UI goes through the job pool instead of calling the tracker: the same bounded workers
serve the API and the page, and the job id is kept in the browser's local storage, so reloading
the page re-attaches to a running or finished job instead of losing it -- and sets the form back to
the options the job ran with (``meta.request``), so form and results never disagree. The progress
bar is fed from the job's frame counter, which the tracking loop itself advances, and is drawn once,
on the main video. The run history lives in the browser too (one row per tracker per run).
Why the composite video is the main result: two separate players drift apart as soon as one is
paused or sought; the side-by-side H.264 the service renders is one stream, so both panels show the
same frame by construction.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import gradio as gr

from app.config import ACCEPTED_SUFFIXES, UPLOAD_SUFFIXES, AppConfig
from app.errors import AppError, as_app_error
from app.jobs import JobManager
from app.panels import PANEL_TITLES
from app.plots import frame_figure, sweep_figure
from app.schemas import TrackResult
from app.service import TrackingService, TrackOptions
from app.submit import client_key, submit_clip
from app.worker import TrackingWorkers
from model.core.choices import BOTH, DEGRADE_CHOICES, NO_DEGRADATION, SWEEP_LEVELS, VARIANTS

log = logging.getLogger("app")
POLL_S = 0.3
VARIANT_LABELS = {"Both side by side": BOTH, "Baseline only": "baseline", "VSD-MOT only": "vsd-mot"}
LABEL_OF_VARIANT = {value: label for label, value in VARIANT_LABELS.items()}
# Shown first: several people from the first frame, so degradation visibly changes what each tracker keeps.
FEATURED_EXAMPLES = ("intel-preview-classroom.gif", "mmaction2-two-people-indoor.mp4")
HISTORY_COLUMNS = ["job", "clip", "degradation", "seed", "frames", "mean Q", "mean w", "tracker", "boxes",
                   "identities", "HOTA (labelled)", "fps"]
HISTORY_LIMIT = 200  # rows kept in the browser


def example_clips(folder: Path | None, limit: int = 8) -> list[str]:
    """Clips the app can really read: the featured ones first, then the shortest files (they track fastest)."""
    if folder is None or not folder.is_dir():
        return []
    clips = [p for p in folder.iterdir() if p.suffix.lower() in UPLOAD_SUFFIXES and p.is_file()]
    rank = {name: i for i, name in enumerate(FEATURED_EXAMPLES)}
    ordered = sorted(clips, key=lambda p: (rank.get(p.name, len(rank)), p.stat().st_size))
    return [str(p) for p in ordered[:limit]]


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
        f"({meta.source.width}×{meta.source.height}, {meta.fps:.4g} fps), degradation "
        f"**{meta.degrade}** (seed {meta.seed}), {meta.elapsed_s:.1f} s; trackers on {meta.device}, "
        f"detector on {meta.detector.device.removesuffix('ExecutionProvider')}."
    )
    if result.scores:
        rows += ["", f"**Accuracy against the uploaded ground truth** (frames 1–{meta.frames_processed}, TrackEval):", "",
                 "| tracker | HOTA | DetA | AssA | MOTA | IDF1 | ID switches | identities (truth) |",
                 "|---|---|---|---|---|---|---|---|"]
        for name, sc in result.scores.items():
            rows.append(f"| {name} | {sc.HOTA:.1f} | {sc.DetA:.1f} | {sc.AssA:.1f} | {sc.MOTA:.1f} | {sc.IDF1:.1f} | "
                        f"{sc.IDSW} | {sc.pred_ids} ({sc.gt_ids}) |")
    if result.sweep:
        what = "HOTA vs ground truth" if meta.labelled else "agreement with the clean run (HOTA; not accuracy)"
        names = list(result.sweep[0].trackers)
        rows += ["", f"**Robustness sweep** — {what}; visible tracks per frame; identities:", "",
                 "| level | mean Q | mean w | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
        for level in result.sweep:
            cells = []
            for name in names:
                t = level.trackers[name]
                metric = t.score if meta.labelled else t.agreement
                shown = "—" if metric is None else f"{metric.HOTA:.1f}"
                cells.append(f"{shown}; {t.visible_mean:.1f}; {t.ids}")
            w = "—" if level.semantic_weight_mean is None else f"{level.semantic_weight_mean:.2f}"
            rows.append(f"| {level.degrade} | {level.quality_mean:.2f} | {w} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def history_rows(job_id: str, result: TrackResult) -> list[list]:
    """One row per tracker of a finished run, for the session's run-history table."""
    meta = result.meta
    q = sum(f.quality for f in result.frames) / max(1, len(result.frames))
    weights = [f.semantic_weight for f in result.frames if f.semantic_weight is not None]
    w = round(sum(weights) / len(weights), 3) if weights else None
    rows = []
    for name, s in result.summary.items():
        hota = round(result.scores[name].HOTA, 1) if result.scores else None
        rows.append([job_id[:8], meta.source.filename, meta.degrade + (" + sweep" if meta.request.sweep else ""),
                     meta.seed, meta.frames_processed, round(q, 3), w, name, s.rows, s.ids, hota, s.fps])
    return rows


def merge_history(history: list[list] | None, rows: list[list]) -> list[list]:
    """The history with ``rows`` added (a run already listed, e.g. after a reload, is not added twice)."""
    history = [list(r) for r in (history or [])]
    seen = {(r[0], r[7]) for r in history}
    history += [r for r in rows if (r[0], r[7]) not in seen]
    return history[-HISTORY_LIMIT:]


def _eta_text(eta: float | None) -> str:
    return "" if eta is None else f", about {eta:.0f} s left"


def build_ui(service: TrackingService, jobs: JobManager, workers: TrackingWorkers, config: AppConfig) -> gr.Blocks:
    examples = example_clips(config.examples_dir)
    # The checkboxes start as the served VSD-MOT checkpoint was trained; a switch its hook does not have
    # (e.g. the student of a direct-integration checkpoint) is shown off, greyed out, and never sent.
    trained = service.variants["vsd-mot"].trained_switches or {}

    def switch_states(variant_label: str) -> tuple:
        """Student/DSWR act on VSD-MOT only: greyed out for 'Baseline only' and for switches the hook lacks."""
        runs_vsd = VARIANT_LABELS[variant_label] != "baseline"
        return tuple(gr.update(interactive=runs_vsd and name in trained) for name in ("student", "dswr"))

    def start(path: str | None, variant_label: str, student: bool, dswr: bool, degrade: str, seed: float,
              max_frames: float, sweep: bool, request: gr.Request) -> tuple[str, str]:
        if not path:
            raise gr.Error("Upload a clip (or a labelled zip) or pick an example first.", print_exception=False)
        runs_vsd = VARIANT_LABELS[variant_label] != "baseline"
        options = TrackOptions(variant=VARIANT_LABELS[variant_label],
                               student=student if runs_vsd and "student" in trained else None,
                               dswr=dswr if runs_vsd and "dswr" in trained else None, degrade=degrade,
                               seed=int(seed or 0), max_frames=int(max_frames) if max_frames else None,
                               sweep=bool(sweep))
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

    def wait_for(job_id: str, progress: gr.Progress):
        """The finished job, following its queue position and frame counter; None if it expired."""
        try:
            job = jobs.get(job_id)
        except AppError:
            gr.Warning("The previous job has expired and its results were deleted; run the clip again.")
            return None
        while not job.finished:
            position = jobs.queue_position(job_id)
            if position is not None:
                progress(0, desc=f"Waiting in the queue: position {position}")
            else:
                progress((job.frames_done, job.frames_total), desc=f"Tracking{_eta_text(jobs.eta(job))}",
                         unit="frames")
            time.sleep(POLL_S)
            job = jobs.get(job_id)
        if job.state == "failed":  # logged where it failed (the job pool)
            raise gr.Error(job.error or "tracking failed", print_exception=False)
        return job

    def follow(job_id: str | None, history: list | None, progress: gr.Progress = gr.Progress()) -> tuple:
        if not job_id or wait_for(job_id, progress) is None:
            return (gr.skip(),) * len(result_outputs)
        return results_for(job_id, history)

    def restore(job_id: str | None, history: list | None, progress: gr.Progress = gr.Progress()) -> tuple:
        """After a reload: the job's results, and the form set back to the options that produced them."""
        if not job_id or wait_for(job_id, progress) is None:
            return (gr.skip(),) * (len(result_outputs) + len(form_fields))
        result = TrackResult.model_validate_json(jobs.result_json(job_id))
        asked = result.meta.request
        form = (LABEL_OF_VARIANT[asked.variant],
                gr.update(value=asked.student if asked.student is not None else trained.get("student", False),
                          interactive=asked.variant != "baseline" and "student" in trained),
                gr.update(value=asked.dswr if asked.dswr is not None else trained.get("dswr", False),
                          interactive=asked.variant != "baseline" and "dswr" in trained),
                asked.degrade, asked.seed, asked.max_frames or result.meta.frames_processed, asked.sweep)
        return results_for(job_id, history, result) + form

    def results_for(job_id: str, history: list | None, result: TrackResult | None = None) -> tuple:
        result = result or TrackResult.model_validate_json(jobs.result_json(job_id))
        folder = jobs.folder(job_id)
        videos = {name: folder / f"{name}.mp4" for name in VARIANTS}
        shown = {name: str(p) if p.is_file() and name in result.tracks else None for name, p in videos.items()}
        combined = folder / "side_by_side.mp4"
        notes = {
            name: (f"**{title}: not available** — {result.unavailable[name]}" if name in result.unavailable
                   else (f"**{title}**" if name in result.tracks else f"*{title} not requested*"))
            for name, title in PANEL_TITLES.items()
        }
        names = ["side_by_side.mp4", "result.json"] + [f"{n}.{ext}" for n in result.tracks for ext in ("txt", "json")]
        downloads = [str(folder / n) for n in names if (folder / n).is_file()]
        sweep_plot = (gr.update(value=sweep_figure(result.sweep, result.meta.labelled), visible=True) if result.sweep
                      else gr.update(value=None, visible=False))
        merged = merge_history(history, history_rows(job_id, result))
        return (str(combined) if combined.is_file() else None, shown["baseline"], shown["vsd-mot"], notes["baseline"],
                notes["vsd-mot"], frame_figure(result), sweep_plot, summary_markdown(result), downloads, merged,
                gr.update(value=merged, visible=bool(merged)))

    with gr.Blocks(title="VSD-MOT demo", delete_cache=(3600, config.job_ttl_s)) as demo:
        gr.Markdown(
            "# VSD-MOT: multi-object tracking in low-quality video\n"
            "Track people with the baseline query tracker and with VSD-MOT (student + DSWR) on the same "
            "frames. Degrade a clean clip on purpose to watch both under controlled blur, noise and compression, "
            "sweep every degradation level at once, or upload a labelled MOTChallenge sequence (a zip of "
            "`img1/`, `gt/gt.txt`, `seqinfo.ini`) to score both trackers against its ground truth."
        )
        gr.Markdown(f"**Limits:** {config.limits_text()}", elem_id="limits")
        gr.Markdown(models_markdown(service), elem_id="model-status")
        saved_job = gr.BrowserState(None, storage_key="vsdmot-last-job")
        saved_history = gr.BrowserState([], storage_key="vsdmot-run-history")
        with gr.Row():
            with gr.Column(scale=1):
                clip = gr.File(label="Clip, or a labelled sequence (.zip)", file_types=list(ACCEPTED_SUFFIXES),
                               elem_id="clip")
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
                sweep = gr.Checkbox(False, label=f"Robustness sweep: also track at every level "
                                                 f"({', '.join(SWEEP_LEVELS)}; {len(SWEEP_LEVELS)} passes)",
                                    elem_id="sweep")
                run = gr.Button("Track", variant="primary", elem_id="run")
                job_box = gr.Textbox(label="Job id", interactive=False, elem_id="job-id")
            with gr.Column(scale=2):
                side_by_side = gr.Video(label="Baseline | VSD-MOT (one synchronised video)", interactive=False,
                                        elem_id="video-side-by-side")
                with gr.Accordion("Separate videos", open=False, elem_id="separate-videos"):
                    with gr.Row():
                        with gr.Column():
                            baseline_note = gr.Markdown("**Baseline**", elem_id="baseline-note")
                            baseline_video = gr.Video(label="Baseline", interactive=False, elem_id="video-baseline")
                        with gr.Column():
                            vsdmot_note = gr.Markdown("**VSD-MOT**", elem_id="vsdmot-note")
                            vsdmot_video = gr.Video(label="VSD-MOT", interactive=False, elem_id="video-vsdmot")
                plot = gr.Plot(label="Per frame: quality, semantic weight, visible tracks", elem_id="quality-plot")
                sweep_plot = gr.Plot(label="Robustness sweep", visible=False, elem_id="sweep-plot")
                summary = gr.Markdown(elem_id="summary")
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
                history_table = gr.Dataframe(headers=HISTORY_COLUMNS, label="Runs in this browser (newest last)",
                                             interactive=False, visible=False, wrap=True, elem_id="run-history")

        result_outputs = [side_by_side, baseline_video, vsdmot_video, baseline_note, vsdmot_note, plot, sweep_plot,
                          summary, downloads, saved_history, history_table]
        form_fields = [variant, student, dswr, degrade, seed, max_frames, sweep]
        variant.change(switch_states, [variant], [student, dswr])
        run.click(start, [clip, variant, student, dswr, degrade, seed, max_frames, sweep], [job_box, saved_job],
                  concurrency_limit=4).success(follow, [job_box, saved_history], result_outputs, concurrency_limit=16,
                                               show_progress_on=[side_by_side])
        demo.load(lambda saved: saved or "", [saved_job], [job_box]).then(
            restore, [job_box, saved_history], result_outputs + form_fields, concurrency_limit=16,
            show_progress_on=[side_by_side])
    demo.queue(max_size=32)
    return demo
