"""Colour hints, measured: Zhang et al.'s sweep on photo sources never trained on, how much of a photo one click or
one stroke changes, figures (one click before and after the local solver; points and strokes), and the time hints
add.

Sweep protocol (after REFERENCES §10): each photo resized to 512 px on its longer side; N hints sampled from the
truth, each a 6x6 patch whose centre is drawn from a normal around the image centre (sd = side / 4 per axis, clipped
inside), its value the patch's mean ab; PSNR and mean CIEDE2000 of the result against the photo. The same hint
positions (seeded) for every method: the learned hint branch alone, the hints spread along edges only (reach 0), and
along edges and to what looks alike at the default reach (what colourising does). The gray baseline sits beside.

Locality protocol: one click (a 5x5 point) or one stroke (a fifth of the width, 5 px wide) at the photo's centre in a
colour contrasting with the model's there (its hue turned half way round, chroma at least 50); the share of the
photo whose a*b* moves by more than 5 units, quartiles over the photos, given to the learned hint branch alone
(the network's hint input) and spread at reach 0, the default and 1.

    python -m benchmarks.hints --data runs/pool/data --every 2 --out docs/   # held-out split of a prepared folder
    python -m benchmarks.hints --data runs/pool/data --split val --every 4 --no-timing   # where defaults are chosen
    python -m benchmarks.hints --data photos/ --model m.onnx         # or any folder of colour photos
    python -m benchmarks.hints --timing-only                         # the time alone: hints-timing.md

Writes benchmarks/results/hints.md (the tables) and, with --out, docs/hints-sweep.png, docs/hints-examples.png,
docs/hints-one-click.png and docs/hints-widest-clicks.jpg (where one click reaches furthest).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage.color import deltaE_ciede2000, rgb2lab

from benchmarks.common import machine, quartiles, table, write_result
from colorizer import Colorizer
from colorizer.inference import DEFAULT_REACH
from colorizer.inference.color import gray_preview, normalize_ab
from colorizer.training.alike_fit import contrasting_click
from colorizer.training.evaluate import evaluation_images
from colorizer.training.metrics import psnr

COUNTS = (0, 1, 2, 5, 10, 20, 50)
PATCH = 6
SIZE = 512


def sample_hints(truth_lab: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(3, H, W) hint maps (a / 110, b / 110, mask) of `count` 6x6 truth patches placed as in Zhang et al., and
    their labels (H, W) (which patch covers each pixel, 0: none)."""
    height, width = truth_lab.shape[:2]
    maps = np.zeros((3, height, width), np.float32)
    labels = np.zeros((height, width), np.int32)
    for number in range(1, count + 1):
        top = int(np.clip(rng.normal(height / 2, height / 4) - PATCH / 2, 0, height - PATCH))
        left = int(np.clip(rng.normal(width / 2, width / 4) - PATCH / 2, 0, width - PATCH))
        patch = truth_lab[top : top + PATCH, left : left + PATCH, 1:].reshape(-1, 2).mean(axis=0)
        maps[:2, top : top + PATCH, left : left + PATCH] = normalize_ab(patch)[:, None, None]
        maps[2, top : top + PATCH, left : left + PATCH] = 1.0
        labels[top : top + PATCH, left : left + PATCH] = number
    return maps, labels


def steered_ab(colorizer: Colorizer, rgb: np.ndarray, maps, labels, mode: str = "spread") -> np.ndarray:
    """The ab (2, h, w) at the working size. mode: "branch" (the learned hint branch alone), "local" (the automatic
    colour, hints spread along edges only: reach 0), "spread" (also to what looks alike, at the default reach: what
    colourising does)."""
    network_input = colorizer.network_input(rgb, SIZE)
    if colorizer.takes_hints and maps is not None and mode == "branch":
        network_input[0, 1:] = maps
    ab, features = colorizer.predict_with_features(network_input)
    ab, features = ab[0], None if features is None else features[0]
    if maps is not None and maps[2].any() and mode != "branch":
        reach = 0.0 if mode == "local" else DEFAULT_REACH
        ab = colorizer.follow_hint_maps(network_input[0], ab, maps, labels, reach, features)
    return ab


