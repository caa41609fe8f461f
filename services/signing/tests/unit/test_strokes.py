import copy
import dataclasses
import io
import math
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError
from signing.strokes import (
    LIMITS,
    MAX_PAYLOAD_BYTES,
    SignatureInput,
    SignatureRejected,
    render_png,
    strokes_sha256,
    validate_signature,
)

Payload = dict[str, Any]

SAMPLE_MS = 16  # a pointer event about every frame


def cursive_stroke(
    left: float, base: float, loops: int, t0: int, *, slant: float = 0.25
) -> list[dict[str, float]]:
    """Loops like a joined-up 'llll', as a finger would draw them."""
    count = loops * 24
    points = []
    for i in range(count):
        phase = 2 * math.pi * loops * i / count
        height = 38 + 10 * math.sin(phase / 3)
        rise = height * (1 - math.cos(phase)) / 2
        x = left + 60 * loops * i / count + 16 * math.sin(phase) + slant * rise
        points.append(
            {
                "x": round(x, 2),
                "y": round(base - rise, 2),
                "time": t0 + SAMPLE_MS * i,
                "pressure": round(0.5 + 0.2 * math.sin(phase * 0.7), 3),
            }
        )
    return points


def underline(left: float, right: float, base: float, t0: int) -> list[dict]:
    count = 30
    return [
        {
            "x": round(left + (right - left) * i / (count - 1), 2),
            "y": round(base + 6 * math.sin(i / 6), 2),
            "time": t0 + 10 * i,
        }
        for i in range(count)
    ]


def signature_payload() -> Payload:
    """What a browser with signature_pad would send for a two-word signature."""
    pen = {"penColor": "rgb(0, 0, 0)", "dotSize": 0, "minWidth": 0.5}
    return {
        "strokes": [
            {"points": cursive_stroke(40, 150, 5, 1_700_000_000_000), **pen},
            {"points": cursive_stroke(380, 155, 4, 1_700_000_003_000), **pen},
            {"points": underline(60, 640, 185, 1_700_000_006_000), "maxWidth": 2.5},
        ],
        "canvas_width": 700,
        "canvas_height": 240,
        "device_pixel_ratio": 2.0,
    }


def signature(payload: Payload | None = None) -> SignatureInput:
    return SignatureInput.model_validate(payload or signature_payload())


def points(count: int, t0: int = 0) -> list[dict]:
    """A plain diagonal stroke, big enough to pass the size check."""
    return [{"x": 10 + i % 200, "y": 10 + (i % 200) / 4, "time": t0 + i} for i in range(count)]


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# A valid signature ---------------------------------------------------------------


def test_a_realistic_signature_is_accepted() -> None:
    validate_signature(signature())


def test_a_signature_renders_as_a_600_by_200_png_of_black_ink() -> None:
    image = open_png(render_png(signature()))

    assert image.format == "PNG"
    assert image.size == (600, 200)
    assert image.mode == "RGBA"
    alpha = image.getchannel("A").histogram()
    ink, background = sum(alpha[128:]), alpha[0]
    assert ink > 2000
    assert background > 0.8 * 600 * 200
    assert image.convert("RGB").getextrema() == ((0, 0), (0, 0), (0, 0))


def test_edges_are_anti_aliased() -> None:
    alpha = open_png(render_png(signature())).getchannel("A").histogram()

    assert sum(alpha[1:255]) > 500


def test_ink_is_fitted_inside_the_margins() -> None:
    image = open_png(render_png(signature()))

    left, top, right, bottom = image.getchannel("A").getbbox()
    assert left >= 8 and top >= 8 and right <= 592 and bottom <= 192
    assert right - left > 400 or bottom - top > 150


def test_another_size_can_be_asked_for() -> None:
    assert open_png(render_png(signature(), width=300, height=100)).size == (300, 100)


def test_a_dot_only_stroke_is_drawn() -> None:
    payload = signature_payload()
    payload["strokes"].append({"points": [{"x": 660, "y": 40, "time": 1}]})

    before = open_png(render_png(signature())).getchannel("A").getbbox()
    after = open_png(render_png(signature(payload))).getchannel("A").getbbox()
    assert after[1] < before[1]


