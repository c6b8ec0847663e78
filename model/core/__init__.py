"""Shared by every stage: the box and frame-input types, choice lists, settings, pinned weights, box maths."""
