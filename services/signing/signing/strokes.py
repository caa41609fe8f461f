"""Handwritten signature strokes: validation, PNG rendering and a stable hash.

Points use signature_pad's format and the coordinate space of the canvas in CSS
pixels: ``canvas_width`` and ``canvas_height`` are that canvas's CSS size, and
``device_pixel_ratio`` is kept for the record only.
"""

import hashlib
import io
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class SignatureLimits:
    """What a handwritten signature may look like before we accept it."""

    max_payload_bytes: int = 256 * 1024
    max_strokes: int = 64
    max_points_per_stroke: int = 2000
    max_points: int = 5000
    min_points: int = 10
    min_canvas_px: int = 50
    max_canvas_px: int = 4000
    canvas_tolerance_px: float = 2.0
    min_device_pixel_ratio: float = 0.5
    max_device_pixel_ratio: float = 8.0
    min_bbox_long_side_px: float = 20.0
    min_bbox_short_side_px: float = 10.0
    max_duration_ms: int = 120_000


LIMITS = SignatureLimits()
MAX_PAYLOAD_BYTES = LIMITS.max_payload_bytes

_MESSAGES = {
    "invalid_canvas_size": (
        f"签名画布尺寸须在 {LIMITS.min_canvas_px} 到 {LIMITS.max_canvas_px} 像素之间"
    ),
    "invalid_device_pixel_ratio": "设备像素比无效，请刷新页面后重新签名",
    "no_strokes": "请先手写签名",
    "too_many_strokes": f"签名笔画过多（最多 {LIMITS.max_strokes} 笔），请清除后重签",
    "empty_stroke": "签名数据不完整，请清除后重签",
    "too_many_points": "签名数据过多，请清除后重签",
    "too_few_points": "签名过短，请完整手写您的姓名",
    "not_finite": "签名数据无效，请清除后重签",
    "outside_canvas": "签名超出了签名区域，请清除后重签",
    "invalid_pressure": "签名笔压数据无效，请清除后重签",
    "negative_time": "签名时间数据无效，请清除后重签",
    "time_backwards": "签名时间数据无效，请清除后重签",
    "too_small": "签名太小，请在签名区域内完整手写您的姓名",
    "duration_too_long": "签名用时过长，请清除后在两分钟内完成签名",
}


class SignatureRejected(ValueError):
    """A signature breaking a limit: English code, field path, Chinese message."""

    def __init__(self, code: str, field: str, message: str | None = None) -> None:
        self.code = code
        self.field = field
        self.message = message or _MESSAGES[code]
        super().__init__(f"{code} at {field}: {self.message}")