def test_same_input_gives_identical_png_and_hash() -> None:
    first, second = signature(), signature()

    assert render_png(first) == render_png(second)
    assert strokes_sha256(first) == strokes_sha256(second)


def test_the_hash_is_hex_sha256_and_changes_with_a_point() -> None:
    payload = signature_payload()
    original = strokes_sha256(signature(payload))
    payload["strokes"][1]["points"][7]["x"] += 0.01

    assert len(original) == 64 and int(original, 16) >= 0
    assert strokes_sha256(signature(payload)) != original


def test_the_hash_ignores_key_order_and_absent_settings() -> None:
    payload = signature_payload()
    reordered = {key: payload[key] for key in reversed(list(payload))}
    reordered["strokes"][2]["penColor"] = None

    assert strokes_sha256(signature(reordered)) == strokes_sha256(signature())


def test_pen_colour_does_not_change_the_ink() -> None:
    payload = signature_payload()
    for stroke in payload["strokes"]:
        stroke["penColor"] = "red"

    assert render_png(signature(payload)) == render_png(signature())


def test_pen_settings_are_read_by_their_signature_pad_names() -> None:
    stroke = signature().strokes[0]

    assert stroke.pen_color == "rgb(0, 0, 0)"
    assert stroke.min_width == 0.5


def test_points_just_past_the_edge_are_tolerated() -> None:
    payload = signature_payload()
    payload["strokes"][0]["points"][0]["x"] = -1.5
    payload["strokes"][0]["points"][1]["y"] = 240 + 1.5

    validate_signature(signature(payload))


def test_the_limits_are_fixed() -> None:
    assert MAX_PAYLOAD_BYTES == 256 * 1024
    with pytest.raises(dataclasses.FrozenInstanceError):
        LIMITS.max_strokes = 1000  # type: ignore[misc]


# Limit violations ----------------------------------------------------------------


def set_point(stroke: int, point: int, **values: Any) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        payload["strokes"][stroke]["points"][point].update(values)

    return change


def set_strokes(*strokes: list[dict]) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        payload["strokes"] = [{"points": p} for p in strokes]

    return change


def set_top(**values: Any) -> Callable[[Payload], None]:
    def change(payload: Payload) -> None:
        payload.update(values)

    return change


def stretch_time(payload: Payload) -> None:
    for point in payload["strokes"][2]["points"]:
        point["time"] += 120_000


VIOLATIONS = {
    "nan": (set_point(2, 5, x=math.nan), "not_finite", "strokes[2].points[5].x"),
    "inf": (set_point(1, 3, y=math.inf), "not_finite", "strokes[1].points[3].y"),
    "-inf pressure": (
        set_point(0, 2, pressure=-math.inf),
        "not_finite",
        "strokes[0].points[2].pressure",
    ),
    "right of canvas": (
        set_point(1, 4, x=700 + 2.5),
        "outside_canvas",
        "strokes[1].points[4].x",
    ),
    "above canvas": (set_point(0, 9, y=-3), "outside_canvas", "strokes[0].points[9].y"),
    "time backwards": (
        set_point(2, 4, time=1_700_000_006_000 + 29),
        "time_backwards",
        "strokes[2].points[4].time",
    ),
    "negative time": (
        set_point(0, 0, time=-1),
        "negative_time",
        "strokes[0].points[0].time",
    ),
    "pressure above 1": (
        set_point(0, 1, pressure=1.2),
        "invalid_pressure",
        "strokes[0].points[1].pressure",
    ),
    "too few points": (set_strokes(points(5), points(4)), "too_few_points", "strokes"),
    "zero strokes": (set_strokes(), "no_strokes", "strokes"),
    "empty stroke": (
        set_strokes(points(20), [], points(3)),
        "empty_stroke",
        "strokes[1].points",
    ),
    "too many strokes": (
        set_strokes(*[points(2, 10 * i) for i in range(LIMITS.max_strokes + 1)]),
        "too_many_strokes",
        "strokes",
    ),
    "too many points in a stroke": (
        set_strokes(points(10), points(LIMITS.max_points_per_stroke + 1)),
        "too_many_points",
        "strokes[1].points",
    ),
    "too many points in all": (
        set_strokes(*[points(1700, 2000 * i) for i in range(3)]),
        "too_many_points",
        "strokes",
    ),
    "tap-sized": (
        set_strokes([{"x": 100 + i % 4, "y": 100 + i % 3, "time": i * 8} for i in range(12)]),
        "too_small",
        "strokes",
    ),
    "a flat line": (
        set_strokes([{"x": 10 + 30 * i, "y": 50 + i % 2, "time": i} for i in range(12)]),
        "too_small",
        "strokes",
    ),
    "too long duration": (stretch_time, "duration_too_long", "strokes"),
    "narrow canvas": (set_top(canvas_width=49), "invalid_canvas_size", "canvas_width"),
    "huge canvas": (
        set_top(canvas_height=4001),
        "invalid_canvas_size",
        "canvas_height",
    ),
    "nan pixel ratio": (
        set_top(device_pixel_ratio=math.nan),
        "invalid_device_pixel_ratio",
        "device_pixel_ratio",
    ),
    "zero pixel ratio": (
        set_top(device_pixel_ratio=0.0),
        "invalid_device_pixel_ratio",
        "device_pixel_ratio",
    ),
}


