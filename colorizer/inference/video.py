"""Colourise videos with steady colour and their sound kept (`pip install 'photo-colorizer[video]'`: PyAV, OpenCV).

    colorizer colorize old_film.mkv --out coloured/            # writes coloured/old_film.mp4
    Colorizer.load().colorize_video("old_film.mkv", "old_film_colour.mp4")

Frames stream through one at a time (memory stays bounded whatever the length): decoded in a background thread,
their lightness sent through the same network as photos at the working size, the chroma made consistent over time
(`temporal.py`), recombined with each frame's full-resolution lightness and encoded as H.264 in MP4. Every frame
keeps its timestamp, so the output has the input's frame rate (constant or variable), frame count and duration;
audio streams are copied packet for packet (re-encoded to AAC only where MP4 cannot hold their codec). Key frames
(`keyframes.py`: a frame coloured by the user, carried through its shot) add a first pass over the lightness up to
the last key frame; `export_frames` takes frames out as photos to colour on the page. Frame sizes
that 4:2:0 chroma cannot hold (odd widths or heights) are encoded as 4:4:4 at the exact size; a display rotation is
copied to the output and the network sees the frame upright. The output is written beside its final name and moved
there only when complete: a crash, a damaged frame or Ctrl-C leaves nothing under the final name.

Said, not dropped: a second video stream (only the first is colourised), frames that change size mid-stream (scaled
to the first frame's size), a hole of over a second in the frames' times (frames lost to damage), and an MP4/MOV
that ends before the frames its index lists (a truncated download): that is an error unless `keep_partial`, which
keeps what could be read and says so.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from colorizer.atomic import atomic_path
from colorizer.images import atomic_save
from colorizer.inference.color import colorize_lightness, denormalize_l, lightness
from colorizer.inference.keyframes import (
    FrameSpec,
    KeyFrameError,
    KeyFrames,
    KeyFrameScan,
    KeyFrameSpec,
)
from colorizer.inference.options import DEFAULT_SMOOTHING
from colorizer.inference.temporal import TemporalSmoother
from colorizer.progress import progress_bar

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".ogv")
EXACT_INDEX = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}  # containers whose frame count is an index, not a guess
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}  # audio codecs the MP4 muxer takes as they are
STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
MISSING_SECONDS = 1.0  # a gap between frames longer than this (and than 10 frame intervals) is said
CRF = 18  # x264 constant quality: visually lossless for most footage


class VideoError(Exception):
    """A video that cannot be colourised; the message names the file (and the frame) and says why."""


@dataclass
class VideoResult:
    frames: int
    seconds: float
    scene_cuts: int
    audio_streams: int


def _av():
    try:
        import av
    except ImportError:
        raise VideoError("videos need the video extra: pip install 'photo-colorizer[video]'") from None
    return av


def _frames(av, container, stream, audio: list, source: Path, sink: queue.Queue, stop: threading.Event) -> None:
    """Reader thread: demux and decode, putting ("video", frame) and ("audio", packet) in order, then ("end", count)
    or ("error", exception). Stops early when `stop` is set (the consumer gave up: the container is about to close)."""
    decoded = 0
    try:
        for packet in container.demux(stream, *audio):
            if stop.is_set():
                return
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    sink.put(("audio", packet))
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as err:
                raise VideoError(f"{source}: frame {decoded + 1} could not be decoded ({err})") from None
            for frame in frames:
                decoded += 1
                sink.put(("video", frame))
        sink.put(("end", decoded))
    except BaseException as err:  # handed to the consumer, which re-raises it
        sink.put(("error", err))


def _read(av, container, stream, audio: list, source: Path) -> Iterator[tuple[str, object]]:
    """What the reader thread decodes, in order. However the consumer leaves (the end, an error, Ctrl-C), the reader
    is stopped and joined before this returns, so the container is never closed under it."""
    sink: queue.Queue = queue.Queue(maxsize=8)  # bounded: decoding runs at most a few frames ahead
    stop = threading.Event()
    reader = threading.Thread(target=_frames, args=(av, container, stream, audio, source, sink, stop), daemon=True)
    reader.start()
    try:
        while True:
            kind, item = sink.get()
            if kind == "error":
                raise item
            yield kind, item
            if kind == "end":
                return
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue, until it sees the flag
            with contextlib.suppress(queue.Empty):
                sink.get(timeout=0.05)


def _open_output(av, path: Path, stream, audio: list, first_frame, source: Path):
    """The MP4 container and its streams: H.264 at the first frame's size and rotation, audio copied or AAC."""
    output = av.open(str(path), "w", format="mp4")
    video = output.add_stream("libx264", rate=_frame_rate(stream))
    width, height = first_frame.width, first_frame.height
    video.width, video.height = width, height
    video.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"  # 4:2:0 needs even sides
    video.time_base = stream.time_base
    video.codec_context.time_base = stream.time_base
    video.options = {"crf": str(CRF), "preset": "medium"}
    if _rotation(first_frame):
        video.set_display_rotation(_rotation(first_frame))
    audio_out = {}
    for track in audio:
        codec = track.codec_context.codec.canonical_name  # the format ("mp3"), not the decoder ("mp3float")
        if codec in MP4_AUDIO:
            audio_out[track.index] = (output.add_stream_from_template(track), None)
        else:
            print(
                f"  {source}: audio stream {track.index} ({codec}) cannot go into MP4 as it is; re-encoding it as AAC",
                file=sys.stderr,
            )
            encoded = output.add_stream("aac", rate=track.rate)
            # PCM in MKV/AVI often carries a layout with no named channels ("1 channels"), which the AAC encoder
            # refuses: use the standard layout for the channel count.
            layout = STANDARD_LAYOUTS.get(track.codec_context.channels, "stereo")
            encoded.layout = layout
            audio_out[track.index] = (encoded, av.AudioResampler(format="fltp", layout=layout, rate=track.rate))
    return output, video, audio_out


