import math

import torch

from model.tracking.decoder import BoxSamplingAttention, DecoderConfig, QueryDecoder, sample_levels, sine_encoding


def _features(b: int = 1) -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.randn(b, 64, 52, 52), torch.randn(b, 128, 26, 26), torch.randn(b, 256, 13, 13)]


def test_sine_encoding_by_hand() -> None:
    enc = sine_encoding(torch.tensor([[0.25]]), num_feats=4)
    # dim_t = 10000 ** (2 * (i // 2) / 4) = [1, 1, 100, 100]; pos = 0.25 * 2pi / dim_t
    expected = [math.sin(math.pi / 2), math.cos(math.pi / 2), math.sin(math.pi / 200), math.cos(math.pi / 200)]
    assert torch.allclose(enc[0], torch.tensor(expected), atol=1e-6)


def test_sample_levels_reads_the_pixel_under_a_point() -> None:
    feat = torch.zeros(1, 1, 4, 4)
    feat[0, 0, 1, 2] = 7.0  # pixel centre at ((2 + 0.5) / 4, (1 + 0.5) / 4)
    out = sample_levels([feat], torch.tensor([[[[0.625, 0.375]]]]))[0]
    assert out.shape == (1, 1, 1, 1) and abs(float(out) - 7.0) < 1e-5


def test_initial_sampling_points_lie_inside_the_box() -> None:
    cfg = DecoderConfig()
    attn = BoxSamplingAttention(cfg)
    offsets = attn.offsets.bias.view(3, cfg.num_points, 2)
    # points at anchor + offset * wh / 2 with |offset| <= 0.5 per axis -> inside the box
    assert offsets.abs().max() <= 0.5 + 1e-6


def test_decoder_shapes_and_empty_input() -> None:
    dec = QueryDecoder().eval()
    content, anchors = torch.randn(2, 7, 256), torch.rand(2, 7, 4) * 0.3 + 0.2
    out = dec(content, anchors, _features(2))
    assert out.logits.shape == (2, 2, 7) and out.boxes.shape == (2, 2, 7, 4) and out.hidden.shape == (2, 7, 256)
    assert (out.boxes > 0).all() and (out.boxes < 1).all()
    empty = dec(torch.zeros(1, 0, 256), torch.zeros(1, 0, 4), _features())
    assert empty.logits.shape == (2, 1, 0)


def test_untrained_decoder_keeps_anchor_boxes_and_low_scores() -> None:
    """Zero-initialised box heads: proposals come out where they went in; the focal prior gives ~0.01."""
    dec = QueryDecoder().eval()
    anchors = torch.tensor([[[0.3, 0.4, 0.1, 0.2]]])
    out = dec(torch.randn(1, 1, 256), anchors, _features())
    assert torch.allclose(out.boxes[-1], anchors, atol=1e-5)
    assert all(abs(float(h.bias) + math.log(99)) < 1e-6 for h in dec.class_heads)  # sigmoid(bias) = 0.01
    assert float(out.logits[-1].sigmoid()) < 0.1


def test_padding_does_not_change_real_queries() -> None:
    dec = QueryDecoder().eval()
    content, anchors = torch.randn(1, 3, 256), torch.rand(1, 3, 4) * 0.3 + 0.2
    ref = dec(content, anchors, _features())
    padded = dec(
        torch.cat((content, torch.randn(1, 2, 256)), 1),
        torch.cat((anchors, torch.rand(1, 2, 4) * 0.3 + 0.2), 1),
        _features(),
        padding_mask=torch.tensor([[False, False, False, True, True]]),
    )
    assert torch.allclose(ref.logits, padded.logits[..., :3], atol=1e-5)
