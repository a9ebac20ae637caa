"""Weighed sources: an epoch's share per source, every photo seen before any repeats, the same draw on resume."""

import collections

import pytest

from colorizer.training.sampling import SamplingError, SourceSampler, epoch_shares, parse_source_weights

SOURCES = ["pets"] * 600 + ["faces"] * 20 + ["scenes"] * 180


def test_weights_are_read_and_bad_ones_named():
    assert parse_source_weights("pets=0.25, faces=4") == {"pets": 0.25, "faces": 4.0}
    assert parse_source_weights("") == {}
    for bad in ("pets", "pets=-1", "pets=many", "=2", "pets=nan"):
        with pytest.raises(SamplingError, match="NAME=WEIGHT"):
            parse_source_weights(bad)


def test_an_epoch_draws_each_source_by_count_times_weight():
    shares = epoch_shares(SOURCES, {"pets": 0.25, "faces": 4}, 400)
    # masses: pets 150, faces 80, scenes 180 of 410
    assert sum(shares.values()) == 400
    assert shares == {"faces": 78, "pets": 146, "scenes": 176}
    with pytest.raises(SamplingError, match="dogs"):
        epoch_shares(SOURCES, {"dogs": 2}, 400)
    with pytest.raises(SamplingError, match="every source out"):
        epoch_shares(SOURCES, {"pets": 0, "faces": 0, "scenes": 0}, 400)


def test_sampler_follows_the_shares_and_a_rare_source_goes_round_before_repeating():
    sampler = SourceSampler(SOURCES, {"pets": 0.25, "faces": 4}, epoch_images=400)
    seen_faces = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        assert len(indices) == len(sampler) == 400
        counts = collections.Counter(SOURCES[i] for i in indices)
        assert counts == {"pets": 146, "faces": 78, "scenes": 176}
        seen_faces += [i for i in indices if SOURCES[i] == "faces"]
    # 234 draws of 20 faces: each face 11 or 12 times, never one face twice while another waits
    per_face = collections.Counter(seen_faces)
    assert len(per_face) == 20 and max(per_face.values()) - min(per_face.values()) <= 1
    # pets (600) are not repeated within 3 epochs of 146 draws
    sampler.set_epoch(0)
    pets = [i for e in range(3) for i in (sampler.set_epoch(e) or list(sampler)) if SOURCES[i] == "pets"]
    assert len(set(pets)) == len(pets)


def test_the_draw_is_a_function_of_seed_and_epoch_and_ranks_split_it():
    a, b = SourceSampler(SOURCES, {}, 300, seed=1), SourceSampler(SOURCES, {}, 300, seed=1)
    a.set_epoch(5), b.set_epoch(5)
    assert list(a) == list(b)
    b.set_epoch(6)
    assert list(a) != list(b)
    ranks = [SourceSampler(SOURCES, {}, 301, num_replicas=2, rank=r, seed=1) for r in (0, 1)]
    for r in ranks:
        r.set_epoch(5)
    both = list(ranks[0]) + list(ranks[1])
    assert len(ranks[0]) == len(ranks[1]) == 151
    assert sorted(both) == sorted(ranks[0].epoch_indices().tolist())  # one padded to a multiple of the ranks
    whole = SourceSampler(SOURCES, {}, 301, seed=1)
    whole.set_epoch(5)
    assert set(both) == set(whole.epoch_indices().tolist())
