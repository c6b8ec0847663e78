"""The demo's figures, built from a :class:`app.schemas.TrackResult` alone (so a reloaded page draws
exactly what the job stored).

Why two rows per figure: quality Q and DSWR's weight w explain *why* the trackers may differ, and
the number of visible tracks per tracker shows *where* they do; frames where the trackers see
different numbers of people are marked on both rows, so a reader can jump to them in the video.
Noise is plotted as what it is in Q -- a penalty (higher = noisier) -- and the presets' noise,
added at low resolution and then smoothed by upsampling and JPEG, often measures 0: the legend
says so, so a flat zero line does not look like a bug.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.panels import PANEL_TITLES
from app.schemas import SweepLevel, TrackResult

QUALITY_SERIES = (("quality", "Quality Q", "#1f77b4", 3.0), ("clarity", "clarity", "#2ca02c", 1.5),
                  ("noise", "noise (penalty: higher = noisier; 0 = none measured)", "#d62728", 1.5),
                  ("contrast", "contrast", "#9467bd", 1.5))
TRACKER_COLOURS = {"baseline": "#7f7f7f", "vsd-mot": "#ff7f0e"}
# Wide solid grey under narrow dotted orange: where both trackers give the same numbers, both stay visible.
TRACKER_LINES = {"baseline": {"width": 5}, "vsd-mot": {"width": 2, "dash": "dot"}}
WEIGHT_COLOUR = "#ff7f0e"
DISAGREE_COLOUR = "rgba(214, 39, 40, 0.12)"
FLAT_Q = 0.02  # a Q range below this within a clip is called flat in the title


def disagreement_spans(result: TrackResult) -> list[tuple[int, int]]:
    """(first, last) runs of frames where the trackers that ran show different numbers of tracks."""
    spans: list[tuple[int, int]] = []
    if len(result.tracks) < 2:
        return spans
    for record in result.frames:
        if len(set(record.track_count.values())) > 1:
            if spans and spans[-1][1] == record.frame - 1:
                spans[-1] = (spans[-1][0], record.frame)
            else:
                spans.append((record.frame, record.frame))
    return spans


def frame_figure(result: TrackResult) -> go.Figure:
    """Per frame: Q and its parts with w (top), visible tracks per tracker (bottom), disagreements marked."""
    frames = result.frames
    x = [f.frame for f in frames]
    q_values = [f.quality for f in frames]
    flat = bool(q_values) and max(q_values) - min(q_values) < FLAT_Q
    top = "Frame quality Q and DSWR's semantic weight w" + (
        "<br><sup>Q is flat within this clip: the robustness sweep compares degradation levels</sup>" if flat else "")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.1,
                        subplot_titles=(top, "Visible tracks per frame"))
    for key, label, colour, width in QUALITY_SERIES:
        fig.add_trace(go.Scatter(x=x, y=[getattr(f, key) for f in frames], name=label, legendgroup="quality",
                                 line={"color": colour, "width": width}), row=1, col=1)
    weights = [f.semantic_weight for f in frames]
    if any(w is not None for w in weights):
        fig.add_trace(go.Scatter(x=x, y=weights, name="semantic weight w (VSD-MOT's DSWR)",
                                 line={"color": WEIGHT_COLOUR, "width": 3, "dash": "dash"}), row=1, col=1)
    else:
        fig.add_annotation(text="w: VSD-MOT with DSWR did not run", xref="x domain", yref="y domain", x=1, y=1.02,
                           showarrow=False, font={"size": 11}, row=1, col=1)
    for name in result.tracks:
        fig.add_trace(go.Scatter(x=x, y=[f.track_count.get(name, 0) for f in frames], name=f"{PANEL_TITLES[name]}: tracks",
                                 line={"color": TRACKER_COLOURS.get(name, "#333"), "shape": "hv",
                                       **TRACKER_LINES.get(name, {"width": 2})}),
                      row=2, col=1)
    spans = disagreement_spans(result)
    for first, last in spans:
        for row in (1, 2):
            fig.add_vrect(x0=first - 0.5, x1=last + 0.5, fillcolor=DISAGREE_COLOUR, line_width=0, row=row, col=1)
    if spans:  # a legend entry for the shading
        fig.add_trace(go.Scatter(x=[spans[0][0]], y=[0], mode="markers", name="trackers disagree (shaded)",
                                 marker={"color": "rgba(214, 39, 40, 0.35)", "symbol": "square", "size": 12}),
                      row=2, col=1)
    fig.update_yaxes(title_text="score (0..1)", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="tracks", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text="frame", row=2, col=1)
    fig.update_layout(height=520, margin={"l": 55, "r": 20, "t": 60, "b": 40}, legend={"orientation": "h", "y": -0.15})
    return fig


def sweep_figure(levels: list[SweepLevel], labelled: bool) -> go.Figure:
    """Per degradation level: HOTA (vs ground truth, or agreement with the clean run), tracks, identities, Q and w."""
    x = [level.degrade for level in levels]
    first = ("HOTA against the ground truth" if labelled
             else "Agreement with the clean run<br><sup>HOTA vs the tracker's own clean-run tracks: not accuracy</sup>")
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.2, horizontal_spacing=0.1,
                        subplot_titles=(first, "Mean visible tracks per frame", "Identities", "Mean Q and mean w"))
    names = list(levels[0].trackers) if levels else []
    for name in names:
        colour = TRACKER_COLOURS.get(name, "#333")
        if labelled:
            hota = [level.trackers[name].score.HOTA for level in levels]
        else:  # the clean level agrees with itself by definition: drawn as 100
            hota = [100.0 if level.trackers[name].agreement is None and level.degrade == "none"
                    else (level.trackers[name].agreement.HOTA if level.trackers[name].agreement else None)
                    for level in levels]
        common = {"line": {"color": colour, **TRACKER_LINES.get(name, {"width": 2})},
                  "marker": {"size": 10 if name == "baseline" else 6}, "legendgroup": name}
        fig.add_trace(go.Scatter(x=x, y=hota, name=PANEL_TITLES[name], mode="lines+markers", **common), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=[level.trackers[name].visible_mean for level in levels], showlegend=False,
                                 mode="lines+markers", **common), row=1, col=2)
        fig.add_trace(go.Scatter(x=x, y=[level.trackers[name].ids for level in levels], showlegend=False,
                                 mode="lines+markers", **common), row=2, col=1)
    fig.add_trace(go.Scatter(x=x, y=[level.quality_mean for level in levels], name="mean Q", mode="lines+markers",
                             line={"color": "#1f77b4", "width": 2}), row=2, col=2)
    if any(level.semantic_weight_mean is not None for level in levels):
        fig.add_trace(go.Scatter(x=x, y=[level.semantic_weight_mean for level in levels], name="mean w",
                                 mode="lines+markers", line={"color": WEIGHT_COLOUR, "width": 2, "dash": "dash"}),
                      row=2, col=2)
    fig.update_yaxes(range=[0, 102], title_text="HOTA" if labelled else "agreement", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=2, col=1)
    fig.update_yaxes(range=[0, 1.05], row=2, col=2)
    seed = levels[0].seed if levels else 0
    fig.update_layout(title=f"Robustness sweep (degradation seed {seed})", height=580,
                      margin={"l": 55, "r": 20, "t": 100, "b": 40}, legend={"orientation": "h", "y": -0.12})
    return fig
