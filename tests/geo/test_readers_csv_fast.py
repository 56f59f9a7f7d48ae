"""The column-wise CSV reader of geo.readers gives exactly what the row-by-row one gives.

``geo.readers._CSV_COLUMNWISE = False`` forces the row-by-row reader; every test here reads
the same bytes both ways and compares the whole ReadResult (or InputError). A spy on
``_CsvRow.read`` tells which way a file was actually read, so the fast path cannot quietly
become dead code.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.readers import csvfile as readers
from geo.problems import InputError, Problem
from geo.readers import ReadResult, parse_coordinate, read_upload

DATA = Path(__file__).resolve().parents[1] / "data"
CSV_FILES = sorted(
    p
    for folder in (DATA / "import", DATA / "hostile")
    for p in folder.rglob("*")
    if p.suffix.lower() in (".csv", ".txt")
)
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Outcome:
    """What read_upload made of a file one way, and how many rows went row by row."""

    result: ReadResult | None
    refused: list[Problem] | None
    row_reads: int


@contextmanager
def columnwise(enabled: bool) -> Iterator[None]:
    saved = readers._CSV_COLUMNWISE
    readers._CSV_COLUMNWISE = enabled
    try:
        yield
    finally:
        readers._CSV_COLUMNWISE = saved


def outcome(data: bytes, name: str, enabled: bool, **kwargs: str) -> Outcome:
    original = readers._CsvRow.read
    with (
        columnwise(enabled),
        mock.patch.object(readers._CsvRow, "read", autospec=True, side_effect=original) as spy,
    ):
        try:
            result = read_upload(data, name, **kwargs)  # type: ignore[arg-type]
        except InputError as exc:
            return Outcome(None, exc.problems, spy.call_count)
    return Outcome(result, None, spy.call_count)


def attribute_values(result: ReadResult) -> str:
    """Every attribute value with its type: None and NaN must not swap."""
    frame = pd.DataFrame(result.gdf.drop(columns=result.gdf.geometry.name))
    return repr({c: [(type(v).__name__, v) for v in frame[c]] for c in frame.columns})


def assert_same(fast: ReadResult, slow: ReadResult) -> None:
    assert_geodataframe_equal(
        fast.gdf,
        slow.gdf,
        check_dtype=True,
        check_index_type=True,
        check_column_type=True,
        check_frame_type=True,
        check_like=False,
        check_crs=True,
        check_geom_type=True,
    )
    assert list(fast.gdf.columns) == list(slow.gdf.columns)
    assert fast.gdf.dtypes.to_dict() == slow.gdf.dtypes.to_dict()
    assert attribute_values(fast) == attribute_values(slow)
    # Bit for bit, so that -0.0 and the last digit of a float count too.
    fast_xy = shapely.get_coordinates(fast.gdf.geometry.values)
    slow_xy = shapely.get_coordinates(slow.gdf.geometry.values)
    assert np.array_equal(fast_xy.view(np.int64), slow_xy.view(np.int64))
    assert fast.format == slow.format
    assert fast.crs_source == slow.crs_source
    assert fast.encoding == slow.encoding
    assert fast.rows == slow.rows
    assert fast.problems == slow.problems
    assert fast.columns == slow.columns


def compare(data: bytes, name: str = "t.csv", **kwargs: str) -> bool:
    """Read ``data`` both ways, check both agree; True if it went column-wise."""
    fast = outcome(data, name, True, **kwargs)
    slow = outcome(data, name, False, **kwargs)
    assert (fast.result is None) == (slow.result is None), (fast, slow)
    if fast.result is None or slow.result is None:
        assert fast.refused == slow.refused
    else:
        assert_same(fast.result, slow.result)
    return fast.row_reads == 0 and slow.row_reads > 0


# --- files of the test corpus and hand-made cases -----------------------------------------


def test_corpus_has_csv_files() -> None:
    assert len(CSV_FILES) >= 40


@pytest.mark.parametrize("path", CSV_FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_corpus_files_read_the_same_both_ways(path: Path) -> None:
    compare(path.read_bytes(), path.name)


def test_corpus_has_files_for_the_fast_path() -> None:
    fast = [p.name for p in CSV_FILES if compare(p.read_bytes(), p.name)]
    assert {"streetlights_utf8.csv", "wells_utf8_bom.csv", "tab_separated.txt"} <= set(fast)


def lights(rows: int = 30) -> list[list[str]]:
    """A street-light table like scripts/benchdata.py writes, header first."""
    table = [["lon", "lat", "power_source", "pole_height_m", "lamp_power_w", "status", "date"]]
    for i in range(rows):
        table.append(
            [
                f"{112.7 + i * 0.0012345:.7f}",
                f"{39.3 + i * 0.00098765:.7f}",
                ("solar", "grid")[i % 2],
                str(8 + i % 3 * 2),
                str(30 * (1 + i % 2)),
                ("installed", "working", "faulty")[i % 3],
                f"2022-05-{1 + i % 28:02d}",
            ]
        )
    return table


def joined(table: list[list[str]], sep: str = ",", end: str = "\n") -> str:
    return "".join(sep.join(row) + end for row in table)


def quoted(table: list[list[str]], sep: str = ",", every_cell: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=sep,
        quoting=csv.QUOTE_ALL if every_cell else csv.QUOTE_MINIMAL,
        lineterminator="\r\n",
    )
    writer.writerows(table)
    return out.getvalue()


def with_cell(table: list[list[str]], row: int, col: int, value: str) -> list[list[str]]:
    copy = [list(r) for r in table]
    copy[row][col] = value
    return copy


LIGHTS = lights()
CHINESE = [["名称", "经度", "纬度", "类型", "备注"]] + [
    [f"路灯{i:02d}", f"112.70{i:04d}", f"38.41{i:04d}", "太阳能", "东关村" if i % 2 else ""]
    for i in range(20)
]
#: (id, bytes, expected to go column-wise)
CASES: list[tuple[str, bytes, bool]] = [
    ("plain", joined(LIGHTS).encode(), True),
    ("no_final_newline", joined(LIGHTS).rstrip("\n").encode(), True),
    ("crlf", joined(LIGHTS, end="\r\n").encode(), True),
    ("cr_only", joined(LIGHTS, end="\r").encode(), True),
    ("bom", codecs.BOM_UTF8 + joined(LIGHTS).encode(), True),
    ("semicolons", joined(LIGHTS, sep=";").encode(), True),
    ("tabs", joined(LIGHTS, sep="\t").encode(), True),
    ("utf16_tabs", joined(LIGHTS, sep="\t", end="\r\n").encode("utf-16"), True),
    ("gbk_chinese", joined(CHINESE).encode("gbk"), True),
    ("utf8_chinese", joined(CHINESE).encode(), True),
    ("blank_lines", joined(LIGHTS[:5] + [[]] + LIGHTS[5:9] + [[], []] + LIGHTS[9:]).encode(), True),
    ("blank_lines_before_header", ("\n\n" + joined(LIGHTS) + "\n\n").encode(), True),
    (
        "blank_lines_crlf_and_cr",
        (joined(LIGHTS[:4], end="\r\n") + "\r\n\r" + joined(LIGHTS[4:], end="\r")).encode(),
        True,
    ),
    ("quoted_minimal", quoted(with_cell(LIGHTS, 3, 5, "a, b")).encode(), True),
    ("quoted_newline", quoted(with_cell(LIGHTS, 3, 5, "line 1\nline 2")).encode(), True),
    ("quoted_cr", quoted(with_cell(LIGHTS, 3, 5, "line 1\rline 2")).encode(), True),
    ("quoted_all", quoted(LIGHTS, every_cell=True).encode(), True),
    ("quoted_blank_lines", (quoted(LIGHTS[:4]) + "\r\n\r\n" + quoted(LIGHTS[4:])).encode(), True),
    ("quoted_coordinate", quoted(with_cell(LIGHTS, 2, 0, "112,5")).encode(), False),
    (
        "duplicate_headers",
        joined(
            [["lon", "lat", "a", "a", "a_2", ""]]
            + [["1", "2", "x", "y", "z", ""], ["3", "4", "", "", "", "w"]]
        ).encode(),
        True,
    ),
    ("one_row", b"lon,lat,id\n1,2,3\n", True),
    ("xy_headers", joined([["X", "Y", "name"], ["500000.5", "4000000.25", "a"]]).encode(), True),
    ("coordinates_last", joined([["name", "lat", "lon"], ["a", "36.1", "112.5"]]).encode(), True),
    ("only_coordinates", b"lon,lat\n112.5,36.1\n-1,-2\n", True),
    (
        "numbers",
        joined(
            [
                ["lon", "lat"],
                ["-112", "-0"],
                ["0.12345678901234567890", "123456789"],
                ["-123456789.99999999999999999999", "7.0000001"],
            ]
        ).encode(),
        True,
    ),
    (
        "empty_attribute_cells",
        joined(with_cell(with_cell(LIGHTS, 1, 2, ""), 5, 6, "")).encode(),
        True,
    ),
    (
        "empty_attribute_column",
        joined([LIGHTS[0]] + [[*r[:2], "", *r[3:]] for r in LIGHTS[1:]]).encode(),
        True,
    ),
    (
        "spaces_around_cells",
        joined([LIGHTS[0]] + [[f" {c} " for c in r] for r in LIGHTS[1:]]).encode(),
        True,
    ),
    ("tab_around_cell", joined(with_cell(LIGHTS, 2, 3, "\t8\t")).encode(), True),
    ("whitespace_only_cell", joined(with_cell(LIGHTS, 2, 3, "   ")).encode(), True),
    (
        "unicode_spaces",
        joined(with_cell(with_cell(LIGHTS, 2, 3, "\u30008\xa0"), 4, 2, "\x0bx")).encode(),
        True,
    ),
    ("inner_spaces", joined(with_cell(LIGHTS, 2, 5, "not working")).encode(), True),
    ("all_blank_row", joined(LIGHTS[:3] + [[""] * 7] + LIGHTS[3:]).encode(), False),
    ("blank_coordinate", joined(with_cell(LIGHTS, 2, 1, "")).encode(), False),
    ("dms_coordinate", joined(with_cell(LIGHTS, 2, 0, "112°48'36\"")).encode(), False),
    ("fullwidth_coordinate", joined(with_cell(LIGHTS, 2, 0, "１１２.５")).encode(), False),
    ("arabic_digits", joined(with_cell(LIGHTS, 2, 0, "١١٢.٥")).encode(), False),
    ("nbsp_around_coordinate", joined(with_cell(LIGHTS, 2, 0, "\xa0112.5")).encode(), False),
    ("nan_coordinate", joined(with_cell(LIGHTS, 2, 0, "NaN")).encode(), False),
    ("exponent_coordinate", joined(with_cell(LIGHTS, 2, 1, "3.6e1")).encode(), False),
    ("ten_digit_coordinate", joined(with_cell(LIGHTS, 2, 1, "1234567890")).encode(), False),
    ("long_fraction", joined(with_cell(LIGHTS, 2, 1, "1." + "1" * 21)).encode(), False),
    ("plus_sign", joined(with_cell(LIGHTS, 2, 1, "+36.1")).encode(), False),
    ("leading_dot", joined(with_cell(LIGHTS, 2, 1, ".5")).encode(), False),
    ("trailing_dot", joined(with_cell(LIGHTS, 2, 1, "5.")).encode(), False),
    ("garbage_coordinate", joined(with_cell(LIGHTS, 2, 1, "north")).encode(), False),
    (
        "extra_cells",
        (joined(LIGHTS[:3]) + "1,2,a,b,c,d,e,extra\n" + joined(LIGHTS[3:])).encode(),
        False,
    ),
    ("extra_empty_cells", (joined(LIGHTS[:3]) + "1,2,a,b,c,d,e,,\n").encode(), False),
    ("missing_cells", (joined(LIGHTS[:3]) + "1,2,a\n" + joined(LIGHTS[3:])).encode(), False),
    (
        "compensating_ragged_rows",
        (joined(LIGHTS[:3]) + "1,2,a,b,c,d,e,9\n3,4,a,b,c,d\n").encode(),
        False,
    ),
    ("trailing_delimiter", joined([LIGHTS[0]] + [[*r, ""] for r in LIGHTS[1:]]).encode(), False),
    ("whitespace_only_line", (joined(LIGHTS[:3]) + "   \n" + joined(LIGHTS[3:])).encode(), False),
    ("header_only", b"lon,lat,name\n", False),
    ("header_and_blank_lines", b"lon,lat,name\n\n\n", False),
    ("wkt_mode", b"wkt,name\nPOINT (1 2),a\n", False),
    ("formula_cells", joined(with_cell(LIGHTS, 2, 5, "=HYPERLINK(1)")).encode(), True),
    ("vertical_tab_line_break", joined(with_cell(LIGHTS, 2, 5, "a\x0cb\x1cc")).encode(), True),
]


@pytest.mark.parametrize(("data", "fast"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_generated_files_read_the_same_both_ways(data: bytes, fast: bool) -> None:
    assert compare(data) == fast


def test_forced_encoding_reads_the_same_both_ways() -> None:
    assert compare(joined(CHINESE).encode("gbk"), encoding="gb18030")


def test_zipped_csv_reads_the_same_both_ways() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lights.csv", joined(LIGHTS))
    assert compare(buf.getvalue(), "lights.zip")


def test_large_file_goes_column_wise(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("read row by row")

    monkeypatch.setattr(readers._CsvRow, "read", refuse)
    data = joined(lights(20_000)).encode()
    result = read_upload(data, "lights.csv")
    assert result.rows == list(range(1, 20_001))
    assert result.gdf.geometry.iloc[-1].x == float(f"{112.7 + 19_999 * 0.0012345:.7f}")


def test_unusual_files_still_go_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    data = joined(with_cell(LIGHTS, 4, 0, "112°48'")).encode()
    calls: list[int] = []
    original = readers._CsvRow.read

    def spy(self: readers._CsvRow, row: int, cells: list[str]) -> None:
        calls.append(row)
        original(self, row, cells)

    monkeypatch.setattr(readers._CsvRow, "read", spy)
    result = read_upload(data, "lights.csv")
    assert calls == list(range(1, len(LIGHTS)))
    assert len(result.rows) == len(LIGHTS) - 1


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collection_is_left_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert compare(joined(LIGHTS).encode())
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()


# --- building blocks ---------------------------------------------------------------------


def test_whitespace_is_everything_strip_removes() -> None:
    every = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(readers._WHITESPACE) == every


PLAIN = st.builds(
    lambda sign, whole, frac, pad: f"{pad[0]}{sign}{whole}{frac}{pad[1]}",
    st.sampled_from(["", "-"]),
    st.integers(0, 999_999_999).map(str) | st.from_regex(r"[0-9]{1,9}", fullmatch=True),
    st.just("") | st.from_regex(r"\.[0-9]{1,20}", fullmatch=True),
    st.tuples(st.sampled_from(["", " ", "\t", " \t"]), st.sampled_from(["", " ", "\t"])),
)
NEAR_PLAIN = PLAIN | st.sampled_from(
    [
        "",
        " ",
        "-",
        "1.",
        ".5",
        "--1",
        "1-2",
        "1 2",
        "1.2.3",
        "1e5",
        "nan",
        "inf",
        "+1",
        "0x1",
        "1_0",
        "1234567890",
        "1." + "0" * 21,
        "１",
        "\xa01",
        "1\n2",
        "1\r",
        "1,5",
        "٣",
    ]
)


@PROPERTY
@given(cells=st.lists(NEAR_PLAIN, min_size=1, max_size=30))
def test_plain_numbers_are_exactly_what_parse_coordinate_reads(cells: list[str]) -> None:
    values = readers._plain_numbers(cells)
    if values is None:  # always taken: ASCII numbers, padded with spaces and tabs at most
        assert not all(re.fullmatch(r"[ \t]*-?[0-9]{1,9}(\.[0-9]{1,20})?[ \t]*", c) for c in cells)
        return
    assert all(c.strip() and readers._PLAIN_NUMBER.fullmatch(c.strip()) for c in cells)
    expected = np.array([parse_coordinate(c.strip()) for c in cells])
    assert np.array_equal(values.view(np.int64), expected.view(np.int64))


def test_plain_numbers_parse_like_float_on_many_digits() -> None:
    rng = np.random.default_rng(7)
    whole = rng.integers(0, 10**9, 20_000)
    digits = rng.integers(0, 21, 20_000)
    cells = [
        f"{'-' if w % 3 == 0 else ''}{w}"
        + (f".{rng.integers(0, 10**18):018d}"[: d + 1] if d else "")
        for w, d in zip(whole, digits, strict=True)
    ]
    cells += [
        "0.1",
        "0.3",
        "900719925.4740993",
        "2.2250738585072011",
        "1." + "9" * 20,
        "-0",
        "123456789.5",
    ]
    values = readers._plain_numbers(cells)
    assert values is not None
    expected = np.array([float(c) for c in cells])
    assert np.array_equal(values.view(np.int64), expected.view(np.int64))


LINE_TEXT = st.text(st.sampled_from(list("ab ,\t\n\r\x0b\x0c\x1c\x85\u2028")), max_size=60)


@PROPERTY
@given(text=LINE_TEXT, blank_lines=st.integers(0, 3000), tail=LINE_TEXT)
def test_first_line_is_the_first_non_blank_line(text: str, blank_lines: int, tail: str) -> None:
    full = " \n" * blank_lines + text + "\n" + "x" * 5000 + tail
    for sample in (text, full):
        expected = next((line for line in sample.splitlines() if line.strip()), "")
        assert readers._first_line(sample) == expected


UNQUOTED = st.text(st.sampled_from(list("ab ,;\t\n\r\x0b\x0c\x1c\x85\u2028名")), max_size=80)


@PROPERTY
@given(text=UNQUOTED)
def test_lines_of_a_text_without_quotes_are_its_records(text: str) -> None:
    lines = readers._plain_lines(text)
    assert lines is not None
    sep = readers._sniff_delimiter(text)
    expected = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    got = readers._csv_records(text, lines)
    for record in expected:
        assert next(got) == record
        assert got.line_num == expected.line_num
    assert next(got, None) is None


def test_a_text_with_quotes_is_read_by_csv_itself() -> None:
    assert readers._plain_lines('lon,lat,name\n1,2,"a, b"\n') is None


# --- property: random tables -------------------------------------------------------------

HEADERS = st.sampled_from(
    [("lon", "lat"), ("经度", "纬度"), ("X", "Y"), ("Longitude", "Latitude"), ("lng", "lat")]
)
NAME = st.text(st.sampled_from(list("abcAB_ 名")), min_size=0, max_size=4)
SAFE_TEXT = st.text(st.sampled_from(list("ab1 -.名\t\u3000")), max_size=6)
ANY_TEXT = st.text(st.sampled_from(list('ab1 ,;\t"\n\r.-名\x0b')), max_size=6)


@st.composite
def tables(draw: st.DrawFn, coordinates: st.SearchStrategy[str]) -> bytes:
    """A small CSV file with lon/lat columns somewhere among text columns."""
    lon, lat = draw(HEADERS)
    others = draw(
        st.lists(NAME.filter(lambda n: n.strip().lower() not in readers._WKT_NAMES), max_size=4)
    )
    headers = [*others]
    headers.insert(draw(st.integers(0, len(headers))), lon)
    headers.insert(draw(st.integers(0, len(headers))), lat)
    sep = draw(st.sampled_from([",", ";", "\t"]))
    text = draw(st.sampled_from([SAFE_TEXT, ANY_TEXT]))
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        row = [draw(coordinates) if h in (lon, lat) else draw(text) for h in headers]
        rows.append(row)
    table = [headers, *rows]
    safe = all(
        sep not in c and '"' not in c and "\n" not in c and "\r" not in c for r in table for c in r
    )
    if safe and draw(st.booleans()):
        body = joined(table, sep=sep, end=draw(st.sampled_from(["\n", "\r\n"])))
    else:
        body = quoted(table, sep=sep, every_cell=draw(st.booleans()))
    if draw(st.booleans()):
        lines = body.split("\n")
        lines.insert(draw(st.integers(1, len(lines))), "")
        body = "\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
    return body.encode(encoding)


@PROPERTY
@given(case=tables(PLAIN))
def test_random_plain_tables_read_the_same_both_ways(case: bytes) -> None:
    compare(case)


@PROPERTY
@given(case=tables(NEAR_PLAIN | SAFE_TEXT))
def test_random_tables_read_the_same_both_ways(case: bytes) -> None:
    compare(case)


@PROPERTY
@given(
    coords=st.lists(st.tuples(PLAIN, PLAIN), min_size=1, max_size=10),
    names=st.lists(SAFE_TEXT, min_size=1, max_size=10),
    sep=st.sampled_from([",", ";", "\t"]),
)
def test_random_clean_tables_go_column_wise(
    coords: list[tuple[str, str]], names: list[str], sep: str
) -> None:
    table = [["lon", "lat", "name"]]
    table += [[x, y, names[i % len(names)]] for i, (x, y) in enumerate(coords)]
    if sep == "\t":  # a tab in a cell is a delimiter here
        table = [[c.replace("\t", " ") for c in row] for row in table]
    assert compare(joined(table, sep=sep).encode())
    assert compare(quoted(table, sep=sep, every_cell=True).encode())
