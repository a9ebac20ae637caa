"""Would an INT8 model colourise folders faster without changing the colour? (Measured; not adopted.)

ONNX Runtime's static quantization (QDQ, per-channel int8 weights, uint8 activations, calibrated on 24 photos of
`../shared/photos` at 512x384) of the bundled model, whole or encoder only, against the float model: the network's
time at 512x384 (median of 7 after a warm-up) and, on 16 other photos, the mean CIEDE2000 to the truth of each and
between the two.

    python -m experiments.quantization
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image
from skimage.color import deltaE_ciede2000

from benchmarks.common import PHOTOS, table
from colorizer.inference.color import rgb_to_lab
from colorizer.inference.photos import Colorizer
from colorizer.inference.session import BUNDLED_MODEL


class Photos(CalibrationDataReader):
    def __init__(self, inputs: list[np.ndarray]):
        self.remaining = iter(inputs)

    def get_next(self):
        x = next(self.remaining, None)
        return None if x is None else {"l": x}


def network_ms(session: ort.InferenceSession, x: np.ndarray) -> float:
    session.run(["ab"], {"l": x})
    times = []
    for _ in range(7):
        started = time.perf_counter()
        session.run(["ab"], {"l": x})
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> None:
    colorizer = Colorizer.load()
    photos = sorted(PHOTOS.glob("*.jpg"))[:40]
    pixels = [np.asarray(Image.open(p).convert("RGB").resize((512, 384))) for p in photos]
    inputs = [colorizer.network_input(p, 512) for p in pixels]
    float_model = ort.InferenceSession(str(BUNDLED_MODEL))
    rows = [["float (bundled)", f"{network_ms(float_model, inputs[0]):.0f}", "", "0"]]
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(onnx.load(str(BUNDLED_MODEL)), str(prepared), skip_symbolic_shape=True)
        names = [node.name for node in onnx.load(str(prepared)).graph.node]
        for label, exclude in (
            ("int8, whole network", []),
            ("int8, encoder only", [n for n in names if not n.startswith("/encoder/")]),
        ):
            path = Path(tmp) / "int8.onnx"
            quantize_static(
                str(prepared),
                str(path),
                Photos(inputs[:24]),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=exclude,
            )
            quantized = ort.InferenceSession(str(path))
            truth_float, truth_int8, between = [], [], []
            for px, x in zip(pixels[24:], inputs[24:], strict=True):
                ours = colorizer.recombine(px, float_model.run(["ab"], {"l": x})[0][0])
                theirs = colorizer.recombine(px, quantized.run(["ab"], {"l": x})[0][0])
                truth = rgb_to_lab(px)
                truth_float.append(deltaE_ciede2000(truth, rgb_to_lab(ours)).mean())
                truth_int8.append(deltaE_ciede2000(truth, rgb_to_lab(theirs)).mean())
                between.append(deltaE_ciede2000(rgb_to_lab(ours), rgb_to_lab(theirs)).mean())
            rows.append(
                [
                    label,
                    f"{network_ms(quantized, inputs[0]):.0f}",
                    f"{np.mean(truth_int8):.2f} (float {np.mean(truth_float):.2f})",
                    f"{np.mean(between):.2f}",
                ]
            )
    print(table(["model", "network ms, 512x384", "ΔE2000 to the truth", "ΔE2000 to the float model"], rows))


if __name__ == "__main__":
    main()
