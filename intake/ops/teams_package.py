"""The Teams app package (manifest.json + two icons, zipped), built by `meld teams-package`.

    meld teams-package                       ./meld-teams.zip from teams_app/ and the settings
    meld teams-package --output app.zip      elsewhere

The manifest in teams_app/ (beside this module, shipped with Meld) has placeholders:
{{APP_ID}} (MELD_TEAMS_APP_ID), {{BASE_URL}} (MELD_BASE_URL, must be https) and {{DOMAIN}}
(its host). Upload the zip in Teams
(Apps > Manage your apps > Upload an app) or through the Teams admin center.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SOURCE = Path(__file__).parent / "teams_app"  # shipped with Meld (package data)
ICONS = {"color.png": 192, "outline.png": 32}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class PackageError(ValueError):
    pass


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise PackageError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def build_manifest(template: str, *, app_id: str, base_url: str) -> dict[str, Any]:
    if not _GUID.match(app_id):
        raise PackageError(f"MELD_TEAMS_APP_ID must be a GUID (got {app_id!r})")
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise PackageError(f"MELD_BASE_URL must be a public https URL (got {base_url!r}): "
                           "Teams reaches Meld only over HTTPS")
    text = (template.replace("{{APP_ID}}", app_id)
            .replace("{{BASE_URL}}", base_url.rstrip("/"))
            .replace("{{DOMAIN}}", parts.hostname))
    manifest = json.loads(text)
    if "{{" in json.dumps(manifest):
        raise PackageError("the manifest has a placeholder this command does not know")
    return manifest


def build_package(output: Path, *, app_id: str, base_url: str,
                  source: Path = SOURCE) -> dict[str, Any]:
    """Write the zip; returns the manifest it holds."""
    manifest = build_manifest((source / "manifest.json").read_text(encoding="utf-8"),
                              app_id=app_id, base_url=base_url)
    icons = {}
    for name, size in ICONS.items():
        data = (source / name).read_bytes()
        if png_size(data) != (size, size):
            raise PackageError(f"{name} must be {size}x{size} pixels")
        icons[name] = data
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for name, data in icons.items():
            zf.writestr(name, data)
    return manifest