def _frame_rate(stream):
    """The stream's frame rate as the container states it, guessed where it does not; 25 where neither can."""
    return stream.average_rate or stream.guessed_rate or 25


def _rotation(frame) -> int:
    """The display rotation a frame carries, in degrees counter-clockwise: 0, 90, 180 or 270."""
    return int(round((getattr(frame, "rotation", 0) or 0) / 90)) % 4 * 90


def colorize_video(
    colorizer,
    source: str | Path,
    destination: str | Path,
    size: int | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    overwrite: bool = False,
    progress: bool = True,
    keep_partial: bool = False,
    key_frames=None,
) -> VideoResult:
    """Colourise `source` into `destination` (H.264 in MP4). Raises VideoError naming the file and frame.

    keep_partial: a file that ends early (truncated) still gives the frames it holds, with a note, instead of an
    error. key_frames: {frame: image or hints file}, frame an index or "12.5s" (`keyframes.py`): each key frame's
    colour is carried through its shot. size: the network's working size (longer side), by default the model's."""
    av = _av()
    source, destination, size = Path(source), Path(destination), _working_size(colorizer, size)
    if destination.exists() and not overwrite:
        raise VideoError(f"{destination} exists (pass --overwrite to replace it)")
    started = time.perf_counter()
    try:
        specs = KeyFrameSpec.from_mapping(key_frames or {})
        keys = _scan_key_frames(av, colorizer, source, size, specs, progress) if specs else None
        result = _colorize_video(av, colorizer, source, destination, size, smoothing, progress, keep_partial, keys)
        result.seconds = time.perf_counter() - started  # both passes
        return result
    except KeyFrameError as err:
        raise VideoError(str(err)) from None
    except (OSError, av.error.FFmpegError) as err:
        if isinstance(err, av.error.FFmpegError) and str(source) in str(err):
            raise VideoError(f"{source}: {err}") from None
        raise VideoError(f"could not write {destination}: {err}") from None


