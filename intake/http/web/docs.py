"""The API documentation pages, Swagger UI (/docs) and ReDoc (/redoc), served from Meld's
own static files (see static/VENDORED.md): hospital networks often block the CDNs
FastAPI's defaults load them from. Only `intake.app` imports this (for its router).
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
DOCS_OAUTH2_REDIRECT = "/docs/oauth2-redirect"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _docs_page(page: HTMLResponse) -> HTMLResponse:
    """A docs page with its own policy: Meld's scripts plus the page's inline ones by hash.

    ReDoc styles itself with <style> elements it creates at run time, hence inline styles;
    its search index runs in a worker made from a blob: URL.
    """
    body = bytes(page.body).decode()
    digests = (hashlib.sha256(script.encode()).digest()
               for script in _INLINE_SCRIPT.findall(body))
    hashes = " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ).replace("'self' ;", "'self';")
    return page


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return _docs_page(get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} – API",
        swagger_js_url="/static/swagger-ui-bundle.js", swagger_css_url="/static/swagger-ui.css",
        swagger_favicon_url="/favicon.ico", oauth2_redirect_url=DOCS_OAUTH2_REDIRECT,
    ))


@router.get(DOCS_OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return _docs_page(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return _docs_page(get_redoc_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} – API",
        redoc_js_url="/static/redoc.standalone.js", redoc_favicon_url="/favicon.ico",
        with_google_fonts=False,
    ))
