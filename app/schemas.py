"""The JSON shapes of the API, as pydantic models so ``/docs`` documents every field.

These are the service's own return types, not a second description of them: the tracking service
builds a :class:`TrackResult`, the job pool stores it as ``result.json``, the API returns it and the
UI reads its attributes. One definition, so the documented shape and the real one cannot drift.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

TRACK_COLUMNS = ["frame", "id", "x", "y", "w", "h", "score"]


class FrameRecord(BaseModel):
    """What one frame looked like to the trackers (after any degradation)."""

    frame: int = Field(description="1-based frame number in the upload")
    quality: float = Field(description="frame quality Q in [0, 1], lower = worse (DSWR's input)")
    clarity: float = Field(description="clarity part of Q in [0, 1]")
    noise: float = Field(description="noise part of Q in [0, 1]; higher = noisier")
    contrast: float = Field(description="contrast part of Q in [0, 1]")
    semantic_weight: float | None = Field(
        description="DSWR's semantic weight w for this frame; null where VSD-MOT with DSWR did not run"
    )
    track_count: dict[str, int] = Field(description="visible tracks in this frame, per variant that ran")


class VariantSummary(BaseModel):
    """Totals for one tracker over the processed frames."""

    rows: int = Field(description="number of box rows (one per visible track per frame)")
    ids: int = Field(description="number of distinct identities")
    fps: float = Field(description="frames per second of detector + this tracker (shared decode excluded)")
    tracker_ms_mean: float = Field(description="mean per-frame time of this tracker, detector excluded")


class VariantMeta(BaseModel):
    """Which model produced a variant's tracks, or why it could not run."""

    available: bool
    reason: str | None = Field(None, description="why the variant is unavailable (null when available)")
    checkpoint: str | None = Field(None, description="checkpoint file name")
    sha256: str | None = Field(None, description="sha256 of the checkpoint file")
    teacher: str | None = Field(None, description="teacher used in training (null: none, e.g. the baseline)")
    trained_on: list[str] | None = Field(None, description="training spans as 'SEQUENCE:first-last'")
    student: bool | Literal["not applicable"] | None = Field(None, description="student on/off (VSD-MOT only)")
    dswr: bool | Literal["not applicable"] | None = Field(None, description="DSWR on/off (VSD-MOT only)")


class TrackerScore(BaseModel):
    """TrackEval's metrics of one tracker's output against a reference (percentages 0..100)."""

    HOTA: float
    DetA: float
    AssA: float
    MOTA: float
    IDF1: float
    IDSW: int = Field(description="identity switches (CLEAR)")
    gt_ids: int = Field(description="identities in the reference")
    pred_ids: int = Field(description="identities in the tracker's output")


class SweepTracker(BaseModel):
    """One tracker at one level of a robustness sweep."""

    visible_mean: float = Field(description="mean visible tracks per frame")
    ids: int = Field(description="distinct identities")
    rows: int = Field(description="box rows")
    agreement: TrackerScore | None = Field(
        description="this level's tracks scored against the SAME tracker's tracks on the clean clip (agreement, not "
                    "accuracy: the clean run is the reference whether it was right or not); null at the clean level "
                    "or when the clean run had no box")
    score: TrackerScore | None = Field(description="accuracy against the uploaded ground truth (labelled zips only)")


class SweepLevel(BaseModel):
    """One degradation level of a robustness sweep (the same seed at every level)."""

    degrade: str = Field(description="'none' (the clean clip) or a degradation preset")
    seed: int
    quality_mean: float = Field(description="mean frame quality Q over the frames")
    semantic_weight_mean: float | None = Field(description="mean DSWR weight w (null where VSD-MOT with DSWR did not run)")
    trackers: dict[str, SweepTracker]


class RequestEcho(BaseModel):
    """The options the job ran with, as sent (so a page can show the form that produced a result)."""

    variant: str
    student: bool | None
    dswr: bool | None
    degrade: str
    seed: int
    max_frames: int | None
    sweep: bool


