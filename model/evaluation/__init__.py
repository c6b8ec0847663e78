"""Evaluation: TrackEval's HOTA, CLEAR and Identity metrics, in-process."""
