"""gzip for every text answer of the app: pages, JSON, GeoJSON, scripts, styles, SVG, tiles.

One ``after_request`` hook (:func:`init_app`) compresses an answer when the client
accepts gzip, its type is worth it (:data:`COMPRESSIBLE`, or a ``+json`` / ``+xml``
type) and it holds at least :data:`MIN_BYTES`. Already-compressed types (images, zip,
xlsx, docx, pdf) are left alone. Every answer of a compressible type says
``Vary: Accept-Encoding``, so a shared cache never hands gzip to a client that did not
ask for it.

What must keep working:

- **ETags.** A compressed answer is another representation: its ETag gets the suffix
  ``-gz`` (weak stays weak). A client that kept it sends that tag back in
  ``If-None-Match``; :func:`base_etags` gives the tags without the suffix for views
  comparing their own, and static files are answered 304 here, before anything is
  compressed.
- **Ranges.** A ``Range`` request, a 206 and a ``Content-Range`` are never touched; a
  compressed answer drops ``Accept-Ranges`` (its byte offsets would be the gzip stream's).
- **Streams.** A streamed answer (a generator) is compressed chunk by chunk, each chunk
  flushed at once, so a client still gets every part when it is sent.
- **Files** (``send_file``, the static folder) are read and compressed once per ETag and
  kept in a small cache (:data:`FILE_CACHE_ITEMS`).
- ``Cache-Control: no-transform`` and a set ``Content-Encoding`` are respected.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from flask import request
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from flask import Flask

#: Content types worth compressing (besides any ``+json`` or ``+xml`` type).
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/csv",
        "text/xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/json",
        "application/geo+json",
        "application/xml",
        "application/vnd.mapbox-vector-tile",
        "application/x-protobuf",
        "image/svg+xml",
    }
)
#: Smaller bodies are sent as they are: gzip's header and trailer would eat the gain.
MIN_BYTES = 1000
#: Files larger than this are sent as they are (never read whole into memory).
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Compressed static files kept in memory, keyed by path, ETag and coding.
FILE_CACHE_ITEMS = 256
#: zlib's level for answers made per request, and for files compressed once.
DYNAMIC_LEVEL = 6
FILE_LEVEL = 9
GZIP = "gzip"
_SUFFIX = {GZIP: "-gz"}


class _FileCache:
    """A small thread-safe LRU of compressed file bodies."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: tuple[str, str, str], body: bytes) -> None:
        with self._lock:
            self._items[key] = body
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_FILES = _FileCache(FILE_CACHE_ITEMS)


def is_compressible(mimetype: str | None) -> bool:
    """True for a content type that gzip shrinks (text, JSON, GeoJSON, SVG, MVT).

    >>> is_compressible("application/geo+json"), is_compressible("image/png")
    (True, False)
    >>> is_compressible("application/vnd.oai.openapi+json"), is_compressible(None)
    (True, False)
    """
    if not mimetype:
        return False
    mimetype = mimetype.lower()
    return mimetype in COMPRESSIBLE or mimetype.endswith(("+json", "+xml"))


def base_etags(header: str | None) -> str:
    """An ``If-None-Match`` header with the coding suffixes taken off every tag, so a view
    can compare it with the ETag it makes for the uncompressed page.

    >>> base_etags('"abc-gz", W/"d"')
    '"abc", W/"d"'
    >>> base_etags(None)
    ''
    """
    text = header or ""
    for suffix in _SUFFIX.values():
        text = text.replace(f'{suffix}"', '"')
    return text


def coded_etag(tag: str, coding: str = GZIP) -> str:
    """The ETag of ``coding``'s representation of the answer tagged ``tag``."""
    return f"{tag}{_SUFFIX[coding]}"


def _accepted_coding() -> str | None:
    if request.accept_encodings[GZIP] > 0 or request.accept_encodings["*"] > 0:
        return GZIP
    return None


def _worth_compressing(response: Response) -> bool:
    if response.status_code < 200 or response.status_code in (204, 206, 304):
        return False
    if response.headers.get("Content-Encoding") or "Content-Range" in response.headers:
        return False
    if "no-transform" in (response.headers.get("Cache-Control") or "").lower():
        return False
    if request.range is not None:
        return False
    length = response.content_length
    if length is not None and not MIN_BYTES <= length <= MAX_FILE_BYTES:
        return False
    return True


def _retag(response: Response, coding: str) -> bool:
    """Give the answer the coding's ETag; True when the client already holds it (304)."""
    tag, weak = response.get_etag()
    if not tag:
        return False
    response.set_etag(coded_etag(tag, coding), bool(weak))
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return False
    return bool(request.if_none_match.contains_weak(coded_etag(tag, coding)))


def _not_modified(response: Response) -> Response:
    body = response.response
    if hasattr(body, "close"):
        body.close()
    response.direct_passthrough = False
    response.status_code = 304
    response.response = []
    for name in ("Content-Length", "Content-Type", "Content-Encoding"):
        response.headers.pop(name, None)
    return response


def _file_body(response: Response, coding: str) -> bytes:
    """The compressed body of a ``send_file`` answer, from the cache when it was made."""
    tag = response.get_etag()[0] or ""
    key = (request.path, tag, coding)
    body = response.response
    cached = _FILES.get(key) if tag else None
    if cached is None:
        data = b"".join(c.encode() if isinstance(c, str) else c for c in body)
        cached = gzip.compress(data, FILE_LEVEL, mtime=0)
        if tag:
            _FILES.put(key, cached)
    if hasattr(body, "close"):
        body.close()
    return cached


def _stream(chunks: Iterable[bytes | str], charset: str) -> Iterator[bytes]:
    encoder = zlib.compressobj(DYNAMIC_LEVEL, zlib.DEFLATED, 31)
    try:
        for chunk in chunks:
            data = chunk.encode(charset) if isinstance(chunk, str) else chunk
            if data:
                yield encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
        yield encoder.flush()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def compress_response(response: Response) -> Response:
    """``response`` gzipped when the request and the answer allow it (see module doc)."""
    if not is_compressible(response.mimetype):
        return response
    response.vary.add("Accept-Encoding")
    coding = _accepted_coding()
    if coding is None or not _worth_compressing(response):
        return response
    data = None
    if not response.direct_passthrough and not response.is_streamed:
        data = response.get_data()
        if len(data) < MIN_BYTES:
            return response
    if _retag(response, coding):
        return _not_modified(response)
    if data is not None:
        response.set_data(gzip.compress(data, DYNAMIC_LEVEL, mtime=0))
    elif response.direct_passthrough:
        response.direct_passthrough = False
        response.set_data(_file_body(response, coding))
    else:
        response.response = _stream(response.response, "utf-8")
        response.headers.pop("Content-Length", None)
    response.headers["Content-Encoding"] = coding
    response.headers.pop("Accept-Ranges", None)
    return response


def init_app(app: Flask) -> None:
    """Compress the app's answers. Call it before the other extensions' ``init_app``:
    Flask runs ``after_request`` hooks in reverse order, so this one then runs last and
    compresses the finished body."""
    app.after_request(compress_response)
