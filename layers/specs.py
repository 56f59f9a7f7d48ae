"""Layer specs: every layer declared once, as data, in a TOML file.

Built-in layers live in ``layers/specs/*.toml``. A county adds a layer, or fields to a
built-in one, by dropping a TOML file into ``<data dir>/specs/``: a file whose ``name`` is
new declares a layer; a file whose ``name`` is a built-in layer adds (or replaces, by
name) fields. No code changes.

``validate_properties`` checks and converts one feature's properties against its spec and
reports problems as :class:`geo.problems.Problem` records (row, field, value, code).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.messages import register
from geo.problems import Problem, short_value
from layers.evidence import EvidenceRules, parse_evidence
from layers.field_rules import bound_error, number_bounds_problem, pattern_error, pattern_matches
from layers.field_rules import to_number as _to_number
from layers.field_rules import unstorable as _unstorable

BUILTIN_DIR = Path(__file__).with_name("specs")
FIELD_TYPES = {"string", "text", "integer", "number", "boolean", "date", "enum", "ref"}
GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
}
LAYER_KINDS = {"work", "reference", "ledger"}
#: Properties every feature carries, maintained by the store, never typed by users.
#: ``review`` and ``review_comment`` (:mod:`layers.review`) belong to work layers only,
#: set by the change planner from who writes (a planner's decision among them).
SYSTEM_FIELDS = (
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "source",
    "version",
    "demo",
    "gps_accuracy_m",
    "review",
    "review_comment",
    "review_override",
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

for _code, _zh, _en in (
    (
        "spec_invalid",
        "图层定义文件 {file} 有误：{value}",
        "Layer declaration {file} is invalid: {value}",
    ),
    (
        "required",
        "第 {row} 行：缺少必填字段“{label}”",
        "Row {row}: required field '{label}' is missing",
    ),
    (
        "not_a_number",
        "第 {row} 行：“{label}”应为数字，实际为“{value}”",
        "Row {row}: '{label}' must be a number, got '{value}'",
    ),
    (
        "not_an_integer",
        "第 {row} 行：“{label}”应为整数，实际为“{value}”",
        "Row {row}: '{label}' must be a whole number, got '{value}'",
    ),
    (
        "below_min",
        "第 {row} 行：“{label}”为 {value}，不能小于 {min}",
        "Row {row}: '{label}' is {value}, below the minimum {min}",
    ),
    (
        "above_max",
        "第 {row} 行：“{label}”为 {value}，不能大于 {max}",
        "Row {row}: '{label}' is {value}, above the maximum {max}",
    ),
    (
        "not_allowed",
        "第 {row} 行：“{label}”的值“{value}”不在允许范围内（{allowed}）",
        "Row {row}: '{label}' value '{value}' is not one of: {allowed}",
    ),
    (
        "not_a_date",
        "第 {row} 行：“{label}”应为日期（如 2021-08-15），实际为“{value}”",
        "Row {row}: '{label}' must be a date such as 2021-08-15, got '{value}'",
    ),
    (
        "not_a_boolean",
        "第 {row} 行：“{label}”应为是/否，实际为“{value}”",
        "Row {row}: '{label}' must be yes or no, got '{value}'",
    ),
    (
        "too_long",
        "第 {row} 行：“{label}”超过 {max_length} 个字符",
        "Row {row}: '{label}' is longer than {max_length} characters",
    ),
    (
        "bad_character",
        "第 {row} 行：“{label}”含有无法保存的字符（{char}）",
        "Row {row}: '{label}' contains a character that cannot be stored ({char})",
    ),
    (
        "bad_pattern",
        "第 {row} 行：“{label}”格式不对：“{value}”",
        "Row {row}: '{label}' has the wrong format: '{value}'",
    ),
    (
        "computed_field",
        "第 {row} 行：“{label}”由几何图形自动计算，不能填写",
        "Row {row}: '{label}' is computed from the geometry and cannot be set",
    ),
    (
        "unknown_field",
        "第 {row} 行：图层没有字段“{field}”，已忽略",
        "Row {row}: the layer has no field '{field}'; ignored",
    ),
    ("not_text", "第 {row} 行：“{label}”应为文字", "Row {row}: '{label}' must be text"),
):
    register(_code, _zh, _en)


class SpecError(ValueError):
    """A declaration file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FieldSpec:
    """One field of a layer: type, unit, allowed values, labels."""

    name: str
    type: str
    label: Mapping[str, str]
    unit: str = ""
    required: bool = False
    values: tuple[str, ...] = ()
    value_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    extensible: bool = False
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    default: Any = None
    computed: str | None = None
    ref_layer: str | None = None

    def label_in(self, lang: str) -> str:
        """The field's label in ``lang`` (falls back to Chinese, then the name)."""
        return self.label.get(lang) or self.label.get("zh") or self.name

    def value_label(self, value: Any, lang: str) -> str:
        """How ``value`` reads in ``lang`` (an enum's label, else the value as text)."""
        if value is None:
            return ""
        labels = self.value_labels.get(str(value))
        if labels:
            return labels.get(lang) or labels.get("zh") or str(value)
        return str(value)


