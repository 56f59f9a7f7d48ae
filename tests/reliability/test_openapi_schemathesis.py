"""The OpenAPI document of the OGC API (``/ogc/api``) and the server agree (issue #15,
item 16): schemathesis generates requests from the document, valid ones and ones the
document forbids, sends them to the app under gunicorn on loopback (the demo county)
and checks every answer:

- never a server error (5xx);
- the status code, content type, headers and body are the ones the document declares;
- a request the document allows is accepted, one it forbids is refused (400/404).

The search is bounded and derandomized (a fixed number of examples per operation and
phase), so the test takes the same path on every run.

JSON Schema cannot say everything the server checks: that each lower ``bbox`` corner
value is not above the upper one (and CRS84 latitudes lie within 90 degrees), that a
``datetime`` interval does not end before it starts, that February has no 30th, or that
the generic items path takes no ``datetime`` for a layer without dates. The
server answers such requests 400 with a message; the generated *valid* requests are
made to respect these rules (``_respect_what_json_schema_cannot_say``), the invalid
ones are sent as generated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import events

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 25
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
)


@pytest.fixture
def served(tmp_path: Path, rel: Any, gunicorn: Any) -> Any:
    data = rel.demo_data_dir(tmp_path / "data")
    return gunicorn(data, workers=2)


def _config(check_names: tuple[str, ...] = CHECKS) -> Any:
    checks: dict[str, Any] = {"enabled": False}
    checks.update({name: {"enabled": True} for name in check_names})
    return schemathesis.Config.from_dict(
        {
            "seed": 15,
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": checks,
            "workers": 2,
            "request-timeout": 60,  # 2 cores shared with other test runs
        }
    )


#: Layers without a date (their own items path lists no ``datetime``), from the document.
_DATELESS: set[str] = set()
_MAX_LIMIT = [0]
_DAY_RE = re.compile(r"([0-9]{4}-[0-9]{2}-)([0-9]{2})")


def _ordered_bbox(text: str) -> str:
    values = [float(v) for v in text.split(",")]
    half = len(values) // 2
    lower = [min(a, b) for a, b in zip(values[:half], values[half:], strict=True)]
    upper = [max(a, b) for a, b in zip(values[:half], values[half:], strict=True)]
    lower[1], upper[1] = (min(max(v, -90.0), 90.0) for v in (lower[1], upper[1]))
    return ",".join(repr(v) for v in lower + upper)


def _ordered_datetime(text: str) -> str:
    text = _DAY_RE.sub(lambda m: m.group(1) + min(m.group(2), "28"), text)
    parts = text.split("/")
    if len(parts) == 2 and all(p not in ("", "..") for p in parts):
        parts = sorted(parts, key=lambda p: p[:10])
    return "/".join(parts)


def _respect_what_json_schema_cannot_say(context: Any, case: Any) -> Any:
    meta = getattr(case, "meta", None)
    tile = case.path_parameters or {}
    if meta is not None and meta.generation.mode.is_positive and "tileCol" in tile:
        top = 1 << int(tile["tileMatrix"])  # a column and row exist below 2^zoom only
        tile.update(tileCol=int(tile["tileCol"]) % top, tileRow=int(tile["tileRow"]) % top)
    if meta is None or not meta.generation.mode.is_positive or not case.query:
        return case
    query = dict(case.query)
    if (case.path_parameters or {}).get("collectionId") in _DATELESS:
        query.pop("datetime", None)  # 400: the layer has no date to filter on
    if isinstance(query.get("bbox"), str) and query["bbox"]:
        # A projected bbox-crs has no latitude; the clamp only matters for CRS84.
        crs84 = "CRS84" in str(query.get("bbox-crs", "CRS84"))
        query["bbox"] = _ordered_bbox(query["bbox"]) if crs84 else _sorted_only(query["bbox"])
    if isinstance(query.get("datetime"), str):
        query["datetime"] = _ordered_datetime(query["datetime"])
    case.query = query
    return case


def _sorted_only(text: str) -> str:
    values = [float(v) for v in text.split(",")]
    half = len(values) // 2
    pairs = list(zip(values[:half], values[half:], strict=True))
    return ",".join(repr(v) for v in [min(p) for p in pairs] + [max(p) for p in pairs])


def run_schemathesis(
    url: str,
    *,
    methods: tuple[str, ...] = ("GET",),
    checks: tuple[str, ...] = CHECKS,
    **headers: str,
) -> list:
    """Every failure schemathesis finds: (operation, check, title, reproduction)."""
    config = _config(checks)
    schema = schemathesis.openapi.from_url(f"{url}/ogc/api", config=config)
    _DATELESS.clear()
    _MAX_LIMIT[0] = schema.raw_schema["components"]["parameters"]["limit"]["schema"]["maximum"]
    for path, operations in schema.raw_schema["paths"].items():
        layer = re.fullmatch(r"/collections/([a-z0-9_]+)/items", path)
        names = {str(p.get("name", p.get("$ref", ""))) for p in operations["get"]["parameters"]}
        if layer and not any("datetime" in n for n in names):
            _DATELESS.add(layer.group(1))
    schema = schema.include(method_regex=f"^({'|'.join(methods)})$")
    schema.hook("map_case")(_respect_what_json_schema_cannot_say)
    if headers:
        schema.config.headers = headers
    found: list[tuple[str, str, str, str]] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, (events.NonFatalError, events.FatalError)):
            found.append(("-", "error", type(event).__name__, str(getattr(event, "value", event))))
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        sample = check.failure_info.code_sample
                        if not _a_limit_above_the_maximum(check.name, sample):
                            found.append((event.recorder.label, check.name, failure.title, sample))
    return sorted(set(found))


def _a_limit_above_the_maximum(check: str, sample: str) -> bool:
    """Whether a forbidden request that was accepted asked for a ``limit`` above the
    document's maximum: OGC API - Features Part 1 declares the maximum and asks the
    server to lower a larger limit to it rather than refuse it (a test of the lowering
    is :func:`test_a_limit_above_the_maximum_is_lowered`)."""
    if check != "negative_data_rejection":
        return False
    limits = [int(v) for v in re.findall(r"[?&]limit=([0-9]+)", sample)]
    return any(limit > _MAX_LIMIT[0] for limit in limits)


def test_anonymous_reads_match_the_document(served: Any) -> None:
    failures = run_schemathesis(served.url)
    assert failures == [], "\n".join(" | ".join(f) for f in failures)


def test_authenticated_writes_match_the_document(served: Any, rel: Any) -> None:
    token = rel.make_accounts(served.data_dir)["planner"]
    # A body the document allows may still break the layer's rules (a required field, a
    # location outside the county): 422, which no JSON Schema of a body can foresee. So
    # writes are checked for everything but the acceptance of valid data.
    failures = run_schemathesis(
        served.url,
        methods=("POST", "PUT", "PATCH", "DELETE"),
        checks=tuple(c for c in CHECKS if c != "positive_data_acceptance"),
        Authorization=f"Bearer {token}",
    )
    assert failures == [], "\n".join(" | ".join(f) for f in failures)


def test_a_limit_above_the_maximum_is_lowered(tmp_path: Path, rel: Any, gunicorn: Any) -> None:
    data = rel.demo_data_dir(tmp_path / "data")
    server = gunicorn(data, workers=1, VILLAGEWORKS_OGC_MAX_LIMIT="5")
    status, _, raw = rel.http("GET", f"{server.url}/ogc/api")
    assert status == 200
    limit = json.loads(raw)["components"]["parameters"]["limit"]["schema"]
    assert limit["maximum"] == 5
    status, _, raw = rel.http("GET", f"{server.url}/ogc/collections/streetlights/items?limit=6")
    assert status == 200
    page = json.loads(raw)
    assert page["numberReturned"] == 5 < page["numberMatched"]
