"""Writing a flow map as one HTML file, self-contained by default (works offline).

:func:`save_map` inlines the vendored Leaflet, jQuery and d3 (``kzspatial/render/_assets``,
see its ``README.md``) in place of folium's CDN links, drops folium's unused icon assets,
adds a message shown when Leaflet fails to load, and writes atomically. The element ids
folium draws at random are replaced, while rendering, by ids numbered in the order of
the element tree, so the same map gives the same bytes in every run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from kzspatial._errors import OverwriteError, ValidationError
from kzspatial.render._atomic import atomic_path

if TYPE_CHECKING:
    import folium
    from branca.element import Element

__all__ = ["save_map"]

# Exact URLs folium 0.20 / branca 0.8 emit -> vendored file in kzspatial/render/_assets.
_VENDORED = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3.min.js",
}
# folium's default icon-marker assets; only L.AwesomeMarkers icons (folium.Icon) need
# them.
_ICON_ASSETS = (
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css",
)
_SCRIPT_SRC = re.compile(r'<script\b[^>]*\bsrc="(https?://[^"]+)"[^>]*>\s*</script>\s*')
_STYLESHEET = re.compile(r'<link\b[^>]*\bhref="(https?://[^"]+\.css)"[^>]*>\s*')
_FALLBACK = (
    "<script>if (typeof L === 'undefined') "
    "{document.body.insertAdjacentHTML('afterbegin', "
    '\'<div class="kz-map-fallback" '
    'style="position:fixed;z-index:9999;top:0;left:0;right:0;'
    'padding:16px;background:#fff3cd;color:#664d03;font:15px Arial,sans-serif">The map '
    "library (Leaflet) could not be loaded, so this map cannot be shown. Save it with "
    "offline=True, or open it with network access; the data are also in the GeoPackage "
    "output.</div>');}</script>"
)


def _asset_text(name: str) -> str:
    return (
        resources.files("kzspatial.render")
        .joinpath("_assets", name)
        .read_text(encoding="utf-8")
    )


def _png_data_uri(name: str) -> str:
    data = (
        resources.files("kzspatial.render")
        .joinpath("_assets", "images", name)
        .read_bytes()
    )
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _leaflet_css() -> str:
    # The stylesheet refers to images/*.png next to it; inline them so nothing is
    # fetched.
    return re.sub(
        r"url\(images/([\w.-]+\.png)\)",
        lambda match: f"url({_png_data_uri(match.group(1))})",
        _asset_text("leaflet.css"),
    )


def _inline_assets(html: str) -> str:
    """Inline vendored CDN assets, drop unused icon assets, refuse the rest."""
    uses_icons = "L.AwesomeMarkers" in html
    unknown: list[str] = []

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        if url in _VENDORED:
            code = _asset_text(_VENDORED[url])
            if _VENDORED[url] == "leaflet.js":
                # Default markers read their icon from a path next to leaflet.css, which
                # does not exist inline; give them data URIs instead.
                code += (
                    "\nL.Icon.Default.imagePath='';L.Icon.Default.mergeOptions({"
                    f"iconUrl:'{_png_data_uri('marker-icon.png')}',"
                    f"iconRetinaUrl:'{_png_data_uri('marker-icon-2x.png')}',"
                    f"shadowUrl:'{_png_data_uri('marker-shadow.png')}'}});"
                )
            return f"<script>{code}</script>\n"
        if url in _ICON_ASSETS and not uses_icons:
            return ""
        unknown.append(url)
        return match.group(0)

    def stylesheet(match: re.Match[str]) -> str:
        url = match.group(1)
        if url in _VENDORED:
            css = (
                _leaflet_css()
                if _VENDORED[url] == "leaflet.css"
                else _asset_text(_VENDORED[url])
            )
            return f"<style>{css}</style>\n"
        if url in _ICON_ASSETS and not uses_icons:
            return ""
        unknown.append(url)
        return match.group(0)

    html = _SCRIPT_SRC.sub(script, html)
    html = _STYLESHEET.sub(stylesheet, html)
    if unknown:
        raise ValidationError(
            f"offline=True cannot inline {len(unknown)} asset(s) that kzspatial does "
            "not vendor: "
            f"{unknown}. Remove the plugin or icon markers that need them, or save "
            "with "
            "offline=False"
        )
    return html


def _tree(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _tree(child)


@contextlib.contextmanager
def _numbered_ids(root: Element) -> Iterator[None]:
    """Give every element under ``root`` a numbered id for the block, then restore them.

    folium and branca give each element 128 random bits as id (``os.urandom``,
    ``uuid4``), written into every JavaScript variable name; numbering them in tree
    order makes the page a function of the map alone. The ids keep their form (32 hex
    digits: a hash of the number), and the map's own ids come back afterwards, so a map
    shown in a notebook after saving is unaffected.
    """
    elements = list(dict.fromkeys(_tree(root)))  # an element shared twice: once
    saved = [element._id for element in elements]
    try:
        for number, element in enumerate(elements):
            element._id = hashlib.sha256(b"kzspatial-%d" % number).hexdigest()[:32]
        yield
    finally:
        for element, original in zip(elements, saved, strict=True):
            element._id = original


def save_map(
    m: folium.Map,
    path: str | os.PathLike[str],
    *,
    offline: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write a folium map as one HTML file, by default self-contained (works offline).

    Parameters
    ----------
    m : folium.Map
        The map, e.g. from :func:`flow_map`.
    path : str or os.PathLike
        Output ``.html`` file; parent directories are created.
    offline : bool, default True
        Inline Leaflet, jQuery and d3 (vendored, see ``kzspatial/render/_assets/README.md``)
        and drop folium's unused icon assets (bootstrap, Font Awesome, awesome-markers),
        so the file renders with no network. Basemap tiles are still requested; without
        network they stay grey. With False the file loads its scripts from the CDNs
        (smaller, needs network).
    overwrite : bool, default False
        Replace an existing file; otherwise an existing ``path`` raises.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OverwriteError
        If ``path`` exists and ``overwrite`` is False.
    ValidationError
        If ``offline`` and the map uses assets kzspatial does not vendor (icon markers,
        plugins).

    Notes
    -----
    The same map gives the same bytes in every run: folium's random element ids are
    numbered in tree order while rendering. The file is written to a temporary file in the same folder and moved into place with
    :func:`os.replace`, so an interrupted run leaves an earlier map intact. Either way a
    short script shows a message instead of a blank page when Leaflet fails to load.
    """
    target = Path(path)
    if target.exists() and not overwrite:  # refuse before rendering
        raise OverwriteError(f"{target} exists; pass overwrite=True to replace it")
    root = m.get_root()
    with _numbered_ids(root):
        html = root.render()
    if offline:
        html = _inline_assets(html)
    html = (
        html.replace("</body>", _FALLBACK + "\n</body>", 1)
        if "</body>" in html
        else html + _FALLBACK
    )
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return target
