"""Real gunicorn servers for tests that need several hosts (``tests/webmap/test_two_hosts.py``).

Each server is ``gunicorn -w N 'webmap.app:create_app()'`` on a free port of 127.0.0.1,
in its own process group, configured only through ``VILLAGEWORKS_*`` variables, and is
killed (that group, by the id this module started) when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _control_socket_flags() -> list[str]:
    # gunicorn 25+ opens a control socket at one fixed path per user: not for two servers.
    from gunicorn.config import KNOWN_SETTINGS

    names = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited {proc.returncode}: {log.read_text()[-4000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/ogc/conformance", timeout=10).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer in {timeout_s} s: {log.read_text()[-4000:]}")


@contextlib.contextmanager
def gunicorn_server(
    data_dir: Path, log_dir: Path, workers: int = 2, **settings: str
) -> Iterator[str]:
    """A gunicorn server over ``data_dir`` with ``settings`` (``VILLAGEWORKS_*``); its
    base URL while the context lasts."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VILLAGEWORKS_LOG_LEVEL": "WARNING"}
    env.pop("VILLAGEWORKS_CRASH_AT", None)
    env.update({"VILLAGEWORKS_DATA": str(data_dir), "VILLAGEWORKS_BASEMAP": "none", **settings})
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        *("-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120"),
        *_control_socket_flags(),
        "webmap.app:create_app()",
    ]
    log = log_dir / f"gunicorn-{port}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command,
            cwd=log_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the kill below takes the workers too
        )
    try:
        _wait_ready(proc, url, log, timeout_s=120)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
