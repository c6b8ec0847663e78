"""Command line: score tracker output against MOTChallenge ground truth and print JSON.

    python -m model.evaluate --gt data/mot/PETS09-S2L1 --pred tracks.txt --first 501 --last 795

Several sequences: repeat paths in the same order, ``--gt A B --pred a.txt b.txt``; the output
then holds each sequence and TrackEval's ``COMBINED`` result. Percentages are printed with
``--decimals`` digits (default 1). Exit status 2 on unusable input, with a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import sys

from model.eval import SequenceJob, evaluate_many, evaluate_sequence
from model.mot_io import BENCHMARKS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--gt", nargs="+", required=True,
                        help="MOTChallenge sequence folder(s) with gt/gt.txt")
    parser.add_argument("--pred", nargs="+", required=True,
                        help="tracker output(s): MOTChallenge .txt or tracks .json")
    parser.add_argument("--first", type=int, default=1, help="first frame to score (1-based, inclusive)")
    parser.add_argument("--last", type=int, default=None,
                        help="last frame to score (inclusive; default: the end)")
    parser.add_argument("--benchmark", default="auto", choices=["auto", *BENCHMARKS],
                        help="gt rules: MOT15 counts every marked row; MOT16/17/20 drop distractors")
    parser.add_argument("--decimals", type=int, default=1, help="decimals for percentages in the output")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.gt) != len(args.pred):
        parser.error(
            f"--gt has {len(args.gt)} paths but --pred has {len(args.pred)}: give one prediction per sequence"
        )
    try:
        if len(args.gt) == 1:
            metrics = evaluate_sequence(args.gt[0], args.pred[0], args.benchmark, args.first, args.last)
            output: dict = metrics.as_dict(args.decimals)
        else:
            jobs = [SequenceJob(gt, pred, args.first, args.last) for gt, pred in zip(args.gt, args.pred)]
            results = evaluate_many(jobs, args.benchmark)
            output = {name: m.as_dict(args.decimals) for name, m in results.items()}
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(output, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
