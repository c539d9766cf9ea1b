"""Pure rule functions: slugs, colors, file kinds, paging (no HTTP needed)."""

from __future__ import annotations

import pytest

from webflow_emulator import rules
from webflow_emulator.errors import ApiError
from webflow_emulator.util import iso_ms, new_id, parse_iso


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("My Field", "my-field"),
        ("  Hello   World ", "hello-world"),
        ("Ünïcode!", "ncode"),
        ("a_b", "a-b"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert rules.slugify(text) == slug


def test_unique_slug_suffixes() -> None:
    assert rules.unique_slug("a", {"a", "a-1"}) == "a-2"
    assert rules.unique_slug("b", {"a"}) == "b"


@pytest.mark.parametrize(
    "color",
    [
        "#fff",
        "#ffff",
        "#a1b2c3",
        "#a1b2c3d4",
        "rgb(1, 2, 3)",
        "rgba(1,2,3,0.5)",
        "hsl(120, 50%, 50%)",
        "hsla(120deg, 50%, 50%, .3)",
        "RebeccaPurple",
        "transparent",
    ],
)
def test_valid_colors(color: str) -> None:
    assert rules.is_color(color)


@pytest.mark.parametrize("color", ["#ff", "#gggggg", "rgb(1,2)", "reddish", "", "hsl()"])
def test_invalid_colors(color: str) -> None:
    assert not rules.is_color(color)


def test_file_kinds_and_names() -> None:
    png = rules.file_kind("A.PNG")
    assert png is not None and png.is_image and png.max_bytes == 4 * 1024 * 1024
    pdf = rules.file_kind("x.pdf")
    assert pdf is not None and not pdf.is_image and pdf.max_bytes == 10 * 1024 * 1024
    assert rules.file_kind("x.exe") is None and rules.file_kind("noext") is None
    with pytest.raises(ApiError):
        rules.check_file_name("a" * 96 + ".png")  # 100 characters
    assert rules.check_file_name("a" * 95 + ".png").extension == "png"  # 99 characters


def test_paging_bounds() -> None:
    assert rules.parse_paging(None, None) == (0, 100)
    for offset, limit in (("-1", "10"), ("0", "0"), ("0", "101"), ("x", "1")):
        with pytest.raises(ApiError) as exc:
            rules.parse_paging(offset, limit)
        assert exc.value.status == 400 and exc.value.code == "validation_error"


def test_ids_and_timestamps() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 24 for i in ids)
    assert iso_ms(parse_iso("2024-01-02T03:04:05.678Z")) == "2024-01-02T03:04:05.678Z"
    assert iso_ms(parse_iso("2024-01-02")) == "2024-01-02T00:00:00.000Z"
    assert parse_iso("not a date") is None
