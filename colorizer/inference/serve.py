"""`colorizer serve`: a local web page and HTTP API to colourise photos, offline, on your own machine.

    colorizer serve                       # http://127.0.0.1:8000 ; API docs at /docs (OpenAPI)
    curl -F file=@old.jpg 'http://127.0.0.1:8000/api/colorize?format=png' -o coloured.png

Built on FastAPI/uvicorn. The model runs one photo at a time; requests beyond it wait in a bounded queue, and one
that finds the queue full is refused with 503 and Retry-After. Uploads are read into memory, limited in bytes and
megapixels, never written anywhere by us, and nothing the client sends is used as a server path.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import json
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image
from starlette.exceptions import HTTPException as StarletteHTTPException

from colorizer.images import ImageReadError, open_image, to_photo
from colorizer.inference import DEFAULT_REACH
from colorizer.inference.formats import SAVE_OPTIONS, size_problem
from colorizer.inference.hints import MAX_HINTS_BYTES, HintError
from colorizer.inference.photos import Colorizer, ReferenceError
from colorizer.inference.reference import Reference

PAGE = Path(__file__).parent / "static" / "index.html"
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass
class ServeLimits:
    max_upload_mb: float = 50.0  # request bodies above this are refused (413)
    max_megapixels: float = 50.0  # decoded images above this are refused (413)
    max_queue: int = 4  # requests allowed to wait for the model; more are refused (503)


class InferenceQueue:
    """The model runs one request at a time; up to `max_queue` more may wait; beyond that, 503 at once."""

    def __init__(self, max_queue: int):
        self.slots = threading.BoundedSemaphore(max_queue + 1)  # the one running + the ones waiting
        self.model_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._occupied = 0

    @property
    def occupied(self) -> int:
        """Requests running or waiting now."""
        return self._occupied

    @contextlib.contextmanager
    def slot(self):
        """A place in the queue for one request, taken before its upload is decoded: when the queue is full the
        request is refused (503) without decoding anything."""
        if not self.slots.acquire(blocking=False):
            raise HTTPException(503, "the colorizer is busy; try again in a moment", {"Retry-After": "2"})
        with self._count_lock:
            self._occupied += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._occupied -= 1
            self.slots.release()

    def run_in_slot(self, function, *args):
        """`function` with the model to itself (call within `slot()`)."""
        with self.model_lock:
            return function(*args)

    def run(self, function, *args):
        with self.slot():
            return self.run_in_slot(function, *args)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI wrapper around the app: a request body over `max_bytes` is refused with 413 before it is stored anywhere.

    A Content-Length over the limit is answered at once, without reading the body; a body sent without one (chunked)
    is counted as it arrives and cut off as soon as it passes the limit, so the multipart parser never spools more
    than the limit to disk. Everything else (`state`, routes) is the wrapped app's.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def __getattr__(self, name: str):
        return getattr(self.app, name)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": f"the upload is larger than {self.max_bytes / 1e6:g} MB"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._refuse(send)
        received, started, too_large = 0, False, False

        async def counted_receive():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            if too_large:  # the app's answer to a body cut short (FastAPI: 400) gives way to the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counted_receive, tracked_send)
        if too_large and not started:
            await self._refuse(send)


async def read_upload(upload: UploadFile, limits: ServeLimits, name: str) -> bytes:
    """An uploaded file's bytes, within the size limit (413 naming it)."""
    max_bytes = int(limits.max_upload_mb * 1_000_000)
    data = await upload.read(max_bytes + 1)
    await upload.close()
    if len(data) > max_bytes:
        raise HTTPException(413, f"{name} is larger than {limits.max_upload_mb:g} MB")
    return data


class ReferenceCache:
    """The last few reference photos, prepared (decoded, at the working size, through the network): the page sends
    the same reference with every change of a photo's hints, and preparing it again would cost a network run."""

    def __init__(self, colorizer: Colorizer, limits: ServeLimits, entries: int = 4):
        self.colorizer, self.limits, self.entries = colorizer, limits, entries
        self.ready: OrderedDict[tuple[str, int], Reference] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, data: bytes, size: int) -> Reference:
        """Run in the model's queue. HTTPException 415/413/422 naming the reference when it cannot be used."""
        key = (hashlib.sha256(data).hexdigest(), size)
        with self.lock:
            if key in self.ready:
                self.ready.move_to_end(key)
                return self.ready[key]
        try:
            photo = decode_upload(data, self.limits)
            ready = self.colorizer.reference(photo, size, name="reference")
        except HTTPException as err:
            raise HTTPException(err.status_code, f"reference: {err.detail}") from None
        except ReferenceError as err:
            raise HTTPException(422, str(err)) from None
        with self.lock:
            self.ready[key] = ready
            while len(self.ready) > self.entries:
                self.ready.popitem(last=False)
        return ready


