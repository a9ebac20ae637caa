"""The classification head (Zhang et al. 2016): bins, soft encoding, rebalancing, annealed mean, and that it learns."""

import numpy as np
import pytest
import torch

from colorizer.training.color import rgb_to_lab, uint8_to_network
from colorizer.training.heads import (
    GRID,
    ClassificationHead,
    RegressionHead,
    ab_bins,
    annealed_mean,
    head_from_state,
    prior_from_images,
    rebalancing_weights,
    soft_encode,
)
from colorizer.training.model import build_model


def test_bins_are_exactly_the_in_gamut_cells():
    bins = ab_bins()
    assert 250 <= len(bins) <= 320  # 262 cells of 10 x 10 ab units hold sRGB colours (Zhang's grid counts 313)
    assert torch.equal(bins, torch.round(bins / GRID) * GRID)
    colours = torch.rand(3, 300_000, 1, generator=torch.Generator().manual_seed(0))
    cells = torch.unique(torch.round(rgb_to_lab(colours)[1:].reshape(2, -1).T / GRID), dim=0) * GRID
    occupied = {tuple(c) for c in cells.tolist()}
    assert occupied <= {tuple(b) for b in bins.tolist()}, "an sRGB colour falls outside every bin"
    assert len(occupied) >= 0.95 * len(bins), "bins that no sRGB colour reaches"


def test_soft_encoding_sums_to_one_and_peaks_at_the_nearest_bin():
    bins = ab_bins()
    ab = torch.tensor([[12.0, -31.0], [0.0, 0.0], [55.0, 40.0]]).T.reshape(1, 2, 3, 1)
    encoded = soft_encode(ab, bins)
    assert encoded.shape == (1, len(bins), 3, 1)
    assert torch.allclose(encoded.sum(dim=1), torch.ones(1, 3, 1)) and encoded.min() >= 0
    assert (encoded > 0).sum(dim=1).eq(5).all()
    peak = bins[encoded[0, :, 0, 0].argmax()]
    assert torch.equal(peak, torch.tensor([10.0, -30.0]))


def test_rebalancing_weights_average_one_under_the_prior():
    prior = torch.softmax(torch.randn(len(ab_bins()), generator=torch.Generator().manual_seed(1)) * 3, dim=0)
    weights = rebalancing_weights(prior)
    assert (prior * weights).sum() == pytest.approx(1.0, abs=1e-5)
    assert weights[prior.argmin()] > weights[prior.argmax()]  # rare colours count more


def test_annealed_mean_at_t1_is_the_expectation():
    bins = ab_bins()
    logits = torch.randn(2, len(bins), 3, 4)
    expected = torch.einsum("bqhw,qc->bchw", torch.softmax(logits, dim=1), bins)
    assert torch.allclose(annealed_mean(logits, bins, 1.0), expected, atol=1e-4)
    vivid = annealed_mean(logits * 5, bins, 0.38).norm(dim=1).mean()
    assert vivid > annealed_mean(logits * 5, bins, 1.0).norm(dim=1).mean()  # lower T: more saturated


def test_heads_round_trip_through_their_state():
    head = ClassificationHead(ab_bins(), torch.full((len(ab_bins()),), 1 / len(ab_bins())), 0.5)
    rebuilt = head_from_state(head.state())
    assert rebuilt.out_channels == head.out_channels and rebuilt.temperature == 0.5
    assert (
        head_from_state(None).loss_name == "mse"
        and head_from_state(RegressionHead("huber").state()).loss_name == "huber"
    )


def test_a_tiny_model_learns_a_two_colour_image_with_the_classification_loss():
    torch.manual_seed(0)
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :16] = (200, 40, 40)  # red, darker
    image[:, 16:] = (60, 120, 230)  # blue, different lightness
    rgb = torch.from_numpy(image).permute(2, 0, 1)[None].repeat(4, 1, 1, 1)
    bins = ab_bins()
    head = ClassificationHead(bins, prior_from_images([image], bins, step=1))
    model = build_model("resnet18", out_channels=head.out_channels)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    l_norm, ab_norm = uint8_to_network(rgb)
    for _ in range(60):
        loss = head.loss(model(l_norm), ab_norm)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = head.decode(model(l_norm[:1])) * 110  # (1, 2, 32, 32) ab
    truth = ab_norm[:1] * 110
    for columns in (slice(2, 14), slice(18, 30)):
        error = (predicted[..., columns] - truth[..., columns]).norm(dim=1).mean()
        assert error < 15, f"ab error {error:.1f}"


def test_colourful_huber_pushes_a_gray_guess_towards_colour_and_leaves_a_right_one_alone():
    truth = torch.zeros(2, 2, 16, 16)
    truth[:, 0, :8] = 0.4  # half the image red-ish, half gray: colour to commit to
    huber, colourful = RegressionHead("huber"), RegressionHead("huber-colourful")
    near_gray = 0.01 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))
    gray = near_gray.clone().requires_grad_()
    colourful.loss(gray, truth).backward()
    plain = near_gray.clone().requires_grad_()
    huber.loss(plain, truth).backward()
    # the colourfulness term adds a push of the coloured half towards its colour beyond the Huber loss's
    assert gray.grad[:, 0, :8].mean() < 1.05 * plain.grad[:, 0, :8].mean() < 0
    # on the Huber loss's scale: a term beside it, not one that drowns it (110x too strong once: colour went wild)
    assert huber.loss(near_gray, truth) < colourful.loss(near_gray, truth) < 3 * huber.loss(near_gray, truth)
    assert torch.isclose(colourful.loss(truth, truth), torch.tensor(0.0))
    # one-sided: a prediction more colourful than the truth costs only its Huber loss
    louder = truth * 1.5
    assert torch.isclose(colourful.loss(louder, truth), huber.loss(louder, truth))


def test_rebalanced_huber_weighs_rare_colours_more():
    bins = ab_bins()
    common, rare = torch.tensor([0.0, 0.0]), torch.tensor([40.0, 60.0])
    counts = torch.ones(len(bins))
    counts[(bins - common).norm(dim=1).argmin()] = 1e5  # nearly every pixel of the "training set" is gray
    from colorizer.training.heads import smoothed_prior

    head = RegressionHead("huber-rebalanced", smoothed_prior(counts, bins))
    error = torch.full((1, 2, 4, 4), 0.1)
    gray_truth = torch.zeros(1, 2, 4, 4)
    vivid_truth = (rare / 110).reshape(1, 2, 1, 1).expand(1, 2, 4, 4)
    assert head.loss(vivid_truth + error, vivid_truth) > 3 * head.loss(gray_truth + error, gray_truth)
    rebuilt = head_from_state(head.state())
    assert rebuilt.loss_name == "huber-rebalanced" and torch.equal(rebuilt.prior, head.prior)