@pytest.mark.parametrize(("change", "code", "field"), VIOLATIONS.values(), ids=VIOLATIONS.keys())
def test_a_broken_limit_is_named(change: Callable[[Payload], None], code: str, field: str) -> None:
    payload = copy.deepcopy(signature_payload())
    change(payload)

    with pytest.raises(SignatureRejected) as caught:
        validate_signature(signature(payload))

    assert (caught.value.code, caught.value.field) == (code, field)
    assert any("\u4e00" <= char <= "\u9fff" for char in caught.value.message)


def test_the_first_problem_is_reported() -> None:
    payload = signature_payload()
    set_point(0, 3, x=math.nan)(payload)
    set_point(2, 1, y=-50)(payload)

    with pytest.raises(SignatureRejected) as caught:
        validate_signature(signature(payload))

    assert caught.value.field == "strokes[0].points[3].x"


def test_a_rejection_is_a_value_error() -> None:
    assert issubclass(SignatureRejected, ValueError)


# Types ---------------------------------------------------------------------------

WRONG_TYPES = {
    "text coordinate": (set_point(0, 0, x="abc"), ("strokes", 0, "points", 0, "x")),
    "numeric string": (set_point(0, 0, y="12"), ("strokes", 0, "points", 0, "y")),
    "boolean pressure": (
        set_point(0, 0, pressure=True),
        ("strokes", 0, "points", 0, "pressure"),
    ),
    "fractional time": (set_point(0, 0, time=1.5), ("strokes", 0, "points", 0, "time")),
    "points not a list": (
        lambda p: p["strokes"][0].update(points={"x": 1}),
        ("strokes", 0, "points"),
    ),
    "missing canvas": (lambda p: p.pop("canvas_width"), ("canvas_width",)),
    "text canvas": (set_top(canvas_height="200"), ("canvas_height",)),
    "long pen colour": (
        lambda p: p["strokes"][0].update(penColor="x" * 65),
        ("strokes", 0, "penColor"),
    ),
}


@pytest.mark.parametrize(("change", "location"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_pydantic_rejects_wrong_types(
    change: Callable[[Payload], None], location: tuple[Any, ...]
) -> None:
    payload = signature_payload()
    change(payload)

    with pytest.raises(ValidationError) as caught:
        SignatureInput.model_validate(payload)

    assert caught.value.errors()[0]["loc"] == location


def test_json_integers_fill_float_fields() -> None:
    body = '{"strokes":[{"points":[{"x":1,"y":2,"time":3}]}],"canvas_width":100,"canvas_height":60}'

    point = SignatureInput.model_validate_json(body).strokes[0].points[0]

    assert (point.x, point.y, point.time, point.pressure) == (1.0, 2.0, 3, 0.5)