def _open_video(av, source: Path):
    """The container and its first video stream (decoded in threads); VideoError when it has none or cannot be
    read."""
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise VideoError(f"{source}: not a video we can read ({err})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{source}: has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _upright_input(colorizer, frame, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A decoded frame -> its RGB pixels as stored, the network input of the frame turned upright, its rotation."""
    rgb = frame.to_ndarray(format="rgb24")  # (H, W, 3) uint8; only its lightness is used
    rotation = _rotation(frame)
    return rgb, colorizer.network_input(np.rot90(rgb, rotation // 90) if rotation else rgb, size), rotation


def _frame_seconds(frame, index: int, stream, first_pts: int | None) -> float:
    """When a frame is shown, from the stream's first frame (from the frame rate where timestamps are missing)."""
    if frame.pts is None or first_pts is None:
        return index / float(_frame_rate(stream))
    return float((frame.pts - first_pts) * stream.time_base)


def _timed_frames(av, container, stream, source: Path) -> Iterator[tuple[int, float, object]]:
    """(index, seconds from the first frame, frame) for each decoded video frame; the reader stops when we leave."""
    with contextlib.closing(_read(av, container, stream, [], source)) as decoded:
        first_pts = None
        for index, (kind, item) in enumerate(decoded):
            if kind != "video":
                return
            first_pts = item.pts if index == 0 else first_pts
            yield index, _frame_seconds(item, index, stream, first_pts), item


def _scan_key_frames(av, colorizer, source: Path, size: int, specs: list[KeyFrameSpec], progress: bool) -> KeyFrames:
    """The first pass for key frames: decode up to the last key frame (lightness only) and carry each key frame's
    colour backwards through its shot (`keyframes.py`)."""
    container, stream = _open_video(av, source)
    with container:
        scan = KeyFrameScan(specs, colorizer, str(source), 1 / float(_frame_rate(stream)), size)
        bar = progress_bar(desc=f"{source.name}: key frames", unit="frame", disable=not progress)
        with bar, contextlib.closing(_timed_frames(av, container, stream, source)) as frames:
            for index, seconds, item in frames:
                _, network_input, rotation = _upright_input(colorizer, item, size)
                upright = (item.height, item.width) if rotation in (90, 270) else (item.width, item.height)
                bar.update()
                if scan.add(index, seconds, network_input, upright):
                    break
        return scan.finish()


def _colorize_video(
    av, colorizer, source, destination, size, smoothing, progress, keep_partial, keys: KeyFrames | None
) -> VideoResult:
    container, stream = _open_video(av, source)
    with container:
        if len(container.streams.video) > 1:
            print(
                f"  {source}: has {len(container.streams.video)} video streams; only the first is colourised",
                file=sys.stderr,
            )
        exact_count = bool(EXACT_INDEX & set(container.format.name.split(",")))
        audio = list(container.streams.audio)
        declared = stream.frames
        smoother = TemporalSmoother(smoothing)
        started = time.perf_counter()
        destination.parent.mkdir(parents=True, exist_ok=True)
        bar = progress_bar(total=declared or None, desc=source.name, unit="frame", disable=not progress)
        reading = contextlib.closing(_read(av, container, stream, audio, source))  # the reader stops before we leave
        with bar, atomic_path(destination) as tmp, reading as frames:
            output, video, audio_out, held_audio = None, None, {}, []
            written, last_pts, resized, gaps = 0, None, False, 0
            for kind, item in frames:
                if kind == "end":
                    if declared and item < declared and exact_count:  # the index lists frames the file lacks
                        message = (
                            f"{source}: damaged or truncated: its index lists {declared} frames, only {item} could "
                            "be read"
                        )
                        if not keep_partial:
                            raise VideoError(f"{message} (--keep-partial keeps them)")
                        tqdm.write(f"  {message}; kept those {item} (--keep-partial)", file=sys.stderr)
                    elif declared and item < declared:  # a clean end: the header over-counts (seen in real AVIs)
                        print(
                            f"  {source}: its header announces {declared} frames, the stream holds {item}; "
                            f"colourised all {item}",
                            file=sys.stderr,
                        )
                    break
                if kind == "audio":
                    if output is None:
                        held_audio.append(item)  # audio before the first frame: muxed once the output exists
                    else:
                        _mux_audio(output, audio_out, item)
                    continue
                if output is None:
                    output, video, audio_out = _open_output(av, tmp, stream, audio, item, source)
                    for packet in held_audio:
                        _mux_audio(output, audio_out, packet)
                    held_audio.clear()
                coloured = _colorize_frame(colorizer, item, size, smoother, keys, written)
                if (item.width, item.height) != (video.width, video.height):
                    if not resized:
                        tqdm.write(
                            f"  {source}: frame {written + 1} changes size from {video.width}x{video.height} to "
                            f"{item.width}x{item.height}; such frames are scaled to {video.width}x{video.height}",
                            file=sys.stderr,
                        )
                    resized = True
                    coloured = np.asarray(Image.fromarray(coloured).resize((video.width, video.height), Image.BILINEAR))
                frame = av.VideoFrame.from_ndarray(coloured, format="rgb24")
                if last_pts is not None and item.pts is not None:  # a hole in time: frames lost to damage?
                    gap = float((item.pts - last_pts) * stream.time_base)
                    if gap > max(MISSING_SECONDS, 10 / float(_frame_rate(stream))) and gaps < 5:
                        gaps += 1
                        start = float(last_pts * stream.time_base)
                        tqdm.write(
                            f"  {source}: no frames between {start:.2f} s and {start + gap:.2f} s (damaged there?); "
                            "the output holds the frames that could be read",
                            file=sys.stderr,
                        )
                last_pts = _next_pts(item, written, stream, last_pts)
                frame.pts, frame.time_base = last_pts, stream.time_base
                for packet in video.encode(frame.reformat(format=video.pix_fmt)):
                    output.mux(packet)
                written += 1
                bar.update()
            if output is None:
                raise VideoError(f"{source}: its video stream holds no frames")
            for packet in video.encode(None):
                output.mux(packet)
            for encoded, resampler in audio_out.values():
                if resampler is not None:
                    for packet in encoded.encode(None):
                        output.mux(packet)
            output.close()
    return VideoResult(written, time.perf_counter() - started, smoother.cuts, len(audio))


def _next_pts(frame, index: int, stream, last: int | None) -> int:
    """The frame's own timestamp (keeps variable frame rates), made strictly increasing; from the rate if absent."""
    pts = frame.pts
    if pts is None:
        pts = round(index / (_frame_rate(stream) * stream.time_base))
    return pts if last is None or pts > last else last + 1


def _mux_audio(output, audio_out: dict, packet) -> None:
    encoded, resampler = audio_out[packet.stream.index]
    if resampler is None:
        packet.stream = encoded
        output.mux(packet)
        return
    for frame in packet.decode():
        for resampled in resampler.resample(frame):
            for out_packet in encoded.encode(resampled):
                output.mux(out_packet)


def _colorize_frame(
    colorizer, frame, size: int, smoother: TemporalSmoother, keys: KeyFrames | None = None, index: int = 0
) -> np.ndarray:
    """One decoded frame (the `index`-th) -> its colourised pixels (H, W, 3) uint8, chroma consistent with the
    frames before and steered by the key frames that reach it.

    A frame shown rotated is turned upright for the network (it learned from upright photos) and its chroma turned
    back, so the output frame is stored like the input one and carries the same display rotation.
    """
    rgb, network_input, rotation = _upright_input(colorizer, frame, size)
    small_l = denormalize_l(network_input[0, 0])  # steering and smoothing see the lightness the network saw
    if keys is None:
        ab = smoother(small_l, colorizer.predict_ab(network_input)[0])  # (2, h, w)
    else:
        ab, features = colorizer.predict_with_features(network_input)  # features: to match the key frames by
        warp = smoother.motion(small_l)
        ab = smoother.blend(small_l, ab[0], warp)  # the model's colour made steady, then steered to the key frames'
        ab = keys.steer(index, small_l, ab, None if features is None else features[0], warp)
    if rotation:
        ab = np.ascontiguousarray(np.rot90(ab, -(rotation // 90), axes=(1, 2)))
    return colorize_lightness(lightness(rgb), ab)


def frame_path(folder: Path, source: Path, index: int) -> Path:
    """Where `--frame` writes frame `index` of `source`: FOLDER/NAME.frame-INDEX.png."""
    return folder / f"{source.stem}.frame-{index}.png"


def export_frames(
    colorizer, source: str | Path, folder: str | Path, frames: list, size: int | None = None, overwrite: bool = False
) -> tuple[list[Path], list[str]]:
    """Write the named frames of a video (indices or "12.5s"), each coloured by the model as a photo, upright, as
    FOLDER/NAME.frame-N.png: a frame to colour or give hints on the page, then to bring back with --key-frame.
    Returns (written, skipped because they exist); raises VideoError naming a frame beyond the end."""
    av = _av()
    source, folder, size = Path(source), Path(folder), _working_size(colorizer, size)
    wanted = [spec if isinstance(spec, FrameSpec) else FrameSpec.parse(str(spec)) for spec in frames]
    written, skipped = [], []
    container, stream = _open_video(av, source)
    frames = 0
    with container, contextlib.closing(_timed_frames(av, container, stream, source)) as decoded:
        interval = 1 / float(_frame_rate(stream))
        for index, seconds, item in decoded:
            frames = index + 1
            here = [spec for spec in wanted if spec.matches(index, seconds, interval)]
            wanted = [spec for spec in wanted if spec not in here]
            if here:
                destination = frame_path(folder, source, index)
                if destination.exists() and not overwrite:
                    skipped.append(f"{source} frame {index}: {destination} exists (pass --overwrite to replace it)")
                else:
                    rgb = item.to_ndarray(format="rgb24")
                    rotation = _rotation(item)
                    upright = np.ascontiguousarray(np.rot90(rgb, rotation // 90)) if rotation else rgb
                    try:
                        folder.mkdir(parents=True, exist_ok=True)
                        atomic_save(Image.fromarray(colorizer.colorize_array(upright, size)), destination, "PNG")
                    except OSError as err:  # a full disk, a read-only folder: named, with the file
                        raise VideoError(f"{source}: frame {index}: could not write {destination} ({err})") from None
                    written.append(destination)
            if not wanted:
                break
    if wanted:
        names = ", ".join(f"frame {spec}" for spec in wanted)
        raise VideoError(f"{source}: {names}: beyond the video's end (it has {frames} frames, 0 to {frames - 1})")
    return written, skipped


def _working_size(colorizer, size) -> int:
    from colorizer.inference.photos import check_working_size

    try:
        return check_working_size(size) or colorizer.working_size
    except ValueError as err:
        raise VideoError(str(err)) from None


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS
