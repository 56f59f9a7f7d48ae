"""The CSV reader of geo.readers reads back what was written, cell by cell.

There is one CSV reader, column by column (``geo.readers.csvfile``). These tests write
tables in every shape people send (quotes, blank lines, ragged rows, odd coordinates, WKT)
and check what comes back against the cells written: each coordinate is what
``parse_coordinate`` makes of its cell, bit for bit; each attribute is its stripped cell or
None; each unreadable row is one problem per bad cell, naming row and header.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.problems import InputError
from geo.readers import ReadResult, csvfile, parse_coordinate, read_upload

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
X_HEADERS = {"lon", "经度", "x", "longitude", "lng"}
Y_HEADERS = {"lat", "纬度", "y", "latitude"}
COORDINATE_HEADERS = X_HEADERS | Y_HEADERS


# --- what a table written as CSV should read back as --------------------------------------


def expected(table: list[list[str]]) -> tuple[list[int], list[tuple[float, float]], list[str]]:
    """(rows, points, problem codes) a lon/lat table should give, from its cells alone.

    ``table`` is header first; an empty list is a blank line. Cells are as written.
    """
    header, *records = table
    ix = next(i for i, h in enumerate(header) if h.strip().lower() in X_HEADERS)
    iy = next(i for i, h in enumerate(header) if h.strip().lower() in Y_HEADERS)
    rows, points, codes = [], [], []
    for row, cells in enumerate(records, 1):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            codes.append("csv_extra_cells")
        cells = cells + [""] * (len(header) - len(cells))
        xy, bad = [], []
        for i in (ix, iy):
            raw = cells[i].strip()
            try:
                xy.append(parse_coordinate(raw))
            except ValueError:
                bad.append("csv_bad_coordinate" if raw else "csv_missing_coordinate")
        codes.extend(bad)
        if not bad:
            rows.append(row)
            points.append((xy[0], xy[1]))
    return rows, points, codes


def assert_reads_back(data: bytes, table: list[list[str]], name: str = "t.csv") -> ReadResult:
    """Read ``data`` (``table`` written somehow) and check it against the cells."""
    rows, points, codes = expected(table)
    if not rows and any(c != "csv_extra_cells" for c in codes):
        with pytest.raises(InputError) as info:
            read_upload(data, name)
        assert [p.code for p in info.value.problems] == codes
        return None  # type: ignore[return-value]
    result = read_upload(data, name)
    assert result.rows == rows
    got = shapely.get_coordinates(result.gdf.geometry.values)
    want = np.array(points, dtype=float).reshape(-1, 2)
    assert np.array_equal(got.view(np.int64), want.view(np.int64))  # -0.0 and last digits too
    assert [p.code for p in result.problems if p.code != "no_features"] == codes
    header = table[0]
    kept = [r for r in table[1:] if any(c.strip() for c in r)]
    by_row = dict(zip([n for n, r in enumerate(table[1:], 1) if any(c.strip() for c in r)], kept))
    frame = pd.DataFrame(result.gdf.drop(columns=result.gdf.geometry.name))
    for col, name_ in enumerate(header):
        if name_.strip().lower() in COORDINATE_HEADERS or name_.strip() not in frame.columns:
            continue
        want_cells = []
        for row in rows:
            cells = by_row[row] + [""] * len(header)
            want_cells.append(cells[col].strip() or None)
        assert [None if pd.isna(v) else v for v in frame[name_.strip()]] == want_cells
    return result


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
BLANKS = LIGHTS[:5] + [[]] + LIGHTS[5:9] + [[], []] + LIGHTS[9:]

#: (id, bytes, the table they hold)
CASES: list[tuple[str, bytes, list[list[str]]]] = [
    ("plain", joined(LIGHTS).encode(), LIGHTS),
    ("no_final_newline", joined(LIGHTS).rstrip("\n").encode(), LIGHTS),
    ("crlf", joined(LIGHTS, end="\r\n").encode(), LIGHTS),
    ("cr_only", joined(LIGHTS, end="\r").encode(), LIGHTS),
    ("bom", codecs.BOM_UTF8 + joined(LIGHTS).encode(), LIGHTS),
    ("semicolons", joined(LIGHTS, sep=";").encode(), LIGHTS),
    ("tabs", joined(LIGHTS, sep="\t").encode(), LIGHTS),
    ("utf16_tabs", joined(LIGHTS, sep="\t", end="\r\n").encode("utf-16"), LIGHTS),
    ("gbk_chinese", joined(CHINESE).encode("gbk"), CHINESE),
    ("utf8_chinese", joined(CHINESE).encode(), CHINESE),
    ("blank_lines", joined(BLANKS).encode(), BLANKS),
    (
        "quoted_blank_lines",
        (quoted(LIGHTS[:4]) + "\r\n\r\n" + quoted(LIGHTS[4:])).encode(),
        LIGHTS[:4] + [[], []] + LIGHTS[4:],
    ),
    ("quoted_minimal", quoted(t := with_cell(LIGHTS, 3, 5, "a, b")).encode(), t),
    ("quoted_newline", quoted(t := with_cell(LIGHTS, 3, 5, "line 1\nline 2")).encode(), t),
    ("quoted_cr", quoted(t := with_cell(LIGHTS, 3, 5, "line 1\rline 2")).encode(), t),
    ("quoted_all", quoted(LIGHTS, every_cell=True).encode(), LIGHTS),
    ("quoted_coordinate", quoted(t := with_cell(LIGHTS, 2, 0, "112,5")).encode(), t),
    ("quoted_newline_in_coordinate", quoted(t := with_cell(LIGHTS, 2, 0, "1\n2")).encode(), t),
    ("one_row", b"lon,lat,id\n1,2,3\n", [["lon", "lat", "id"], ["1", "2", "3"]]),
    (
        "coordinates_last",
        b"name,lat,lon\na,36.1,112.5\n",
        [["name", "lat", "lon"], ["a", "36.1", "112.5"]],
    ),
    (
        "numbers",
        b"lon,lat\n-112,-0\n0.12345678901234567890,123456789\n",
        [["lon", "lat"], ["-112", "-0"], ["0.12345678901234567890", "123456789"]],
    ),
    (
        "empty_attribute_cells",
        joined(t := with_cell(with_cell(LIGHTS, 1, 2, ""), 5, 6, "")).encode(),
        t,
    ),
    (
        "spaces_around_cells",
        joined(t := [LIGHTS[0]] + [[f" {c} " for c in r] for r in LIGHTS[1:]]).encode(),
        t,
    ),
    ("tab_around_cell", joined(t := with_cell(LIGHTS, 2, 3, "\t8\t")).encode(), t),
    (
        "unicode_spaces",
        joined(t := with_cell(with_cell(LIGHTS, 2, 3, "\u30008\xa0"), 4, 2, "\x0bx")).encode(),
        t,
    ),
    ("all_blank_row", joined(t := LIGHTS[:3] + [[""] * 7] + LIGHTS[3:]).encode(), t),
    ("whitespace_only_line", joined(t := LIGHTS[:3] + [["   "]] + LIGHTS[3:]).encode(), t),
    ("blank_coordinate", joined(t := with_cell(LIGHTS, 2, 1, "")).encode(), t),
    ("dms_coordinate", joined(t := with_cell(LIGHTS, 2, 0, "112°48'36\"")).encode(), t),
    ("fullwidth_coordinate", joined(t := with_cell(LIGHTS, 2, 0, "１１２.５")).encode(), t),
    ("arabic_digits", joined(t := with_cell(LIGHTS, 2, 0, "١١٢.٥")).encode(), t),
    ("nbsp_around_coordinate", joined(t := with_cell(LIGHTS, 2, 0, "\xa0112.5")).encode(), t),
    ("nan_coordinate", joined(t := with_cell(LIGHTS, 2, 0, "NaN")).encode(), t),
    ("exponent_coordinate", joined(t := with_cell(LIGHTS, 2, 1, "3.6e1")).encode(), t),
    ("ten_digit_coordinate", joined(t := with_cell(LIGHTS, 2, 1, "1234567890")).encode(), t),
    ("long_fraction", joined(t := with_cell(LIGHTS, 2, 1, "1." + "1" * 21)).encode(), t),
    ("plus_sign", joined(t := with_cell(LIGHTS, 2, 1, "+36.1")).encode(), t),
    ("leading_dot", joined(t := with_cell(LIGHTS, 2, 1, ".5")).encode(), t),
    ("garbage_coordinate", joined(t := with_cell(LIGHTS, 2, 1, "north")).encode(), t),
    ("both_bad", joined(t := with_cell(with_cell(LIGHTS, 2, 1, "north"), 2, 0, "")).encode(), t),
    (
        "extra_cells",
        joined(t := LIGHTS[:3] + [["1", "2", *"abcde", "extra"]] + LIGHTS[3:]).encode(),
        t,
    ),
    ("extra_empty_cells", joined(t := LIGHTS[:3] + [["1", "2", *"abcde", "", ""]]).encode(), t),
    ("missing_cells", joined(t := LIGHTS[:3] + [["1", "2", "a"]] + LIGHTS[3:]).encode(), t),
    ("extra_cells_on_a_bad_row", joined(t := LIGHTS[:3] + [["", "x", *"abcde", "9"]]).encode(), t),
    ("blank_but_extra", joined(t := LIGHTS[:3] + [[""] * 7 + ["x"]]).encode(), t),
    ("trailing_delimiter", joined(t := [LIGHTS[0]] + [[*r, ""] for r in LIGHTS[1:]]).encode(), t),
    ("formula_cells", joined(t := with_cell(LIGHTS, 2, 5, "=HYPERLINK(1)")).encode(), t),
    ("vertical_tab_line_break", joined(t := with_cell(LIGHTS, 2, 5, "a\x0cb\x1cc")).encode(), t),
    (
        "every_row_bad",
        b"lon,lat\nx,y\n,\n1,z\n",
        [["lon", "lat"], ["x", "y"], ["", ""], ["1", "z"]],
    ),
]


@pytest.mark.parametrize(("data", "table"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_written_table_reads_back(data: bytes, table: list[list[str]]) -> None:
    assert_reads_back(data, table)


def test_header_only_reads_empty_with_the_header_columns() -> None:
    for data in (b"lon,lat,name\n", b"lon,lat,name\n\n\n", b"\n\nlon,lat,name"):
        result = read_upload(data, "h.csv")
        assert result.rows == [] and list(result.gdf.columns) == ["name", "geometry"]
        assert [p.code for p in result.problems] == ["no_features"]


def test_duplicate_and_empty_headers_get_unique_names() -> None:
    data = b"lon,lat,a,a,a_2,\n1,2,x,y,z,\n3,4,,,,w\n"
    result = read_upload(data, "d.csv")
    assert list(result.gdf.columns) == ["a", "a_2", "a_2_2", "column_attr", "geometry"]
    assert [None if pd.isna(v) else v for v in result.gdf["column_attr"]] == [None, "w"]
    assert result.columns == ["lon", "lat", "a", "a", "a_2", ""]


def test_problems_come_row_by_row_with_row_field_and_value() -> None:
    data = b"lon,lat,name\n1,2,a\n,north,b,extra\n112.5,x,c\n3,4,d\n"
    result = read_upload(data, "p.csv")
    assert result.rows == [1, 4]
    got = [(p.code, p.row, p.field, p.value, p.severity) for p in result.problems]
    assert got == [
        ("csv_extra_cells", 2, None, "extra", "warning"),
        ("csv_missing_coordinate", 2, "lon", None, "error"),
        ("csv_bad_coordinate", 2, "lat", "north", "error"),
        ("csv_bad_coordinate", 3, "lat", "x", "error"),
    ]
    for problem in result.problems:
        assert problem.message("zh") and problem.message("en")
        assert str(problem.row) in problem.message("en")


def test_odd_cells_only_cost_those_rows_in_a_large_file() -> None:
    table = with_cell(with_cell(lights(20_000), 7, 0, "112°48'"), 19_000, 1, "bad")
    result = assert_reads_back(joined(table).encode(), table)
    assert len(result.rows) == 19_999
    assert result.gdf.geometry.iloc[6].x == 112.8


def test_zipped_csv_reads_back() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lights.csv", joined(LIGHTS))
    assert_reads_back(buf.getvalue(), LIGHTS, "lights.zip")


def test_forced_encoding_is_used() -> None:
    result = read_upload(joined(CHINESE).encode("gbk"), "c.csv", encoding="gb18030")
    assert result.encoding == "gb18030" and result.gdf["名称"].iloc[0] == "路灯00"


def test_a_file_csv_cannot_cut_is_refused_with_its_row() -> None:
    csv_error = b'lon,lat,name\n1,2,"a"\n3,4,"b"x"\n'
    try:
        read_upload(csv_error, "q.csv")
    except InputError as exc:
        assert exc.problems[0].code == "csv_invalid"
    # (csv in non-strict mode accepts most quotes; the refusal, when it comes, has a row.)


def test_corpus_files_read_or_are_refused_cleanly() -> None:
    assert len(CSV_FILES) >= 40
    for path in CSV_FILES:
        try:
            result = read_upload(path.read_bytes(), path.name)
        except InputError as exc:
            assert all(p.code != "read_failed" for p in exc.problems), path
            continue
        assert len(result.rows) == len(result.gdf), path
        assert all(p.code != "read_failed" for p in result.problems), path


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collection_is_left_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert_reads_back(joined(LIGHTS).encode(), LIGHTS)
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()


# --- WKT columns -------------------------------------------------------------------------


def test_wkt_rows_are_read_or_reported() -> None:
    data = b'wkt,name\nnot wkt,a\n,b\n"LINESTRING (1 2, 3 4)",c\n   ,  \nPOINT EMPTY,d\n'
    result = read_upload(data, "w.csv")
    assert result.rows == [3, 5]
    assert result.gdf.geometry.iloc[0].equals(shapely.LineString([(1, 2), (3, 4)]))
    assert result.gdf.geometry.iloc[1].is_empty
    assert [(p.code, p.row, p.field) for p in result.problems] == [
        ("csv_bad_wkt", 1, "wkt"),
        ("csv_missing_coordinate", 2, "wkt"),
    ]


def test_wkt_z_becomes_ele_unless_the_file_has_an_ele_column() -> None:
    result = read_upload(b"wkt,name\nPOINT Z (1 2 3),a\nPOINT (4 5),b\n", "z.csv")
    assert not result.gdf.geometry.has_z.any()
    assert result.gdf["ele"].iloc[0] == 3.0 and pd.isna(result.gdf["ele"].iloc[1])
    result = read_upload(b"wkt,ele\nPOINT Z (1 2 3),9\n", "z.csv")
    assert result.gdf["ele"].tolist() == ["9"]


def test_wkt_non_finite_and_huge_geometries_are_left_out() -> None:
    huge = "LINESTRING (" + ", ".join(f"{i} {i}" for i in range(200_001)) + ")"
    data = f'wkt\nPOINT (nan 2)\n"{huge}"\nPOINT (1 2)\n'.encode()
    result = read_upload(data, "h.csv")
    assert result.rows == [3]
    assert [(p.code, p.row) for p in result.problems] == [
        ("non_finite_coordinate", 1),
        ("too_many_vertices", 2),
    ]


def test_ewkt_srid_shared_by_all_rows_declares_the_crs() -> None:
    result = read_upload(b"wkt\nSRID=4547;POINT (1 2)\nSRID=4547;POINT (3 4)\n", "e.csv")
    assert result.gdf.crs.to_epsg() == 4547 and result.crs_source == "file"
    mixed = read_upload(b"wkt\nSRID=4547;POINT (1 2)\nSRID=4326;POINT (3 4)\n", "e.csv")
    assert mixed.gdf.crs is None and mixed.crs_source == "none"
    unknown = read_upload(b"wkt\nSRID=99999999;POINT (1 2)\n", "e.csv")
    assert [p.code for p in unknown.problems] == ["csv_srid_unknown"]


def test_deep_wkt_never_reaches_geos() -> None:
    deep = "GEOMETRYCOLLECTION (" * 20 + "POINT (1 2)" + ")" * 20
    shallow = "GEOMETRYCOLLECTION (" * 5 + "POINT (1 2)" + ")" * 5
    result = read_upload(f'wkt\n"{deep}"\n"{shallow}"\n'.encode(), "d.csv")
    assert result.rows == [2] and result.problems[0].code == "csv_bad_wkt"


# --- building blocks ---------------------------------------------------------------------


def test_whitespace_is_everything_strip_removes() -> None:
    every = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(csvfile._WHITESPACE) == every


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
        "112°30'",
        "北纬36度",
    ]
)


def parsed(cell: str) -> float | None:
    try:
        return parse_coordinate(cell.strip())
    except ValueError:
        return None


@PROPERTY
@given(cells=st.lists(NEAR_PLAIN, max_size=30))
def test_a_coordinate_column_reads_as_parse_coordinate_reads_each_cell(cells: list[str]) -> None:
    values, bad = csvfile._coordinates(cells)
    want = [parsed(c) for c in cells]
    assert bad == {i: c.strip() for i, c in enumerate(cells) if want[i] is None}
    good = [i for i, w in enumerate(want) if w is not None]
    expected_values = np.array([want[i] for i in good], dtype=float)
    assert np.array_equal(values[good].view(np.int64), expected_values.view(np.int64))


def test_plain_numbers_parse_like_float_on_many_digits() -> None:
    rng = np.random.default_rng(7)
    whole = rng.integers(0, 10**9, 20_000)
    digits = rng.integers(0, 21, 20_000)
    cells = [
        f"{'-' if w % 3 == 0 else ''}{w}"
        + (f".{rng.integers(0, 10**18):018d}"[: d + 1] if d else "")
        for w, d in zip(whole, digits, strict=True)
    ]
    cells += ["0.1", "0.3", "900719925.4740993", "2.2250738585072011", "1." + "9" * 20, "-0"]
    values = csvfile._plain_numbers(cells)
    assert values is not None
    expected_values = np.array([float(c) for c in cells])
    assert np.array_equal(values.view(np.int64), expected_values.view(np.int64))


LINE_TEXT = st.text(st.sampled_from(list("ab ,\t\n\r\x0b\x0c\x1c\x85\u2028")), max_size=60)


@PROPERTY
@given(text=LINE_TEXT, blank_lines=st.integers(0, 3000), tail=LINE_TEXT)
def test_first_line_is_the_first_non_blank_line(text: str, blank_lines: int, tail: str) -> None:
    full = " \n" * blank_lines + text + "\n" + "x" * 5000 + tail
    for sample in (text, full):
        want = next((line for line in sample.splitlines() if line.strip()), "")
        assert csvfile._first_line(sample) == want


UNQUOTED = st.text(st.sampled_from(list("ab ,;\t\n\r\x0b\x0c\x1c\x85\u2028名")), max_size=80)


@PROPERTY
@given(text=UNQUOTED)
def test_lines_of_a_text_without_quotes_are_its_records(text: str) -> None:
    lines = csvfile._plain_lines(text)
    assert lines is not None
    sep = csvfile._sniff_delimiter(text)
    want = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    got = csvfile._csv_records(text, lines)
    for record in want:
        assert next(got) == record
        assert got.line_num == want.line_num
    assert next(got, None) is None


def test_a_text_with_quotes_is_read_by_csv_itself() -> None:
    assert csvfile._plain_lines('lon,lat,name\n1,2,"a, b"\n') is None


# --- property: random tables -------------------------------------------------------------

HEADERS = st.sampled_from(
    [("lon", "lat"), ("经度", "纬度"), ("X", "Y"), ("Longitude", "Latitude"), ("lng", "lat")]
)
NAME = st.text(st.sampled_from(list("abcAB_名")), min_size=1, max_size=4)
SAFE_TEXT = st.text(st.sampled_from(list("ab1 -.名\t\u3000")), max_size=6)
ANY_TEXT = st.text(st.sampled_from(list('ab1 ,;\t"\n\r.-名\x0b')), max_size=6)


@st.composite
def tables(draw: st.DrawFn, coordinates: st.SearchStrategy[str]) -> tuple[bytes, list[list[str]]]:
    """A small CSV file with lon/lat columns among text columns, and the table it holds."""
    lon, lat = draw(HEADERS)
    others = draw(
        st.lists(
            NAME.filter(lambda n: n.strip().lower() not in (*csvfile._WKT_NAMES, "x", "y")),
            max_size=4,
            unique=True,
        )
    )
    headers = [*others]
    headers.insert(draw(st.integers(0, len(headers))), lon)
    headers.insert(draw(st.integers(0, len(headers))), lat)
    sep = draw(st.sampled_from([",", ";", "\t"]))
    text = draw(st.sampled_from([SAFE_TEXT, ANY_TEXT]))
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        rows.append([draw(coordinates) if h in (lon, lat) else draw(text) for h in headers])
    table = [headers, *rows]
    if sep == "\t":  # a tab in a cell would be a delimiter: write a space instead
        table = [[c.replace("\t", " ") for c in r] for r in table]
    safe = all(
        sep not in c and '"' not in c and "\n" not in c and "\r" not in c for r in table for c in r
    )
    if safe and draw(st.booleans()):
        body = joined(table, sep=sep, end=draw(st.sampled_from(["\n", "\r\n"])))
    else:
        body = quoted(table, sep=sep, every_cell=draw(st.booleans()))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
    return body.encode(encoding), table


@PROPERTY
@given(case=tables(PLAIN))
def test_random_plain_tables_read_back(case: tuple[bytes, list[list[str]]]) -> None:
    assert_reads_back(*case)


@PROPERTY
@given(case=tables(NEAR_PLAIN | SAFE_TEXT))
def test_random_tables_read_back(case: tuple[bytes, list[list[str]]]) -> None:
    assert_reads_back(*case)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ("112 46 48.5", "39 31 12"),  # spaces, as GPS units and spreadsheets write them
        ("112:46:48.5", "39:31:12"),  # colons
        ("E 112 46 48.5", "N39 31 12"),  # with the hemisphere
    ],
)
def test_separated_degrees_minutes_seconds_are_read(lon, lat):
    # Issue #16: "112 46 48.5" was read as a number over 100,000; colons were refused.
    data = f"名称,经度,纬度\n灯1,{lon},{lat}\n".encode()
    result = read_upload(data, "lights.csv")
    [point] = result.gdf.geometry.tolist()
    assert point.x == pytest.approx(112 + 46 / 60 + 48.5 / 3600, abs=1e-9)
    assert point.y == pytest.approx(39 + 31 / 60 + 12 / 3600, abs=1e-9)


@pytest.mark.parametrize("text", ["112 64 00", "112:46:75", "112 46 48 5"])
def test_separated_values_that_are_not_minutes_and_seconds_are_refused(text):
    with pytest.raises(ValueError):
        parse_coordinate(text)