class DetectorMeta(BaseModel):
    name: str
    sha256: str | None
    device: str = Field(description="the onnxruntime provider it runs on (CPUExecutionProvider, CUDAExecutionProvider)")


class DeviceStatus(BaseModel):
    """Where this server computes (the ``VSDMOT_DEVICE`` setting, resolved at start-up)."""

    requested: str = Field(description="the setting: auto (CUDA when there is one), cpu or cuda")
    tracker: str = Field(description="the torch device the trackers run on, e.g. cpu or cuda:0")
    detector: str | None = Field(description="the onnxruntime provider of the detector; null without a detector")


class SourceMeta(BaseModel):
    filename: str
    width: int
    height: int
    num_frames: int = Field(description="frames in the upload")


class TrackMeta(BaseModel):
    """How the answer was produced."""

    detector: DetectorMeta
    models: dict[str, VariantMeta] = Field(description="per variant requested: model identity or why missing")
    device: str = Field(description="the torch device the trackers ran on (the detector's is in detector.device)")
    torch_threads: int
    fps: float = Field(description="frame rate of the upload")
    frames_processed: int
    elapsed_s: float = Field(description="wall time of decode + degrade + track + render")
    degrade: str
    seed: int
    source: SourceMeta
    request: RequestEcho
    labelled: bool = Field(description="the upload was a labelled MOTChallenge sequence (zip): 'scores' holds accuracy")


class TrackResult(BaseModel):
    """``POST /track`` (``output=json``) and ``GET /jobs/{id}/result``."""

    columns: list[str] = Field(TRACK_COLUMNS, description="meaning of each track row")
    tracks: dict[str, list[list[int | float]]] = Field(
        description="per variant that ran: rows [frame, id, x, y, w, h, score]; ids restart at 1 per request"
    )
    unavailable: dict[str, str] = Field(description="variants requested but not run, with the reason")
    frames: list[FrameRecord]
    summary: dict[str, VariantSummary]
    scores: dict[str, TrackerScore] | None = Field(
        None, description="per variant that ran: accuracy on the processed frames against the upload's ground truth "
                          "(labelled zips only)")
    sweep: list[SweepLevel] | None = Field(None, description="the robustness sweep (sweep=true): clean, then each preset")
    meta: TrackMeta


class JobProgress(BaseModel):
    frames_done: int
    frames_total: int
    eta_s: float | None = Field(description="estimated seconds left; null until the first frames are done")


class JobStatus(BaseModel):
    """``POST /jobs`` and ``GET /jobs/{id}``."""

    id: str
    state: Literal["queued", "running", "done", "failed"]
    queue_position: int | None = Field(description="1 = next to start; null once running or finished")
    progress: JobProgress
    error: str | None = Field(description="what went wrong (state 'failed')")
    created_at: float
    finished_at: float | None
    expires_at: float | None = Field(description="when the results are deleted (unix time)")
    links: dict[str, str] = Field(description="where to poll and fetch the results")


class VariantStatus(BaseModel):
    loaded: bool
    reason: str | None
    checkpoint: str
    sha256: str | None = None
    teacher: str | None = None
    trained_on: list[str] | None = None
    switches: dict[str, bool] | None = Field(None, description="student/DSWR settings it was trained with")


class ModelsStatus(BaseModel):
    """``GET /models``: what is loaded, what is missing and why."""

    detector: DetectorMeta | None
    detector_error: str | None
    variants: dict[str, VariantStatus]


class Limits(BaseModel):
    max_upload_mb: int
    max_frames: int
    max_frame_pixels: int = Field(description="largest accepted frame, width x height")
    upload_types: list[str]
    job_ttl_s: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    ready: bool = Field(description="at least one tracker can run")
    limits: Limits
    jobs: dict[str, int] = Field(description="jobs queued and running now")
    device: DeviceStatus
