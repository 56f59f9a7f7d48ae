"""Responses that serve a photo or thumbnail from the site's files.

A photo in the data directory goes out through ``send_file`` (conditional and range
requests as before); one in PostgreSQL (``vw_files``) is streamed in chunks
(:meth:`layers.site_files.SiteFiles.chunks`) with its ``Content-Length``, and an ETag
made from the photo id (ids derive from the content, so an id never names other bytes),
answering 304 to a matching ``If-None-Match``. Either way the type is the checked one,
with no sniffing.
"""

from __future__ import annotations

from flask import Response, request, send_file
from werkzeug.wrappers import Response as BaseResponse

from layers.photos import PhotoStore

#: Seconds a browser keeps a photo (its id names its content).
MAX_AGE_S = 86400


def photo_response(photos: PhotoStore, name: str, mimetype: str, etag: str) -> BaseResponse:
    """The file ``name`` of ``photos`` (from :meth:`PhotoStore.name` or ``thumb_name``)."""
    local = photos.files.local_path(name)
    if local is not None:
        response: BaseResponse = send_file(local, mimetype=mimetype, max_age=MAX_AGE_S)
    else:
        response = _streamed(photos, name, mimetype, etag)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def _streamed(photos: PhotoStore, name: str, mimetype: str, etag: str) -> BaseResponse:
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        size = (photos.files.stat(name) or (0, 0.0))[0]
        response = Response(photos.files.chunks(name), mimetype=mimetype)
        response.headers["Content-Length"] = str(size)
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_S
    return response


__all__ = ["MAX_AGE_S", "photo_response"]
