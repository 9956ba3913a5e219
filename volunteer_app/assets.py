"""Static assets for weak links: fingerprinted URLs, long-lived caching, compression.

Every `url_for('static', filename=…)` (and Bootstrap-Flask's `bootstrap.static`) gets
`?v=<hash of the file's content>`: a changed file has a new URL, so a URL that carries the
current hash can be cached for a year (`immutable`); anything else revalidates. Static files
are compressed once per content (Brotli or gzip, as the browser accepts) and kept in memory;
pages and JSON are compressed by Flask-Compress. Behind nginx the proxy may do the same
(docs/deploy.md); a response already encoded is left alone.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

import brotli
from flask import Flask, current_app, request
from flask_compress import Compress

#: The endpoints that serve files from a static folder.
STATIC_ENDPOINTS = ("static", "bootstrap.static")
YEAR = 365 * 24 * 3600
#: What is worth compressing among static files (images other than SVG already are).
COMPRESSIBLE = frozenset(
    {
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "application/wasm",
        "image/svg+xml",
        "text/plain",
    }
)

compress = Compress()


def register(app: Flask) -> None:
    app.config.setdefault("COMPRESS_REGISTER", True)
    # Pages and API answers: Brotli or gzip; static files are handled below (cached).
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_STREAMS", False)
    if app.config.get("APP_COMPRESS", True):
        compress.init_app(app)
    app.url_defaults(add_version)
    # Registered after Flask-Compress, so it runs before it (after_request runs in reverse).
    app.after_request(static_headers)


def static_folder(endpoint: str) -> str | None:
    """The folder an endpoint serves files from."""
    app = current_app
    if endpoint == "static":
        return app.static_folder
    blueprint = app.blueprints.get(endpoint.rsplit(".", 1)[0])
    return blueprint.static_folder if blueprint is not None else None


#: (folder, filename) -> the file, once found: resolving a path costs a dozen lstat calls,
#: and a page asks for the version of 8 files or more (half a millisecond a page).
_found: dict[tuple[str, str], Path] = {}


def file_path(endpoint: str, filename: str) -> Path | None:
    folder = static_folder(endpoint)
    if not folder or not filename:
        return None
    path = _found.get((folder, filename))
    if path is not None:
        return path
    root = Path(folder).resolve()
    path = (root / filename).resolve()
    if root not in path.parents or not path.is_file():
        return None
    if path == root / filename:  # only names as written in templates: a bounded cache
        _found[(folder, filename)] = path
    return path


def version_of(endpoint: str, filename: str) -> str | None:
    """A short hash of the file's content (None when there is no such file)."""
    path = file_path(endpoint, filename)
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:  # gone since it was found
        _found.pop((static_folder(endpoint) or "", filename), None)
        return None
    return _content_hash(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=512)
def _content_hash(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def add_version(endpoint: str, values: dict) -> None:
    """url_defaults: a static URL carries its content's version."""
    if endpoint in STATIC_ENDPOINTS and "v" not in values and values.get("filename"):
        version = version_of(endpoint, values["filename"])
        if version:
            values["v"] = version


def static_headers(response):
    """Cache-Control for static files by version, and their cached compressed body."""
    if request.endpoint not in STATIC_ENDPOINTS:
        return response
    filename = (request.view_args or {}).get("filename", "")
    current = version_of(request.endpoint, filename)
    if current and request.args.get("v") == current:
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        # An unversioned (or stale) URL: the browser asks again each time (304 when unchanged).
        response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept-Encoding")
    if (
        response.status_code != 200
        or "Content-Encoding" in response.headers
        or response.mimetype not in COMPRESSIBLE
        or not current
        or not current_app.config.get("APP_COMPRESS", True)
    ):
        return response
    encoding = _accepted(request.headers.get("Accept-Encoding", ""))
    if encoding is None:
        return response
    path = file_path(request.endpoint, filename)
    body = _compressed(str(path), current, encoding)
    if len(body) >= (path.stat().st_size if path else 0):
        return response
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = encoding
    response.headers["Content-Length"] = str(len(body))
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(f"{etag}-{encoding}", weak=weak)
    return response


def _accepted(header: str) -> str | None:
    offered = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        offered[name.strip().lower()] = quality
    for name in ("br", "gzip"):
        if offered.get(name, 0) > 0:
            return name
    return None


@lru_cache(maxsize=256)
def _compressed(path: str, version: str, encoding: str) -> bytes:
    data = Path(path).read_bytes()
    if encoding == "br":
        return brotli.compress(data, quality=11 if len(data) < 300_000 else 5)
    return gzip.compress(data, compresslevel=9, mtime=0)
