"""The choice lists of model.core.choices are the ones the library implements, so every entry point
that reads them (CLI, API schemas, UI) offers exactly what works."""

from __future__ import annotations

from model.core.choices import DEGRADE_CHOICES, DEGRADE_PRESETS, NO_DEGRADATION, TEACHERS, TRAIN_VARIANTS, VARIANTS
from model.core.settings import DEFAULT_CHECKPOINTS


def test_presets_teachers_and_variants_match_their_implementations() -> None:
    from model.vsd.degrade import PRESETS
    from model.vsd.teacher import _BUILDERS

    assert tuple(PRESETS) == DEGRADE_PRESETS and DEGRADE_CHOICES == (NO_DEGRADATION, *DEGRADE_PRESETS)
    assert tuple(_BUILDERS) == TEACHERS
    assert tuple(DEFAULT_CHECKPOINTS) == VARIANTS and set(VARIANTS) < set(TRAIN_VARIANTS)


def test_the_api_and_the_cli_offer_the_same_lists() -> None:
    from typing import get_args

    from app.api import DegradeChoice, VariantChoice
    from model.cli import build_parser

    assert get_args(DegradeChoice) == DEGRADE_CHOICES and "both" in get_args(VariantChoice)
    track = build_parser("track")._subparsers._group_actions[0].choices["track"]
    choices = {a.dest: tuple(a.choices) for a in track._actions if a.choices}
    assert choices["degrade"] == DEGRADE_CHOICES and choices["variant"] == VARIANTS
