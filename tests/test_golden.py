"""The same pixels as before the structure changed: fixed generated cases (tests/golden/make.py) coloured now and
compared with the outputs saved from main at 1d43b29 (before ColorizeOptions, the one pipeline and the CLI split).

Photos, hints, a reference, a working size and the local engine's batch: bit for bit. The film with a key frame:
within the spread of its own reruns, because the video pipeline is not deterministic run to run (two runs of the
same code at 1d43b29 differ by a mean 1.2 levels, 6 at the 99th percentile: threads in optical flow or encoding)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def now() -> dict[str, np.ndarray]:
    spec = importlib.util.spec_from_file_location("golden_make", GOLDEN / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cases()


@pytest.fixture(scope="module")
def before() -> dict[str, np.ndarray]:
    return dict(np.load(GOLDEN / "outputs-1d43b29.npz"))


PHOTO_CASES = ["automatic", "gray_input", "saturation", "hints", "hints_reach", "reference", "working_size",
               "batch_a", "batch_b_rgba"]  # fmt: skip


@pytest.mark.parametrize("case", PHOTO_CASES)
def test_photos_are_bit_identical_to_before(now, before, case):
    assert now[case].shape == before[case].shape
    assert np.array_equal(now[case], before[case]), np.abs(now[case].astype(int) - before[case]).max()


def test_a_film_with_a_key_frame_is_within_its_own_rerun_spread(now, before):
    if "video_key_frame" not in now:
        pytest.skip("no video extra")
    difference = np.abs(now["video_key_frame"].astype(int) - before["video_key_frame"])
    assert now["video_key_frame"].shape == before["video_key_frame"].shape
    assert difference.mean() <= 2.0 and np.percentile(difference, 99) <= 10, (difference.mean(), difference.max())