class _Model(BaseModel):
    # Strict: "12" or true is not a coordinate; JSON integers still fill floats.
    model_config = ConfigDict(
        strict=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class Point(_Model):
    """One pen sample: CSS pixels on the canvas, milliseconds, pressure 0..1."""

    x: float
    y: float
    time: int = Field(description="Milliseconds, epoch or relative, >= 0.")
    pressure: float = 0.5


class Stroke(_Model):
    """One pen-down to pen-up; signature_pad's pen settings are kept, not used."""

    points: list[Point]
    dot_size: float | None = Field(default=None, alias="dotSize", ge=0, le=100, allow_inf_nan=False)
    min_width: float | None = Field(
        default=None, alias="minWidth", ge=0, le=100, allow_inf_nan=False
    )
    max_width: float | None = Field(
        default=None, alias="maxWidth", ge=0, le=100, allow_inf_nan=False
    )
    velocity_filter_weight: float | None = Field(
        default=None, alias="velocityFilterWeight", ge=0, le=100, allow_inf_nan=False
    )
    pen_color: str | None = Field(default=None, alias="penColor", max_length=64)
    composite_operation: str | None = Field(default=None, alias="compositeOperation", max_length=64)


class SignatureInput(_Model):
    """The strokes of one handwritten signature and the canvas they were drawn on."""

    strokes: list[Stroke]
    canvas_width: int
    canvas_height: int
    device_pixel_ratio: float = 1.0


# Validation ---------------------------------------------------------------------


def validate_signature(sig: SignatureInput) -> None:
    """Raise SignatureRejected naming the first limit the signature breaks."""
    _check_canvas(sig)
    _check_counts(sig.strokes)
    for i, stroke in enumerate(sig.strokes):
        _check_stroke(stroke, f"strokes[{i}]", sig)
    _check_extent(sig.strokes)
    _check_duration(sig.strokes)


def _check_canvas(sig: SignatureInput) -> None:
    for name in ("canvas_width", "canvas_height"):
        if not LIMITS.min_canvas_px <= getattr(sig, name) <= LIMITS.max_canvas_px:
            raise SignatureRejected("invalid_canvas_size", name)
    ratio = sig.device_pixel_ratio
    lowest, highest = LIMITS.min_device_pixel_ratio, LIMITS.max_device_pixel_ratio
    if not (math.isfinite(ratio) and lowest <= ratio <= highest):
        raise SignatureRejected("invalid_device_pixel_ratio", "device_pixel_ratio")


def _check_counts(strokes: list[Stroke]) -> None:
    if not strokes:
        raise SignatureRejected("no_strokes", "strokes")
    if len(strokes) > LIMITS.max_strokes:
        raise SignatureRejected("too_many_strokes", "strokes")
    for i, stroke in enumerate(strokes):
        if not stroke.points:
            raise SignatureRejected("empty_stroke", f"strokes[{i}].points")
        if len(stroke.points) > LIMITS.max_points_per_stroke:
            raise SignatureRejected("too_many_points", f"strokes[{i}].points")
    total = sum(len(stroke.points) for stroke in strokes)
    if total > LIMITS.max_points:
        raise SignatureRejected("too_many_points", "strokes")
    if total < LIMITS.min_points:
        raise SignatureRejected("too_few_points", "strokes")


def _check_stroke(stroke: Stroke, path: str, sig: SignatureInput) -> None:
    previous_time = 0
    for j, point in enumerate(stroke.points):
        where = f"{path}.points[{j}]"
        _check_point(point, where, sig)
        if j and point.time < previous_time:
            raise SignatureRejected("time_backwards", f"{where}.time")
        previous_time = point.time


def _check_point(point: Point, where: str, sig: SignatureInput) -> None:
    tolerance = LIMITS.canvas_tolerance_px
    for name, size in (("x", sig.canvas_width), ("y", sig.canvas_height)):
        value = getattr(point, name)
        if not math.isfinite(value):
            raise SignatureRejected("not_finite", f"{where}.{name}")
        if not -tolerance <= value <= size + tolerance:
            raise SignatureRejected("outside_canvas", f"{where}.{name}")
    if not math.isfinite(point.pressure):
        raise SignatureRejected("not_finite", f"{where}.pressure")
    if not 0 <= point.pressure <= 1:
        raise SignatureRejected("invalid_pressure", f"{where}.pressure")
    if point.time < 0:
        raise SignatureRejected("negative_time", f"{where}.time")


def _check_extent(strokes: list[Stroke]) -> None:
    left, top, right, bottom = _bounding_box(strokes)
    short_side, long_side = sorted((right - left, bottom - top))
    if long_side < LIMITS.min_bbox_long_side_px or short_side < LIMITS.min_bbox_short_side_px:
        raise SignatureRejected("too_small", "strokes")


def _check_duration(strokes: list[Stroke]) -> None:
    # Spread of all times, so per-stroke relative clocks are judged fairly too.
    times = [point.time for point in _all_points(strokes)]
    if max(times) - min(times) > LIMITS.max_duration_ms:
        raise SignatureRejected("duration_too_long", "strokes")


def _all_points(strokes: list[Stroke]) -> Iterator[Point]:
    for stroke in strokes:
        yield from stroke.points


def _bounding_box(strokes: list[Stroke]) -> tuple[float, float, float, float]:
    xs = [point.x for point in _all_points(strokes)]
    ys = [point.y for point in _all_points(strokes)]
    return min(xs), min(ys), max(xs), max(ys)


# Rendering ----------------------------------------------------------------------

_SUPERSAMPLE = 2
_MARGIN = 0.08  # of the shorter output side, on every side
_PEN_PX = 2.6  # nominal pen width in output pixels at a 200 px short side
_STEP_PX = 1.5  # curve sampling step in supersampled pixels
_VELOCITY_FILTER = 0.7  # weight of the previous speed, as signature_pad does

_Sample = tuple[float, float, float]  # x, y, radius in supersampled pixels


@dataclass(frozen=True)
class _Fit:
    scale: float
    dx: float
    dy: float

    def apply(self, point: Point) -> tuple[float, float]:
        return point.x * self.scale + self.dx, point.y * self.scale + self.dy


def render_png(sig: SignatureInput, *, width: int = 600, height: int = 200) -> bytes:
    """Draw validated strokes in black on transparent, fitted to width x height."""
    if width < 1 or height < 1:
        raise ValueError("width and height must be positive")
    size = (width * _SUPERSAMPLE, height * _SUPERSAMPLE)
    coverage = _ink_coverage(sig.strokes, size).reduce(_SUPERSAMPLE)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.putalpha(coverage)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _ink_coverage(strokes: list[Stroke], size: tuple[int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    fit = _fit(strokes, size)
    pen = _PEN_PX * min(size) / 200  # size is already supersampled
    for stroke in strokes:
        _draw_samples(draw, _smooth(_samples(stroke.points, fit, pen / 2)))
    return mask


def _fit(strokes: list[Stroke], size: tuple[int, int]) -> _Fit:
    left, top, right, bottom = _bounding_box(strokes)
    width, height = size
    margin = min(size) * _MARGIN
    spread_x, spread_y = max(right - left, 1.0), max(bottom - top, 1.0)
    scale = min((width - 2 * margin) / spread_x, (height - 2 * margin) / spread_y)
    dx = (width - (right - left) * scale) / 2 - left * scale
    dy = (height - (bottom - top) * scale) / 2 - top * scale
    return _Fit(scale, dx, dy)


def _samples(points: list[Point], fit: _Fit, radius: float) -> list[_Sample]:
    widths = _relative_widths(points)
    return [(*fit.apply(p), radius * w) for p, w in zip(points, widths, strict=True)]


def _relative_widths(points: list[Point]) -> list[float]:
    """Pen width factor per point, about 0.55..1.45: slower and firmer is wider."""
    speeds = [_speed(a, b) for a, b in itertools.pairwise(points)]
    velocity = speeds[0] if speeds else 0.0
    widths = []
    for point, speed in zip(points, [velocity, *speeds], strict=True):
        velocity = _VELOCITY_FILTER * velocity + (1 - _VELOCITY_FILTER) * speed
        widths.append(_width_factor(velocity, point.pressure))
    return widths


def _speed(a: Point, b: Point) -> float:
    """Canvas pixels per millisecond between two samples."""
    return math.hypot(b.x - a.x, b.y - a.y) / max(b.time - a.time, 1)


def _width_factor(velocity: float, pressure: float) -> float:
    return (0.6 + 0.8 / (1 + velocity)) * (0.85 + 0.3 * pressure)


def _smooth(samples: list[_Sample]) -> list[_Sample]:
    """Quadratic curves through the midpoints: smooth ink that never overshoots."""
    if len(samples) < 3:
        return samples
    mids = [_midpoint(a, b) for a, b in itertools.pairwise(samples)]
    smooth = [samples[0], mids[0]]
    for i in range(1, len(samples) - 1):
        smooth.extend(_quadratic(mids[i - 1], samples[i], mids[i]))
    smooth.append(samples[-1])
    return smooth


def _midpoint(a: _Sample, b: _Sample) -> _Sample:
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2


def _quadratic(start: _Sample, control: _Sample, end: _Sample) -> list[_Sample]:
    length = _distance(start, control) + _distance(control, end)
    steps = max(1, min(32, math.ceil(length / _STEP_PX)))
    return [_bezier(start, control, end, k / steps) for k in range(1, steps + 1)]


def _bezier(start: _Sample, control: _Sample, end: _Sample, t: float) -> _Sample:
    a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
    return (
        a * start[0] + b * control[0] + c * end[0],
        a * start[1] + b * control[1] + c * end[1],
        a * start[2] + b * control[2] + c * end[2],
    )


def _distance(a: _Sample, b: _Sample) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def _draw_samples(draw: ImageDraw.ImageDraw, samples: Sequence[_Sample]) -> None:
    _disc(draw, samples[0])
    for a, b in itertools.pairwise(samples):
        _segment(draw, a, b)
        _disc(draw, b)


def _segment(draw: ImageDraw.ImageDraw, a: _Sample, b: _Sample) -> None:
    """Fill the band between two discs, widths tapering from a to b."""
    length = _distance(a, b)
    if length == 0:
        return
    nx, ny = (a[1] - b[1]) / length, (b[0] - a[0]) / length
    corners = [
        (a[0] + nx * a[2], a[1] + ny * a[2]),
        (b[0] + nx * b[2], b[1] + ny * b[2]),
        (b[0] - nx * b[2], b[1] - ny * b[2]),
        (a[0] - nx * a[2], a[1] - ny * a[2]),
    ]
    draw.polygon(corners, fill=255)


def _disc(draw: ImageDraw.ImageDraw, sample: _Sample) -> None:
    x, y, r = sample
    draw.ellipse((x - r, y - r, x + r, y + r), fill=255)


# Hashing ------------------------------------------------------------------------


def strokes_sha256(sig: SignatureInput) -> str:
    """Hex SHA-256 of the signature's canonical JSON: sorted keys, no spaces."""
    data = sig.model_dump(mode="python", by_alias=True, exclude_none=True)
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