@dataclass(frozen=True)
class LayerSpec:
    """A layer as declared: name, kind, geometry types, fields, style and checks."""

    name: str
    kind: str
    geometry: tuple[str, ...]
    label: Mapping[str, str]
    fields: tuple[FieldSpec, ...]
    id_prefix: str
    description: Mapping[str, str] = field(default_factory=dict)
    style: Mapping[str, Any] = field(default_factory=dict)
    status_field: str | None = None
    date_field: str | None = None
    title_field: str | None = None
    duplicate_distance_m: float = 0.0
    accuracy_limit_m: float | None = None
    cluster: bool = False
    source_file: str = ""
    #: The weakest role that may create, change or delete features of this layer, on
    #: every path (capture, uploads, the OGC API, the ledger pages): ``field`` for work
    #: layers, ``planner`` for reference layers and the ledger, unless the spec says
    #: ``write_role = "..."``.
    write_role: str = "field"
    #: Most vertices one feature may have (``max_vertices`` in the spec).
    max_vertices: int = 10_000
    #: What a submission must carry before it is approved (``[evidence]`` in the spec).
    evidence: EvidenceRules = field(default_factory=EvidenceRules)

    def label_in(self, lang: str) -> str:
        """The layer's label in ``lang``."""
        return self.label.get(lang) or self.label.get("zh") or self.name

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name``, or None."""
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, FieldSpec]:
        by_name: dict[str, FieldSpec] = {}
        for spec in self.fields:
            by_name.setdefault(spec.name, spec)
        return by_name

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the declared fields, in declaration order."""
        return tuple(f.name for f in self.fields)

    @property
    def spatial(self) -> bool:
        """Whether features of this layer have a geometry."""
        return bool(self.geometry)

    @property
    def reviewed(self) -> bool:
        """Whether features of this layer carry a review state (the work layers)."""
        return self.kind == "work"


def _labels(raw: Any, where: str) -> dict[str, str]:
    if isinstance(raw, str):
        return {"zh": raw, "en": raw}
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise SpecError(f"{where}: label must be a string or a table like {{ zh = ..., en = ... }}")
    return dict(raw)


def _field_from(raw: Mapping[str, Any], where: str) -> FieldSpec:
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpecError(f"{where}: field name {name!r} must be lower_snake_case ASCII")
    where = f"{where} field {name!r}"
    ftype = raw.get("type", "string")
    if ftype not in FIELD_TYPES:
        raise SpecError(f"{where}: type {ftype!r} is not one of {sorted(FIELD_TYPES)}")
    if name in SYSTEM_FIELDS:
        raise SpecError(f"{where}: {name!r} is a system field maintained by the store")
    values = tuple(str(v) for v in raw.get("values", ()))
    if ftype == "enum" and not values:
        raise SpecError(f"{where}: an enum needs a list of values")
    if ftype == "ref" and not raw.get("ref_layer"):
        raise SpecError(f"{where}: a ref needs ref_layer")
    value_labels = {str(k): _labels(v, where) for k, v in raw.get("value_labels", {}).items()}
    checks = (bound_error("min", raw.get("min")), bound_error("max", raw.get("max")))
    refused = [e for e in (*checks, pattern_error(raw.get("pattern", ""))) if e]
    if refused:
        raise SpecError(f"{where}: {refused[0]}")
    return FieldSpec(
        name=name,
        type=ftype,
        label=_labels(raw.get("label", name), where),
        unit=str(raw.get("unit", "")),
        required=bool(raw.get("required", False)),
        values=values,
        value_labels=value_labels,
        extensible=bool(raw.get("extensible", False)),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        max_length=raw.get("max_length"),
        pattern=raw.get("pattern"),
        default=raw.get("default"),
        computed=raw.get("computed"),
        ref_layer=raw.get("ref_layer"),
    )


WRITE_ROLES = ("field", "planner", "admin")
DEFAULT_MAX_VERTICES = 10_000


