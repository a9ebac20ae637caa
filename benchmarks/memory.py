"""Peak memory where hostile or merely large input could take it (issue 27's bounds), each case in a fresh process so
that its peak is its own (VmHWM of that process):

- the default working size (384) and the largest allowed (2048) on a 12-MP photo (4096, refused since, peaked at
  11.9 GB when it was allowed: too much to run beside other work);
- the key-frame pass over a long shot: 3,000 frames of 640x360 before a key frame at the end;
- 100 key frames naming one 12-MP JPEG;
- `serve` under 40 concurrent uploads of a 48-MP photo (the server process's peak; most get 503 before decoding).

    python -m benchmarks.memory        # writes its section of BENCHMARKS.md (also part of `make bench`)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import table, update_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Memory under large and hostile input"

PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

WORKING_SIZE = (
    PEAK
    + """
import sys, numpy as np
from colorizer.inference.photos import Colorizer
size = int(sys.argv[1])
c = Colorizer.load()
photo = np.random.default_rng(0).integers(0, 255, (3000, 4000), dtype=np.uint8)
c.colorize_array(photo, size=size)
print(peak_mb())
"""
)

LONG_SHOT = (
    PEAK
    + """
import sys, av, numpy as np
from PIL import Image
from colorizer.inference.photos import Colorizer
from colorizer.inference.keyframes import KeyFrameSpec
from colorizer.inference.video import _scan_key_frames
path, frames = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
scene = np.asarray(Image.fromarray(rng.integers(40, 220, (45, 80 + frames // 8), dtype=np.uint8)).resize(
    ((80 + frames // 8) * 8, 360), Image.BICUBIC))
with av.open(path, "w") as container:
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
    for t in range(frames):  # one slow pan: one shot
        gray = scene[:, t // 8 : t // 8 + 640]
        rgb = np.repeat(gray[..., None], 3, axis=2)
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
last = np.repeat(scene[:, (frames - 1) // 8 : (frames - 1) // 8 + 640][..., None], 3, axis=2).copy()
last[..., 0] = np.clip(last[..., 0].astype(int) + 60, 0, 255)  # a reddish key frame
Image.fromarray(last).save(path + ".key.png")
c = Colorizer.load()
before = peak_mb()
from pathlib import Path
keys = _scan_key_frames(av, c, Path(path), 384, KeyFrameSpec.from_mapping({frames - 1: path + ".key.png"}), False)
print(before, peak_mb(), len(keys.backward))
"""
)

MANY_KEYS = (
    PEAK
    + """
import sys, numpy as np
from PIL import Image
from colorizer.inference.keyframes import KeyFrameScan, KeyFrameSpec
from colorizer.inference.photos import Colorizer
path = sys.argv[1]
rng = np.random.default_rng(0)
Image.fromarray(rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)).save(path, quality=90)
specs = KeyFrameSpec.from_mapping({i * 10: path for i in range(100)})
c = Colorizer.load()
before = peak_mb()
scan = KeyFrameScan(specs, c, "film.mp4", 1 / 25, 384)
print(before, peak_mb(), len(scan.images))
"""
)

SERVER = (
    PEAK
    + """
import sys, threading, time, io, numpy as np, httpx, uvicorn
from PIL import Image
from colorizer.inference.photos import Colorizer
from colorizer.inference.serve import ServeLimits, create_app
buffer = io.BytesIO()
noise = np.random.default_rng(0).integers(0, 255, (600, 800), dtype=np.uint8)
Image.fromarray(noise).resize((8000, 6000)).save(buffer, "JPEG", quality=85)  # 48 MP
data = buffer.getvalue()
app = create_app(Colorizer.load(), ServeLimits(max_upload_mb=50, max_megapixels=50, max_queue=4))
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=8765, log_level="error"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.05)
idle = peak_mb()
codes = []
def post():
    with httpx.Client(timeout=600) as client:
        codes.append(client.post("http://127.0.0.1:8765/api/colorize", files={"file": ("big.jpg", data)}).status_code)
threads = [threading.Thread(target=post) for _ in range(40)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(idle, peak_mb(), codes.count(200), codes.count(503), len(data) / 1e6)
"""
)


def _run(script: str, *args: str) -> list[float]:
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return [float(value) for value in result.stdout.split()]


def run() -> str:
    rows = []
    for size in (384, 2048):
        (peak,) = _run(WORKING_SIZE, str(size))
        note = "the default" if size == 384 else "the largest allowed"
        rows.append([f"12-MP photo at working size {size}", note, f"{peak:.0f} MB"])
        print(rows[-1], file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for frames in (300, 3000):
            before, peak, carried = _run(LONG_SHOT, str(Path(tmp) / f"shot{frames}.mp4"), str(frames))
            rows.append(
                [
                    f"key-frame pass, {frames:,} frames of 640x360 before the key frame",
                    f"{int(carried):,} frames carried back, on disk",
                    f"{peak:.0f} MB ({peak - before:+.0f} over the loaded model)",
                ]
            )
            print(rows[-1], file=sys.stderr, flush=True)
        before, peak, images = _run(MANY_KEYS, str(Path(tmp) / "key.jpg"))
        rows.append(
            [
                "100 key frames naming one 12-MP JPEG",
                f"{int(images)} kept at the working size",
                f"{peak:.0f} MB ({peak - before:+.0f})",
            ]
        )
        print(rows[-1], file=sys.stderr, flush=True)
    idle, peak, served, refused, megabytes = _run(SERVER)
    rows.append(
        [
            f"`serve`, 40 concurrent uploads of a 48-MP JPEG ({megabytes:.1f} MB), --max-queue 4",
            f"{int(served)} served, {int(refused)} refused (503) before decoding",
            f"{peak:.0f} MB (idle {idle:.0f})",
        ]
    )
    print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(
        [
            HEADING,
            "",
            "`benchmarks/memory.py`: each case in a fresh process, its peak resident memory (VmHWM), the bundled "
            'model loaded. The bounds are the README\'s ("Bad input").',
            "",
            table(["case", "", "peak memory"], rows),
            "",
        ]
    )


if __name__ == "__main__":
    section = run()
    print(section)
    update_section(HEADING, section)
