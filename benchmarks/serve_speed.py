"""`colorizer serve` from the client's side: upload a 12-megapixel photo, wait for the colourised PNG/JPEG.

python -m benchmarks.serve_speed
"""

from __future__ import annotations

import io
import socket
import threading
import time

import httpx
import uvicorn
from PIL import Image

from benchmarks.common import PHOTOS, median_time, table
from colorizer.inference.photos import Colorizer
from colorizer.inference.serve import ServeLimits, create_app


def run() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Colorizer.load(), ServeLimits()), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    photo = Image.open(PHOTOS / "mate-TwoWings.jpg").convert("L").resize((4000, 3000), Image.LANCZOS)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=92)
    upload = buffer.getvalue()
    rows = []
    for fmt in ("jpeg", "png"):

        def request(fmt=fmt):
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/colorize?format={fmt}", files={"file": ("photo.jpg", upload)}, timeout=120
            )
            assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).size == (4000, 3000)

        rows.append(
            [f"12-MP JPEG upload ({len(upload) / 1e6:.1f} MB) -> {fmt} result", f"{median_time(request):.2f} s"]
        )
    server.should_exit = True
    return "\n".join(
        [
            "## Web app (`colorizer serve`, bundled model, CPU)",
            "",
            "Upload to complete response over loopback, median of 3:",
            "",
            table(["request", "time"], rows),
            "",
        ]
    )


if __name__ == "__main__":
    print(run())