def decode_upload(data: bytes, limits: ServeLimits):
    """Bytes -> Photo, or an HTTPException: 415 for what is not an image, 413 for too many pixels, 422 corrupt."""
    if not data:
        raise HTTPException(422, "the upload is empty")
    try:
        image = open_image(io.BytesIO(data), max_pixels=int(limits.max_megapixels * 1_000_000))
    except ImageReadError as err:
        message = str(err)
        if "too large" in message:
            raise HTTPException(413, f"image {message}") from None
        if "not a readable image" in message:
            raise HTTPException(415, "this file is not an image we can read (JPEG, PNG, WebP, BMP, TIFF)") from None
        raise HTTPException(422, f"the image is damaged: {message}") from None
    return to_photo(image)


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpeg" and image.mode == "RGBA":
        image = image.convert("RGB")  # JPEG has no alpha; ask for png or webp to keep it
    image.save(buffer, format=fmt.upper(), **SAVE_OPTIONS[fmt])
    return buffer.getvalue()


def create_app(colorizer: Colorizer, limits: ServeLimits | None = None) -> FastAPI:
    """The web app: GET / (the page), GET /api/info, POST /api/colorize. OpenAPI docs at /docs."""
    limits = limits or ServeLimits()
    queue = InferenceQueue(limits.max_queue)
    app = FastAPI(
        title="colorizer",
        summary="Colourise grayscale photos, at their full resolution.",
        docs_url=None,  # FastAPI's own docs pages load their scripts from a CDN: /docs here is local and offline
        redoc_url=None,
    )
    app.state.queue, app.state.limits = queue, limits

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        """422 naming the field and what is wrong, without echoing what was sent (a file part's internals)."""
        problems = [
            {"loc": list(problem.get("loc", ())), "msg": problem.get("msg", ""), "type": problem.get("type", "")}
            for problem in error.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)  # the parser raises Starlette's own, not FastAPI's subclass
    async def form_field_too_large(request: Request, error: StarletteHTTPException):
        """The multipart parser's own refusal of a field over 1 MiB (a 400 in its words) as the hints limit says it,
        the same as a hints file's."""
        detail = str(error.detail)
        if error.status_code == 400 and "maximum size" in detail and "KB" in detail:
            detail = f"the hints field is larger than {MAX_HINTS_BYTES:,} bytes (1 MB), the most hints may be"
            return JSONResponse({"detail": detail}, status_code=413)
        return await http_exception_handler(request, error)

    references = ReferenceCache(colorizer, limits)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> str:
        return api_docs_page(app.openapi())

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return PAGE.read_text()

    @app.get("/api/info")
    def info() -> dict:
        """What the page needs to know: limits, defaults, and whether the model has a colour temperature."""
        return {
            "max_upload_mb": limits.max_upload_mb,
            "max_megapixels": limits.max_megapixels,
            "default_size": colorizer.working_size,
            "temperature": colorizer.session.default_temperature,
            "model": colorizer.metadata.get("model_config", {}),
            "hints": True,  # every model follows hints: they are spread along objects
            "default_reach": DEFAULT_REACH,
            "hint_branch": colorizer.takes_hints,
        }

    @app.post("/api/colorize", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})
    async def colorize(
        request: Request,
        file: Annotated[UploadFile, File(description="a photo: JPEG, PNG, WebP, BMP or TIFF")],
        size: Annotated[
            int | None,
            Query(ge=64, le=2048, description="working size of the network (longer side; default: the model's)"),
        ] = None,
        temperature: Annotated[
            float | None, Query(gt=0, le=2, allow_inf_nan=False, description="classification: lower = vivid")
        ] = None,
        format: Annotated[str, Query(pattern="^(png|jpeg|webp)$", description="format of the result")] = "png",
        saturation: Annotated[
            float,
            Query(
                ge=0,
                le=4,
                allow_inf_nan=False,
                description="scale the colour: 1 = the model's, 0 = gray, 1.3 = more vivid",
            ),
        ] = 1.0,
        reach: Annotated[
            float | None,
            Query(
                ge=0,
                le=1,
                allow_inf_nan=False,
                description="how far a hint's colour goes beyond the object under it, to what looks alike: 0 = that "
                f"object only, 1 = everything alike in the photo (default: {DEFAULT_REACH}; a hint's own wins)",
            ),
        ] = None,
        hints: Annotated[
            str | None,
            Form(
                description='colour hints, JSON: points [{"x": 412, "y": 96, "color": "#b0302a", "radius": 8}] and '
                'strokes [{"points": [[10, 20], [40, 25]], "color": "#2a50b0", "radius": 6}]'
            ),
        ] = None,
        reference: Annotated[
            UploadFile | None,
            File(description="a colour photo to take colours from where the content matches (same limits)"),
        ] = None,
    ) -> Response:
        """Colourise one photo. The result has the upload's pixel size; its alpha is kept by png and webp.
        Hints are in the photo's displayed pixels and spread along their objects; a bad one is a 422 naming it.
        With a reference photo, the photo takes its colours where their content matches."""
        max_bytes = int(limits.max_upload_mb * 1_000_000)
        uploads = 2 if reference is not None else 1
        if int(request.headers.get("content-length", 0)) > uploads * max_bytes + MAX_HINTS_BYTES + 100_000:
            raise HTTPException(413, f"the upload is larger than {limits.max_upload_mb:g} MB")
        size = size or colorizer.working_size
        with queue.slot():  # a full queue refuses (503) before anything is read or decoded
            data = await read_upload(file, limits, "the upload")
            reference_data = await read_upload(reference, limits, "reference") if reference is not None else None
            photo = await run_in_threadpool(decode_upload, data, limits)  # off the event loop
            del data
            problem = size_problem(format, *photo.size)
            if problem:
                raise HTTPException(422, f"format={format}: {problem}")
            try:
                checked = colorizer.hints_for(hints, *photo.size) if hints else []
            except HintError as err:
                raise HTTPException(422, str(err)) from None

            def work() -> bytes:
                ready = references.get(reference_data, size) if reference_data is not None else None
                return encode(colorizer.colorize(photo, size, temperature, checked, saturation, ready, reach), format)

            body = await run_in_threadpool(queue.run_in_slot, work)
        return Response(body, media_type=MEDIA_TYPES[format])

    # The form's hints field and a reference photo ride along with the photo: the body may hold them too.
    return BodyLimit(app, 2 * int(limits.max_upload_mb * 1_000_000) + MAX_HINTS_BYTES + 100_000)