def colorize_with_maps(colorizer: Colorizer, rgb: np.ndarray, maps, labels=None, mode: str = "spread") -> np.ndarray:
    return colorizer.recombine(rgb, steered_ab(colorizer, rgb, maps, labels, mode))


def scores(truth: np.ndarray, truth_lab: np.ndarray, result: np.ndarray) -> tuple[float, float]:
    return psnr(truth, result), float(deltaE_ciede2000(truth_lab, rgb2lab(result)).mean())


MODES = ("branch", "local", "spread")


def locality_name(reach: float | str) -> str:
    return "learned branch alone" if reach == "branch" else f"reach {reach:g}"


def sweep(photos, colorizer: Colorizer, modes=MODES, seed: int = 0) -> dict:
    """{"gray": (psnr, de), mode: {count: (psnr, de)}} over `photos`, means."""
    results = {mode: {n: [] for n in COUNTS} for mode in modes}
    gray = []
    for index, (_, truth) in enumerate(photos):
        truth_lab = rgb2lab(truth)
        gray.append(scores(truth, truth_lab, gray_preview(truth)))
        automatic = scores(truth, truth_lab, colorize_with_maps(colorizer, truth, None))
        for n in COUNTS:
            maps, labels = sample_hints(truth_lab, n, np.random.default_rng([seed, index, n]))
            for mode in modes:
                result = (
                    automatic
                    if n == 0
                    else scores(truth, truth_lab, colorize_with_maps(colorizer, truth, maps, labels, mode))
                )
                results[mode][n].append(result)
    mean = lambda rows: (float(np.mean([r[0] for r in rows])), float(np.mean([r[1] for r in rows])))  # noqa: E731
    return {
        "gray": mean(gray),
        **{mode: {n: mean(rows) for n, rows in by_count.items()} for mode, by_count in results.items()},
    }


def centre_click(colorizer: Colorizer, truth: np.ndarray, kind: str = "point", reach: float | str = DEFAULT_REACH):
    """One contrasting click or stroke at the centre of a photo -> (network input, automatic ab, hint maps, ab after
    it), spread at `reach` or, with reach "branch", given to the learned hint branch alone (ab at the working size)."""
    network_input = colorizer.network_input(truth, SIZE)
    ab, features = colorizer.predict_with_features(network_input)
    ab, features = ab[0], None if features is None else features[0]
    maps, labels = contrasting_click(ab, kind)
    if reach == "branch":
        hinted = network_input.copy()
        hinted[0, 1:] = maps
        after = colorizer.predict_ab(hinted)[0]
    else:
        after = colorizer.follow_hint_maps(network_input[0], ab, maps, labels, reach, features)
    return network_input, ab, maps, after


def locality(photos, colorizer: Colorizer, kind: str = "point", reach: float | str = DEFAULT_REACH) -> list[float]:
    """Share of each photo (at the working size) whose a*b* one contrasting click or stroke at its centre moves by
    more than 5 units, spread at `reach` or, with reach "branch", given to the learned hint branch alone."""
    shares = []
    for _, truth in photos:
        _, ab, _, after = centre_click(colorizer, truth, kind, reach)
        shares.append(float((np.hypot(*(after - ab)) > 5).mean()))
    return shares


