"""Person re-ID embeddings: unit-length vectors, and the same person closer than two different people."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def embedder(weights_dir: Path):
    from model.tracking.reid import ReidEmbedder

    return ReidEmbedder(weights=weights_dir / "person-reidentification-retail-0287.onnx")


def test_embeddings_are_unit_vectors_and_tiny_boxes_give_zeros(embedder, mot_dir: Path) -> None:
    frame = cv2.imread(str(mot_dir / "TUD-Stadtmitte" / "img1" / "000001.jpg"))
    vectors = embedder(frame, np.array([[100, 100, 160, 260], [5, 5, 6, 6], [-50, -50, -10, -10]]))
    assert vectors.shape == (3, embedder.dim) == (3, 256)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-5)
    assert not vectors[1:].any()


def test_the_same_person_is_closer_than_two_different_people(embedder, mot_dir: Path) -> None:
    from model.data.mot_io import read_gt

    seq = mot_dir / "TUD-Stadtmitte"
    gt = read_gt(seq)
    by_id: dict[int, list[np.ndarray]] = {}
    for frame in (1, 25, 50, 75):
        tracks = gt.pedestrians(frame)
        for identity, vector in zip(tracks.ids, embedder(cv2.imread(str(seq / "img1" / f"{frame:06d}.jpg")), tracks.xyxy)):
            by_id.setdefault(int(identity), []).append(vector)
    ids = [i for i, v in by_id.items() if len(v) >= 2]
    same = np.mean([by_id[i][0] @ by_id[i][1] for i in ids])
    different = np.mean([by_id[i][0] @ by_id[j][0] for i in ids for j in ids if i < j])
    assert same > different + 0.15
