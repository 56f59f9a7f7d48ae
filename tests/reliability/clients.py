"""A write client for the reliability tests (stdlib only, so it starts in milliseconds).

``clients.py BASE_URL TOKEN PLAN.json DEADLINE_EPOCH [STOP_FILE]`` runs the plan's requests
in order (and starts no new one once STOP_FILE exists):

- ``ogc``: ``POST /ogc/collections/<layer>/items`` (one feature),
- ``capture``: ``POST /api/capture`` (one feature),
- ``upload``: ``POST /api/uploads`` with a GeoJSON file of the plan's features (a batch).

Each request carries an ``Idempotency-Key`` and is retried with the same key while the
server cannot be reached or answers 5xx (it may be down: the crash tests kill it), until
the deadline. One JSON line per request: key, final status, ids acknowledged, attempts,
and the statuses of failed attempts.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def send(base: str, token: str, item: dict) -> tuple[int, dict]:
    layer, features = item["layer"], item["features"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": item["key"]}
    if item["kind"] == "ogc":
        url = f"{base}/ogc/collections/{layer}/items"
        body = json.dumps(features[0]).encode()
        headers["Content-Type"] = "application/geo+json"
    elif item["kind"] == "capture":
        url = f"{base}/api/capture"
        body = json.dumps(
            {
                "layer": layer,
                "geometry": features[0]["geometry"],
                "properties": features[0]["properties"],
                "accuracy_m": 3,
            }
        ).encode()
        headers["Content-Type"] = "application/json"
    else:
        url = f"{base}/api/uploads"
        boundary = uuid.uuid4().hex
        collection = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="layer"\r\n\r\n{layer}\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="crs"\r\n\r\nwgs84\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{item["key"]}.geojson"\r\nContent-Type: application/geo+json\r\n\r\n',
        ]
        body = "".join(parts).encode() + collection + f"\r\n--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
        try:
            return error.code, json.loads(raw or b"{}")
        except ValueError:
            return error.code, {"raw": raw[:300].decode(errors="replace")}


def ids_of(kind: str, body: dict) -> list[str]:
    if kind == "ogc":
        return [str(body.get("id"))]
    if kind == "capture":
        return [str(body.get("id"))]
    return [str(i) for i in body.get("ids", [])]


def main() -> int:
    base, token, plan_path, deadline = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    stop_file = sys.argv[5] if len(sys.argv) > 5 else ""
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    for item in plan:
        if stop_file and os.path.exists(stop_file):
            break
        time.sleep(item.get("pause", 0))
        attempts, failures = 0, []
        status, body = 0, {}
        while time.time() < deadline:
            attempts += 1
            started = time.monotonic()
            try:
                status, body = send(base, token, item)
            except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset,
                # timed out, half a reply
                failures.append(type(exc).__name__)
                time.sleep(0.05)
                continue
            if status >= 500:
                failures.append(status)
                time.sleep(0.05)
                continue
            break
        else:
            status = 0
        record = {
            "key": item["key"],
            "kind": item["kind"],
            "layer": item["layer"],
            "markers": [f["properties"] for f in item["features"]],
            "status": status,
            "ids": ids_of(item["kind"], body) if 200 <= status < 300 else [],
            "replayed": bool(body.get("replayed")) or body.get("status") == "replayed",
            "attempts": attempts,
            "failures": failures[:20],
            "seconds": round(time.monotonic() - started, 4) if attempts else 0,
            "error": body.get("error") if status >= 400 else None,
        }
        print(json.dumps(record, ensure_ascii=False), flush=True)
        if status == 0:
            break  # past the deadline: stop by ourselves
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