def _write_role(raw: Mapping[str, Any], kind: str, where: str) -> str:
    """The spec's ``write_role``; by default ``field`` for work layers, else ``planner``."""
    role = raw.get("write_role", "field" if kind == "work" else "planner")
    if role not in WRITE_ROLES:
        raise SpecError(f"{where}: write_role {role!r} is not one of {list(WRITE_ROLES)}")
    return str(role)


def _positive_int(raw: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{where}: {key} must be a positive whole number, not {value!r}")
    return value


def spec_from_mapping(raw: Mapping[str, Any], source_file: str = "") -> LayerSpec:
    """Build a :class:`LayerSpec` from a parsed declaration, checking every key."""
    where = source_file or "<spec>"
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpecError(f"{where}: layer name {name!r} must be lower_snake_case ASCII")
    kind = raw.get("kind", "work")
    if kind not in LAYER_KINDS:
        raise SpecError(f"{where}: kind {kind!r} is not one of {sorted(LAYER_KINDS)}")
    geometry = tuple(raw.get("geometry", ("Point",)))
    bad = [g for g in geometry if g not in GEOMETRY_TYPES]
    if bad:
        raise SpecError(f"{where}: geometry types {bad} are not GeoJSON geometry types")
    fields = tuple(_field_from(f, where) for f in raw.get("fields", ()))
    names = [f.name for f in fields]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SpecError(f"{where}: fields declared twice: {sorted(dupes)}")
    spec = LayerSpec(
        name=name,
        kind=kind,
        geometry=geometry,
        label=_labels(raw.get("label", name), where),
        fields=fields,
        id_prefix=str(raw.get("id_prefix") or name[:2].upper()),
        description=_labels(raw.get("description", ""), where),
        style=dict(raw.get("style", {})),
        status_field=raw.get("status_field"),
        date_field=raw.get("date_field"),
        title_field=raw.get("title_field"),
        duplicate_distance_m=float(raw.get("duplicate_distance_m", 0.0)),
        accuracy_limit_m=raw.get("accuracy_limit_m"),
        cluster=bool(raw.get("cluster", False)),
        source_file=source_file,
        write_role=_write_role(raw, kind, where),
        max_vertices=_positive_int(raw, "max_vertices", DEFAULT_MAX_VERTICES, where),
        evidence=parse_evidence(raw.get("evidence"), where, SpecError) or EvidenceRules(),
    )
    for key in ("status_field", "date_field", "title_field"):
        ref = getattr(spec, key)
        if ref is not None and spec.field(ref) is None:
            raise SpecError(f"{where}: {key} {ref!r} is not a declared field")
    return spec


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc


def extend_spec(base: LayerSpec, raw: Mapping[str, Any], source_file: str) -> LayerSpec:
    """``base`` with the fields of ``raw`` added, or replacing fields of the same name."""
    extra = [_field_from(f, source_file) for f in raw.get("fields", ())]
    replaced = {f.name: f for f in extra}
    fields = [replaced.pop(f.name, f) for f in base.fields] + list(replaced.values())
    label = _labels(raw["label"], source_file) if "label" in raw else base.label
    style = {**base.style, **raw.get("style", {})}
    role = _write_role(raw, base.kind, source_file) if "write_role" in raw else base.write_role
    vertices = _positive_int(raw, "max_vertices", base.max_vertices, source_file)
    evidence = parse_evidence(raw.get("evidence"), source_file, SpecError) or base.evidence
    return replace(base, fields=tuple(fields), label=label, style=style, write_role=role,
                   max_vertices=vertices, evidence=evidence)  # fmt: skip


class SpecRegistry:
    """All layer specs of one data directory: the built-ins plus the county's own."""

    def __init__(self, specs: Iterable[LayerSpec]):
        self._specs = {s.name: s for s in specs}

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> SpecRegistry:
        """Built-in specs, extended or added to by ``extra_dir/*.toml`` if it exists."""
        specs: dict[str, LayerSpec] = {}
        for path in sorted(BUILTIN_DIR.glob("*.toml")):
            spec = spec_from_mapping(_read_toml(path), f"layers/specs/{path.name}")
            specs[spec.name] = spec
        if extra_dir is not None and extra_dir.is_dir():
            for path in sorted(extra_dir.glob("*.toml")):
                raw = _read_toml(path)
                name = raw.get("name")
                if isinstance(name, str) and name in specs:
                    specs[name] = extend_spec(specs[name], raw, str(path))
                else:
                    spec = spec_from_mapping(raw, str(path))
                    specs[spec.name] = spec
        return cls(specs.values())

    def __getitem__(self, name: str) -> LayerSpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Any:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def names(self, kind: str | None = None) -> list[str]:
        """Layer names, optionally only those of ``kind`` (work, reference, ledger)."""
        return [s.name for s in self._specs.values() if kind is None or s.kind == kind]

    def get(self, name: str) -> LayerSpec | None:
        """The spec called ``name``, or None."""
        return self._specs.get(name)


_TRUE = {"true", "1", "yes", "y", "是", "有", "t", "√"}
_FALSE = {"false", "0", "no", "n", "否", "无", "f", "×"}
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_MONTH_PATTERNS = (re.compile(r"^(\d{4})[-/.](\d{1,2})$"), re.compile(r"^(\d{4})年(\d{1,2})月$"))


def parse_date(value: Any) -> dt.date | None:
    """A date from ISO text, ``2021/8/15``, ``2021年8月15日``, ``20210815`` or ``2021-08``.

    A month alone means its first day. Returns None when ``value`` is not a date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    for pattern in _MONTH_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), 1)
            except ValueError:
                return None
    return None


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    kind = value.__class__
    if kind is str:
        return not value.strip()
    if kind is int or kind is bool:
        return False
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _enum_value(spec: FieldSpec, value: Any) -> str | None:
    text = str(value).strip()
    if text in spec.values:
        return text
    return _enum_lookup(spec).get(text.lower())


_ENUM_LOOKUPS: dict[int, tuple[FieldSpec, dict[str, str]]] = {}


def _enum_lookup(spec: FieldSpec) -> dict[str, str]:
    """Lower-cased code or label -> code (the first code declaring it wins), per field."""
    cached = _ENUM_LOOKUPS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    lookup: dict[str, str] = {}
    for code, labels in spec.value_labels.items():
        lookup.setdefault(code.lower(), code)
        for lab in labels.values():
            lookup.setdefault(lab.lower(), code)
    if len(_ENUM_LOOKUPS) > 4096:
        _ENUM_LOOKUPS.clear()
    _ENUM_LOOKUPS[id(spec)] = (spec, lookup)
    return lookup


def coerce_value(spec: FieldSpec, value: Any, row: int | None) -> tuple[Any, Problem | None]:
    """``value`` converted to the type of ``spec``, or a problem naming row/field/value."""

    def problem(code: str, **extra: Any) -> tuple[Any, Problem]:
        params = {"row": row, "label": spec.label_in("zh"), "label_en": spec.label_in("en")}
        return None, Problem(
            code, row=row, field=spec.name, value=short_value(value), params={**params, **extra}
        )

    if spec.type in ("number", "integer"):
        number = _to_number(value)
        if number is None or not math.isfinite(number):
            return problem("not_a_number")
        if spec.type == "integer":
            if number != int(number):
                return problem("not_an_integer")
            number = int(number)
        outside = number_bounds_problem(spec.type, number, spec.minimum, spec.maximum)
        return problem(outside[0], **outside[1]) if outside else (number, None)
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value, None
        text = str(value).strip().lower()
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        return problem("not_a_boolean")
    if spec.type == "date":
        day = parse_date(value)
        if day is None:
            return problem("not_a_date")
        return day.isoformat(), None
    if spec.type == "enum":
        code = _enum_value(spec, value)
        if code is None:
            if spec.extensible and isinstance(value, str) and value.strip():
                char = _unstorable(value)
                if char is not None:
                    return problem("bad_character", char=char)
                return value.strip(), None
            return problem("not_allowed", allowed=", ".join(spec.values))
        return code, None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return problem("not_text")
    text = str(value).strip() if spec.type != "text" else str(value)
    char = _unstorable(text)
    if char is not None:
        return problem("bad_character", char=char)
    if spec.max_length is not None and len(text) > spec.max_length:
        return problem("too_long", max_length=spec.max_length)
    matched = pattern_matches(spec.pattern, text) if spec.pattern else True
    if not matched:
        return problem("bad_pattern" if matched is False else "pattern_timeout")
    return text, None


def validate_properties(
    spec: LayerSpec,
    properties: Mapping[str, Any],
    row: int | None = None,
    *,
    partial: bool = False,
    allow_computed: bool = False,
) -> tuple[dict[str, Any], list[Problem]]:
    """Check and convert ``properties`` against ``spec``: :func:`check_rows` for one row.

    Returns the clean properties (declared fields only, converted, defaults filled) and
    the problems found. Unknown keys give a warning and are dropped; computed fields
    (length, area) are refused unless ``allow_computed`` (the store fills them itself).
    With ``partial`` (an update), missing required fields are not reported and a field
    given blank comes back as None (remove it); a required one given blank is a problem.

    >>> spec = SpecRegistry.load()["streetlights"]
    >>> clean, problems = validate_properties(spec, {"power_source": "太阳能", "status": "working"})
    >>> clean["power_source"], problems
    ('solar', [])
    >>> validate_properties(spec, {}, 3)[1][0].message("en")
    "Row 3: required field 'Power source' is missing"
    """
    ((clean, problems),) = check_rows(
        spec, [properties], [row], partial=partial, allow_computed=allow_computed
    )
    return clean, problems


#: A field a row does not name at all (in a partial check: keep the stored value).
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()


@dataclass(frozen=True)
class CodedColumn:
    """One column of many rows, each distinct value stored once: ``uniques[codes[i]]`` is
    row ``i``'s value (in a checked column ``None`` is absent, or refused with a
    problem)."""

    codes: np.ndarray
    uniques: list[Any]

    def __len__(self) -> int:
        return len(self.codes)

    def values(self) -> np.ndarray:
        """The value of every row (an object array)."""
        return object_array(self.uniques)[self.codes]

    def take(self, positions: np.ndarray) -> CodedColumn:
        """The column for the rows at ``positions`` only."""
        return CodedColumn(self.codes[positions], self.uniques)


def object_array(values: list[Any]) -> np.ndarray:
    """A 1-D object array of ``values`` (lists stay single elements)."""
    return np.fromiter(values, dtype=object, count=len(values))


#: Text columns longer than this are factorised by pandas (in C; slower for a few rows).
_HASHED_IN_C = 256


def factorize(values: Any, n: int) -> tuple[np.ndarray, list[Any]]:
    """``(codes, uniques)`` of one column of ``n`` raw values: ``uniques[codes[i]]`` is
    ``values[i]``; equal only when of the same type and equal (``1`` is not ``1.0`` or
    ``True``). ``None`` for ``values`` is a column absent from every row."""
    if values is None:
        return np.zeros(n, dtype=np.intp), [None]
    if isinstance(values, CodedColumn):
        return values.codes, values.uniques
    column = values if isinstance(values, np.ndarray) else object_array(list(values))
    if len(column) > _HASHED_IN_C and is_text(column):
        return factorize_text(column)
    seen: dict[Any, int] = {}
    uniques: list[Any] = []
    out = np.empty(len(column), dtype=np.intp)
    for i, value in enumerate(column):
        try:
            key: Any = (value.__class__, value)
            code = seen.get(key)
        except TypeError:  # unhashable (a list): its own entry
            key, code = None, None
        if code is None:
            code = len(uniques)
            uniques.append(value)
            if key is not None:
                seen[key] = code
        out[i] = code
    return out, uniques


def is_text(column: np.ndarray) -> bool:
    """True when every value is a ``str`` or ``None`` (a column read from a file)."""
    return set(map(type, column)) <= {str, type(None)}


def factorize_text(column: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """:func:`factorize` of an object array of ``str`` and ``None`` (pandas hashes in C)."""
    codes, found = pd.factorize(column, use_na_sentinel=True)
    uniques = list(found)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(uniques), codes)
        uniques.append(None)
    return np.asarray(codes, dtype=np.intp), uniques


def check_rows(
    spec: LayerSpec,
    properties: Sequence[Mapping[str, Any]],
    rows: Sequence[int | None],
    *,
    partial: bool = False,
    allow_computed: bool = False,
) -> list[tuple[dict[str, Any], list[Problem]]]:
    """The clean properties and the problems of each of many rows, checked column by
    column (each distinct value of a field once): the one property check of the app."""
    names: dict[str, None] = {}
    for props in properties:
        names.update(dict.fromkeys(props))
    filler = ABSENT if partial else None
    columns = {name: [props.get(name, filler) for props in properties] for name in names}
    checked, found = checked_columns(
        spec, columns, rows, partial=partial, allow_computed=allow_computed
    )
    out: list[tuple[dict[str, Any], list[Problem]]] = [({}, []) for _ in properties]
    for name, column in checked.items():
        uniques = column.uniques
        for i, code in enumerate(column.codes.tolist()):
            value = uniques[code]
            if value is not ABSENT and (partial or value is not None):
                out[i][0][name] = value
    for position, _, problem in found:
        out[position][1].append(problem)
    return out


def check_columns(
    spec: LayerSpec, columns: Mapping[str, Any], rows: Any
) -> tuple[dict[str, CodedColumn], list[Problem]]:
    """What :func:`validate_properties` gives for every row ``i``, where row ``i`` holds
    ``columns[name][i]`` for each name, worked out once per distinct value of a column.

    Returns each declared field's clean column and the problems, row by row in the order
    :func:`validate_properties` reports them.
    """
    out, found = checked_columns(spec, columns, rows)
    return out, [problem for _, _, problem in found]


def checked_columns(
    spec: LayerSpec,
    columns: Mapping[str, Any],
    rows: Any,
    *,
    partial: bool = False,
    allow_computed: bool = False,
) -> tuple[dict[str, CodedColumn], list[tuple[int, int, Problem]]]:
    """:func:`check_columns` with each problem as ``(position, field order, problem)``.

    A column value :data:`ABSENT` is a field the row does not name (``partial``: kept as
    ABSENT; a blank value there comes back as None). ``rows`` may hold None (no row).
    """
    row_list = rows.tolist() if isinstance(rows, np.ndarray) else list(rows)
    n = len(row_list)
    found = _unknown_fields(spec, columns, row_list)
    out: dict[str, CodedColumn] = {}
    for order, fspec in enumerate(spec.fields):
        given = columns.get(fspec.name)
        codes, raw = factorize(given, n) if given is not None or not partial else _absent(n)
        clean: list[Any] = []
        refused: dict[int, Problem] = {}
        for code, value in enumerate(raw):
            kept, problem = _check_one(fspec, value, partial, allow_computed)
            clean.append(kept)
            if problem is not None:
                refused[code] = problem
        out[fspec.name] = CodedColumn(codes, clean)
        if refused:
            hit = np.isin(codes, np.fromiter(refused, dtype=np.intp, count=len(refused)))
            for i in np.flatnonzero(hit).tolist():
                row = row_list[i]
                problem = refused[int(codes[i])]
                params = {**problem.params, "row": row}
                found.append((i, order, replace(problem, row=row, params=params)))
    found.sort(key=lambda item: (item[0], item[1]))
    return out, found


def _absent(n: int) -> tuple[np.ndarray, list[Any]]:
    return np.zeros(n, dtype=np.intp), [ABSENT]


def _unknown_fields(
    spec: LayerSpec, columns: Mapping[str, Any], rows: list[int | None]
) -> list[tuple[int, int, Problem]]:
    """A warning for each row that names a field the layer does not have."""
    found: list[tuple[int, int, Problem]] = []
    for name in columns:
        if name in spec._by_name or name in SYSTEM_FIELDS:
            continue
        values = columns[name]
        for i, row in enumerate(rows):
            if not isinstance(values, list) or values[i] is not ABSENT:
                params = {"row": row}
                found.append(
                    (i, -1, Problem("unknown_field", row, str(name), None, params, "warning"))
                )
    return found


def _check_one(
    fspec: FieldSpec, value: Any, partial: bool, allow_computed: bool
) -> tuple[Any, Problem | None]:
    """One distinct value of a field: its clean value (None, or ABSENT in a partial
    check, where it is left out) and the problem (without a row)."""
    present = value is not ABSENT and not _is_blank(value)
    if fspec.computed:
        if present and not allow_computed:
            return ABSENT if partial else None, _computed_problem(fspec, None)
        return ABSENT if partial else None, None
    if not present:
        if partial and value is not ABSENT and fspec.required:
            return ABSENT, _required_problem(fspec, None)  # an update cannot clear it
        if partial:
            return (ABSENT if value is ABSENT else None), None
        if fspec.default is not None:
            return fspec.default, None
        if fspec.required:
            return None, _required_problem(fspec, None)
        return None, None
    kept, problem = coerce_value(fspec, value, None)
    if problem is not None:
        return (ABSENT if partial else None), problem
    return kept, None


def _computed_problem(fspec: FieldSpec, row: int | None) -> Problem:
    """A value given for a field the store computes (a warning: it is ignored)."""
    params = {"row": row, "label": fspec.label_in("zh")}
    return Problem("computed_field", row, fspec.name, None, params, "warning")


def _required_problem(fspec: FieldSpec, row: int | None) -> Problem:
    """A required field without a value."""
    params = {"row": row, "label": fspec.label_in("zh"), "label_en": fspec.label_in("en")}
    return Problem("required", row, fspec.name, None, params)