def api_docs_page(schema: dict) -> str:
    """The HTTP API described from its OpenAPI schema, as one self-contained page (no script, nothing remote)."""
    out = [
        "<!doctype html><meta charset=utf-8><title>colorizer API</title>",
        "<style>body{font:15px/1.4 system-ui,sans-serif;max-width:900px;margin:1rem auto;padding:0 1rem}"
        "code{background:#f3f3f3;padding:0 .2em}td,th{border-bottom:1px solid #ddd;padding:.2rem .5rem;"
        "text-align:left;vertical-align:top}table{border-collapse:collapse}</style>",
        f"<h1>{html.escape(schema['info']['title'])} HTTP API</h1>",
        "<p>The machine-readable description is <a href='/openapi.json'>/openapi.json</a>.</p>",
    ]
    components = schema.get("components", {}).get("schemas", {})
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            out.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>")
            out.append(f"<p>{html.escape(operation.get('description') or operation.get('summary') or '')}</p>")
            rows = [
                (p["name"], p["in"], p.get("required", False), p.get("description", ""))
                for p in operation.get("parameters", [])
            ]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                body = components.get(ref.rsplit("/", 1)[-1], {})
                for name, field in body.get("properties", {}).items():
                    rows.append((name, "form", name in body.get("required", []), field.get("description", "")))
            if rows:
                out.append("<table><tr><th>name</th><th>in</th><th>required</th><th>what</th></tr>")
                out += [
                    f"<tr><td><code>{html.escape(n)}</code></td><td>{w}</td><td>{'yes' if r else ''}</td>"
                    f"<td>{html.escape(d)}</td></tr>"
                    for n, w, r, d in rows
                ]
                out.append("</table>")
    return "\n".join(out)


def serve(colorizer: Colorizer, host: str, port: int, limits: ServeLimits) -> None:
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"colorizer: warning: listening on {host} makes the page and API reachable from other machines on the "
            "network, without any authentication; use --host 127.0.0.1 to keep it on this machine",
            file=sys.stderr,
        )
    print(f"colorizer: open http://{host}:{port}/ (API docs: http://{host}:{port}/docs); Ctrl-C stops")
    uvicorn.run(create_app(colorizer, limits), host=host, port=port, log_level="warning")