def click_marker(truth: np.ndarray, ab: np.ndarray, maps: np.ndarray) -> list[dict]:
    """The centre click as a hint to draw on the photo at its own size."""
    height, width = truth.shape[:2]
    return [{"x": width // 2, "y": height // 2, "color": lab_to_hex(maps[:2, ab.shape[1] // 2, ab.shape[2] // 2])}]


def sweep_plot(result: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = list(COUNTS)
    labels = {
        "branch": "learned hint branch",
        "local": "spread along edges only (reach 0)",
        "spread": f"along edges and to what looks alike (reach {DEFAULT_REACH}, default)",
    }
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100)
    for axis, k, label in (
        (axes[0], 0, "PSNR dB (higher is better)"),
        (axes[1], 1, "mean CIEDE2000 (lower is better)"),
    ):
        for mode in (m for m in MODES if m in result):
            axis.plot(range(len(counts)), [result[mode][n][k] for n in counts], "o-", label=labels[mode])
        axis.axhline(result["gray"][k], color="gray", linestyle="--", label="gray baseline")
        axis.set_xticks(range(len(counts)), [str(n) for n in counts])
        axis.set_xlabel("hints sampled from the truth (6x6 patches)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def example_hints(truth: np.ndarray, rng: np.random.Generator) -> list[dict]:
    """A point and a stroke as a person would give them: each in the truth's colour where it is put."""
    height, width = truth.shape[:2]
    x, y = int(rng.uniform(0.25, 0.75) * width), int(rng.uniform(0.25, 0.75) * height)
    x0, y0 = int(rng.uniform(0.15, 0.55) * width), int(rng.uniform(0.2, 0.8) * height)
    x1 = min(width - 1, x0 + width // 5)
    ys = np.clip(y0 + (np.arange(x0, x1 + 1) - x0) // 6, 0, height - 1)
    colour = lambda rgb: "#" + "".join(f"{int(v):02x}" for v in rgb)  # noqa: E731
    along = rgb_mean_by_lab(truth[ys, np.arange(x0, x1 + 1)].reshape(-1, 3))
    return [
        {
            "x": x,
            "y": y,
            "color": colour(rgb_mean_by_lab(truth[max(0, y - 3) : y + 3, max(0, x - 3) : x + 3].reshape(-1, 3))),
        },
        {"points": [[x0, int(ys[0])], [x1, int(ys[-1])]], "color": colour(along), "radius": 3},
    ]


def rgb_mean_by_lab(pixels: np.ndarray) -> np.ndarray:
    """The sRGB colour of the mean a*b* of some pixels (at a mid lightness: a hint's lightness does not matter)."""
    from skimage.color import lab2rgb

    ab = rgb2lab(pixels[None].astype(np.uint8))[0, :, 1:].mean(axis=0)
    return np.clip(lab2rgb(np.array([[[60.0, *ab]]]))[0, 0] * 255, 0, 255).round()


def draw_hints(image: np.ndarray, hints: list[dict]) -> np.ndarray:
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    for hint in hints:
        if "points" in hint:
            draw.line([tuple(p) for p in hint["points"]], fill="white", width=9)
            draw.line([tuple(p) for p in hint["points"]], fill=hint["color"], width=5)
        else:
            x, y = hint["x"], hint["y"]
            draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=hint["color"], outline="white", width=2)
    return np.asarray(canvas)


def example_figure(photos, colorizer: Colorizer, path: Path) -> None:
    """gray | automatic | with one point and one stroke (drawn) | original."""
    from colorizer.figures import comparison_grid

    rows = []
    for index, (_, truth) in enumerate(photos):
        hints = example_hints(truth, np.random.default_rng([11, index]))
        hinted = colorizer.colorize_array(truth, SIZE, hints=hints)
        rows.append([gray_preview(truth), colorizer.colorize_array(truth, SIZE), draw_hints(hinted, hints), truth])
    labels = ("gray", "automatic", "one point + one stroke (drawn)", "original")
    comparison_grid(rows, labels, height=240).save(path)


PREVIOUS_SOLVER = "111c662"  # the last commit with the pyramid solver that one click repainted whole photos with


def previous_spread():
    """The spreading function of PREVIOUS_SOLVER, read from the repository's history (for the figure only)."""
    import importlib.util
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{PREVIOUS_SOLVER}:colorizer/inference/spread.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("previous_spread", file.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.spread_corrections


def one_click_figure(photos, colorizer: Colorizer, path: Path) -> None:
    """automatic | one contrasting click, the previous solver | the same click now (reach 0.5), marked."""
    from colorizer.figures import comparison_grid
    from colorizer.inference.color import denormalize_ab, denormalize_l

    previous = previous_spread()
    rows = []
    for _, truth in photos:
        network_input, ab, maps, now = centre_click(colorizer, truth)
        wanted = denormalize_ab(maps[:2]) - ab
        before = ab + previous(denormalize_l(network_input[0, 0]), maps[2], wanted)
        click = click_marker(truth, ab, maps)
        rows.append(
            [colorizer.recombine(truth, ab)]
            + [draw_hints(colorizer.recombine(truth, result), click) for result in (before, now)]
        )
    labels = ("automatic", f"one click, previous solver ({PREVIOUS_SOLVER})", f"one click now (reach {DEFAULT_REACH})")
    comparison_grid(rows, labels, height=240).save(path)


def widest_clicks_figure(photos, shares: list[float], colorizer: Colorizer, path: Path, count: int = 6) -> None:
    """The `count` photos where one contrasting click at the centre (default reach) reaches furthest, by their
    `shares` (`locality`): automatic | the click | what it moved by more than 5 ab units (in white), its share written
    on it. A JPEG, to keep the repository small."""
    from colorizer.figures import comparison_grid

    rows = []
    for index in np.argsort(shares, kind="stable")[::-1][:count]:
        truth = photos[index][1]
        _, ab, maps, after = centre_click(colorizer, truth)
        moved = np.hypot(*(after - ab)) > 5
        share = float(moved.mean())
        size = truth.shape[1], truth.shape[0]
        mask = Image.fromarray(np.where(moved, 255, 40).astype(np.uint8)).resize(size).convert("RGB")
        ImageDraw.Draw(mask).text((8, 8), f"{share:.0%} of the photo", fill=(255, 80, 80))
        clicked = draw_hints(colorizer.recombine(truth, after), click_marker(truth, ab, maps))
        rows.append([colorizer.recombine(truth, ab), clicked, np.asarray(mask)])
    labels = ("automatic", f"one click (reach {DEFAULT_REACH})", "moved by more than 5 ab units")
    comparison_grid(rows, labels, height=200).save(path, quality=85)


def lab_to_hex(normalized_ab: np.ndarray) -> str:
    from skimage.color import lab2rgb

    from colorizer.inference.color import denormalize_ab

    a, b = denormalize_ab(normalized_ab)
    rgb = np.clip(lab2rgb(np.array([[[60.0, a, b]]]))[0, 0] * 255, 0, 255).round().astype(int)
    return "#" + "".join(f"{v:02x}" for v in rgb)


def timing(colorizer: Colorizer, work: Path, photo_source: Path) -> list[list[str]]:
    """CLI (process start included) for a 12-MP JPEG and the page's request for a 1-MP one, with and without 10
    hints (medians of 5)."""
    from fastapi.testclient import TestClient

    from colorizer.inference.serve import create_app

    gray = Image.open(photo_source).convert("L")
    big, small = work / "big.jpg", work / "small.jpg"
    gray.resize((4000, 3000), Image.BICUBIC).save(big, quality=92)
    gray.resize((1155, 866), Image.BICUBIC).save(small, quality=92)

    def hints_for(width: int, height: int) -> list[dict]:
        return [
            {"x": width * (i + 1) // 12, "y": height * ((i * 7) % 10 + 1) // 12, "color": "#b0302a"} for i in range(10)
        ]

    (work / "big.hints.json").write_text(json.dumps(hints_for(4000, 3000)))

    def cli(with_hints: bool) -> float:
        extra = ["--hints", str(work / "big.hints.json")] if with_hints else []
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "colorizer",
                "colorize",
                str(big),
                "--out",
                str(work / "out"),
                "--overwrite",
                *extra,
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started

    client = TestClient(create_app(colorizer))
    upload = small.read_bytes()

    def http(with_hints: bool) -> float:
        data = {"hints": json.dumps(hints_for(1155, 866))} if with_hints else None
        started = time.perf_counter()
        response = client.post("/api/colorize?format=png", files={"file": ("p.jpg", upload)}, data=data)
        assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).size == (1155, 866)
        return time.perf_counter() - started

    rows = []
    for name, function in (
        ("CLI, 12-MP JPEG, process start included", cli),
        ("web page request, 1-MP JPEG -> PNG", http),
    ):
        function(False)
        without = statistics.median(function(False) for _ in range(5))
        with_hints = statistics.median(function(True) for _ in range(5))
        rows.append([name, f"{without:.2f} s", f"{with_hints:.2f} s"])
    return rows


def timing_table(colorizer: Colorizer) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(__file__).resolve().parents[1] / "examples" / "originals" / "leuven.jpg"
        return table(["request", "no hints", "10 hints"], timing(colorizer, Path(tmp), source))


def write_timing(colorizer: Colorizer) -> None:
    """The timing alone, to benchmarks/results/hints-timing.md (run it with nothing else on the CPU)."""
    text = "\n".join(
        ["# Time hints add (benchmarks/hints.py --timing-only)", "", machine(), "", timing_table(colorizer)]
    )
    print(text)
    write_result("hints-timing.md", text)


def sweep_table(result: dict) -> str:
    modes = [m for m in MODES if m in result]
    names = {"branch": "learned branch", "local": "edges only (reach 0)", "spread": f"default (reach {DEFAULT_REACH})"}
    header = ["hints", *[f"{names[m]}: PSNR dB / ΔE2000" for m in modes]]
    rows = [["gray baseline", *[f"{result['gray'][0]:.2f} / {result['gray'][1]:.2f}" for _ in modes]]]
    for n in COUNTS:
        rows.append([n, *[f"{result[m][n][0]:.2f} / {result[m][n][1]:.2f}" for m in modes]])
    return table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a prepared folder (its held-out split) or photos")
    parser.add_argument("--split", default="heldout", help="split of a prepared folder (default: heldout)")
    parser.add_argument("--model", type=Path, help="model to measure (default: the bundled one)")
    parser.add_argument("--every", type=int, default=1, help="use every Nth photo (default: all)")
    parser.add_argument("--out", type=Path, help="folder for the sweep plot and example figure (e.g. docs/)")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--timing-only", action="store_true", help="only the time hints add (no photos needed)")
    args = parser.parse_args()
    colorizer = Colorizer.load(args.model)
    if args.timing_only:
        write_timing(colorizer)
        return
    if args.data is None:
        parser.error("--data is needed for the sweep (or pass --timing-only)")
    photos, _ = evaluation_images(args.data, SIZE, splits=(args.split,))
    photos = [(name, image) for name, _, image in photos[:: args.every]]
    modes = MODES if colorizer.takes_hints else ("spread",)
    started = time.perf_counter()
    result = sweep(photos, colorizer, modes)
    reaches = (*(("branch",) if colorizer.takes_hints else ()), 0.0, DEFAULT_REACH, 1.0)
    shares = {
        (kind, reach): locality(photos, colorizer, kind, reach) for kind in ("point", "stroke") for reach in reaches
    }
    local_rows = [
        [f"one {kind}", *[quartiles(shares[kind, reach]) for reach in reaches]] for kind in ("point", "stroke")
    ]
    lines = [
        "# Colour hints (benchmarks/hints.py)",
        "",
        machine(),
        "",
        f"Model: {args.model or 'bundled'}; {len(photos)} photos of {args.data} ({args.split}), 512 px; "
        f"{time.perf_counter() - started:.0f} s.",
        "",
        sweep_table(result),
        "",
        "Share of the photo whose colour one contrasting click (or stroke) at its centre changes by more than 5 ab "
        "units, quartiles 25/50/75 %:",
        "",
        table(["hint", *[locality_name(reach) for reach in reaches]], local_rows),
    ]
    print("\n".join(lines), flush=True)
    if args.out:
        sweep_plot(result, args.out / "hints-sweep.png", f"{len(photos)} photos of sources never trained on")
        example_figure(photos[:4], colorizer, args.out / "hints-examples.png")
        one_click_figure(photos[:4], colorizer, args.out / "hints-one-click.png")
        widest_clicks_figure(photos, shares["point", DEFAULT_REACH], colorizer, args.out / "hints-widest-clicks.jpg")
    if not args.no_timing:
        lines += ["", timing_table(colorizer)]
        print(lines[-1])
    write_result(f"hints-{args.split}.md", "\n".join(lines))


if __name__ == "__main__":
    main()
