"""Folium map builders for the Map page (no Streamlit here).

* :func:`scene_map`: the scene as an image overlay (the main layer: it needs no network),
  a rectangle-only draw tool, and optionally an online base map (off by default).
* :func:`result_layer`: the per-tile class map as a GeoJSON layer (colour per class,
  tooltip with class and confidence), an outline of the area and a legend, all in one
  ``FeatureGroup`` so streamlit-folium can swap it without reloading the map.
* :func:`use_offline_assets`: folium and streamlit-folium load Leaflet and Leaflet.draw from
  CDNs; with no network the map would never start. The vendored copies in
  ``eurosat/assets/leaflet`` are handed to the browser as ``data:`` URLs instead.
"""

from __future__ import annotations

import base64
import io
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import folium.plugins
import numpy as np
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from eurosat.classes import CLASS_NAMES
from eurosat.decision import CLOUD_COLOR, UNCERTAIN_CODE, code_color, code_label
from eurosat.geo import BBox
from eurosat.tiling import AreaResult

if TYPE_CHECKING:  # pragma: no cover
    from eurosat.change import ChangeResult

ASSETS = Path(__file__).resolve().parent / "assets" / "leaflet"
RECTANGLE_COLOR = "#ff7800"
CLASS_OPACITY = 0.55

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".js": "text/javascript", ".css": "text/css"}


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _css_with_inlined_images(path: Path) -> str:
    """CSS text whose ``url(images/...)`` references are replaced by data URLs."""
    css = path.read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        target = path.parent / match.group(2)
        if not target.is_file():  # e.g. marker shadows we do not ship: drop the reference
            return "url()"
        return f"url('{_data_url(target.read_bytes(), _MIME[target.suffix])}')"

    return re.sub(r"url\((['\"]?)(images/[^'\")]+)\1\)", inline, css)


@lru_cache(maxsize=1)
def offline_assets() -> dict[str, str]:
    """Data URLs of the vendored Leaflet 1.9.3 and Leaflet.draw 1.0.4 (JS and CSS)."""
    return {
        "leaflet_js": _data_url((ASSETS / "leaflet.js").read_bytes(), _MIME[".js"]),
        "leaflet_css": _data_url(_css_with_inlined_images(ASSETS / "leaflet.css").encode(), _MIME[".css"]),
        "draw_js": _data_url((ASSETS / "leaflet.draw.js").read_bytes(), _MIME[".js"]),
        "draw_css": _data_url(_css_with_inlined_images(ASSETS / "leaflet.draw.css").encode(), _MIME[".css"]),
    }


def _walk(element: Any):
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def use_offline_assets(m: folium.Map) -> folium.Map:
    """Point every JS/CSS link of the map at the vendored Leaflet files (in place).

    The map uses only Leaflet and Leaflet.draw; folium's defaults also pull jQuery,
    Bootstrap and Font Awesome from CDNs, which nothing here needs. Call it after all
    elements were added (and on a feature group passed to streamlit-folium).
    """
    assets = offline_assets()
    for element in _walk(m):
        if isinstance(element, folium.Map):
            element.default_js = [("leaflet", assets["leaflet_js"])]
            element.default_css = [("leaflet_css", assets["leaflet_css"])]
        elif isinstance(element, folium.plugins.Draw):
            element.default_js = [("leaflet_draw_js", assets["draw_js"])]
            element.default_css = [("leaflet_draw_css", assets["draw_css"])]
        elif isinstance(element, JSCSSMixin):
            element.default_js, element.default_css = [], []
    return m


def image_data_url(rgba: np.ndarray, quality: int = 85) -> str:
    """Encode a uint8 (H, W, 3|4) picture as a data URL (WebP with alpha; PNG if WebP is missing)."""
    from PIL import Image, features

    img = Image.fromarray(rgba)
    buf = io.BytesIO()
    if features.check("webp"):
        img.save(buf, format="WEBP", quality=quality, method=4)
        return _data_url(buf.getvalue(), "image/webp")
    img.save(buf, format="PNG", optimize=True)
    return _data_url(buf.getvalue(), "image/png")


class _ClearOnDrawStart(MacroElement):
    """Only one rectangle at a time: empty the drawn-items group when a new drawing starts."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.on('draw:drawstart', function() {
                {{ this.group.get_name() }}.clearLayers();
            });
        {% endmacro %}
        """
    )

    def __init__(self, group: folium.FeatureGroup):
        super().__init__()
        self._name = "ClearOnDrawStart"
        self.group = group


def scene_map(
    overlay_url: str | None,
    bounds: BBox,
    attribution: str,
    basemap: bool = False,
    draw: bool = True,
) -> folium.Map:
    """The map of a scene: image overlay (main layer), rectangle draw tool, optional base map.

    Args:
        overlay_url: the scene picture (data URL, Web Mercator, see :func:`eurosat.geo.overlay_rgba`);
            None: no picture yet (a STAC search before its first rectangle), the map shows ``bounds``.
        bounds: (west, south, east, north) lon/lat of that picture.
        attribution: shown in the map's attribution control (e.g. the Copernicus notice).
        basemap: add OpenStreetMap tiles under the scene (needs the internet; off by default).
        draw: add the rectangle draw tool.
    """
    w, s, e, n = bounds
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=12, tiles=None, control_scale=True,
                   max_zoom=18, min_zoom=4, font_size="0.8rem", zoom_snap=0.25, zoom_delta=0.5)
    if basemap:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)", max_zoom=18).add_to(m)
    if overlay_url is not None:
        folium.raster_layers.ImageOverlay(
            overlay_url, bounds=[[s, w], [n, e]], name="Sentinel-2 scene", attribution=attribution,
            pixelated=True,
        ).add_to(m)
    if draw:
        drawn = folium.FeatureGroup(name="Drawn area", control=False)
        drawn.add_to(m)
        folium.plugins.Draw(
            feature_group=drawn,
            show_geometry_on_click=False,
            position="topleft",
            draw_options={
                "polyline": False, "polygon": False, "circle": False, "marker": False, "circlemarker": False,
                "rectangle": {"shapeOptions": {"color": RECTANGLE_COLOR, "weight": 2, "fillOpacity": 0.05},
                              "showArea": True, "metric": True},
            },
            edit_options={"edit": False, "remove": False},
        ).add_to(m)
        _ClearOnDrawStart(drawn).add_to(m)
    m.fit_bounds([[s, w], [n, e]])
    return use_offline_assets(m)


class Legend(MacroElement):
    """A legend control that lives as a layer: added and removed with its feature group."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = new (L.Layer.extend({
                onAdd: function(map) {
                    var html = {{ this.html|tojson }};
                    this._control = L.control({position: 'bottomright'});
                    this._control.onAdd = function() {
                        var div = L.DomUtil.create('div', 'eurosat-legend');
                        div.innerHTML = html;
                        L.DomEvent.disableClickPropagation(div);
                        return div;
                    };
                    this._control.addTo(map);
                    return this;
                },
                onRemove: function(map) {
                    if (this._control) { map.removeControl(this._control); }
                    return this;
                }
            }))();
            {{ this._parent.get_name() }}.addLayer({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, entries: list[tuple[str, str, str]], title: str = "Land cover"):
        super().__init__()
        self._name = "Legend"
        rows = "".join(
            f'<div><span style="display:inline-block;width:12px;height:12px;margin-right:6px;'
            f'background:{color};border:1px solid #333;vertical-align:middle"></span>{name}'
            f'<span style="color:#555"> {extra}</span></div>'
            for name, color, extra in entries
        )
        self.html = (
            '<div style="background:rgba(255,255,255,0.9);padding:6px 8px;border-radius:4px;'
            f'font:12px/1.5 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.4)"><b>{title}</b>{rows}</div>'
        )


def _status_style(code: int) -> tuple[str, str]:
    """(fill colour, dash pattern) of a tile code: uncertain tiles are dashed (hatched-looking)."""
    return code_color(code), "3 3" if code == UNCERTAIN_CODE else ""


def class_features(result: AreaResult) -> dict:
    """Light GeoJSON of the class map for display: tile, shown label, model class, probability,
    clear fraction, colour."""
    labels, conf, codes, clear = result.labels, result.confidence, result.codes, result.tile_quality.clear
    features = []
    for i in range(result.n_tiles):
        ring = result.footprints[i].round(7).tolist()
        color, dash = _status_style(int(codes[i]))
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
            "properties": {"tile": f"r{int(result.rows[i])} c{int(result.cols[i])}",
                           "class": code_label(int(codes[i])),
                           "model": CLASS_NAMES[int(labels[i])],
                           "confidence": f"{conf[i]:.0%}", "clear": f"{clear[i]:.0%}",
                           "color": color, "dash": dash},
        })
    return {"type": "FeatureCollection", "features": features}


def result_layer(result: AreaResult, opacity: float = CLASS_OPACITY) -> folium.FeatureGroup:
    """The class map of a result: cells coloured by class with tooltips, area outline, legend."""
    fg = folium.FeatureGroup(name="Land-cover classes")
    folium.GeoJson(
        class_features(result),
        name="classes",
        style_function=lambda f: {
            "fillColor": f["properties"]["color"],
            "color": "#555555" if f["properties"]["dash"] else f["properties"]["color"],
            "dashArray": f["properties"]["dash"], "weight": 1.2 if f["properties"]["dash"] else 0.5,
            "fillOpacity": opacity, "opacity": 0.8},
        highlight_function=lambda f: {"weight": 2, "color": "#ffffff"},
        tooltip=folium.GeoJsonTooltip(
            fields=["tile", "class", "model", "confidence", "clear"],
            aliases=[result.unit.capitalize(), "Shown as", "Model's class", "Calibrated probability",
                     "Clear pixels"],
            sticky=True),
    ).add_to(fg)
    if result.bbox is not None:
        w, s, e, n = result.bbox
        folium.Rectangle([[s, w], [n, e]], color=RECTANGLE_COLOR, weight=2, dash_array="6 4",
                         fill=False, interactive=False).add_to(fg)
    summary = result.summary()
    entries = [(row["class"], row["color"], f"{row['share']:.0%} of land" if row["share"] >= 0.005
                else "<1% of land") for _, row in summary.iterrows()]
    for _, row in result.status_summary().iloc[1:].iterrows():  # cloud / no data, uncertain
        if row["tiles"]:
            share = f"{row['tiles']} {result.unit}s ({row['share']:.0%} of area)"
            entries.append((row["status"], row["color"], share))
    Legend(entries).add_to(fg)
    return fg


def change_layer(result: ChangeResult, opacity: float = CLASS_OPACITY) -> folium.FeatureGroup:
    """The change map: changed tiles coloured by the new class with a dark outline, not comparable
    tiles grey, unchanged ones left clear; tooltips with both classes; legend."""
    fg = folium.FeatureGroup(name="Change")
    b, a, codes = result.before, result.after, result.change_codes
    gain = result.gain
    features = []
    for i in range(b.n_tiles):
        ring = b.footprints[i].round(7).tolist()
        code = int(codes[i])
        color = code_color(int(a.labels[i])) if code == 1 else CLOUD_COLOR
        features.append({
            "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
            "properties": {"tile": f"r{int(b.rows[i])} c{int(b.cols[i])}",
                           "before": code_label(int(b.codes[i])), "after": code_label(int(a.codes[i])),
                           "status": {1: "changed", 0: "unchanged"}.get(code, "not comparable"),
                           "gain": f"{gain[i]:+.2f}", "color": color, "code": code},
        })
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name="change",
        style_function=lambda f: {
            "fillColor": f["properties"]["color"],
            "fillOpacity": {0: 0.0, 1: opacity}.get(f["properties"]["code"], 0.6 * opacity),
            "color": "#111111" if f["properties"]["code"] == 1 else "#999999",
            "weight": 2.0 if f["properties"]["code"] == 1 else 0.3, "opacity": 0.9},
        tooltip=folium.GeoJsonTooltip(fields=["tile", "status", "before", "after", "gain"],
                                      aliases=["Tile", "Change", "Before", "After", "p(new class) gain"],
                                      sticky=True),
    ).add_to(fg)
    s = result.summary()
    changed = f"{s['changed_tiles']} tiles, {s['changed_km2']:.2f} km²"
    Legend([("Changed (colour: new class)", "#111111", changed),
            ("Not comparable (cloud, no data or uncertain on a date)", CLOUD_COLOR,
             f"{1 - s['comparable_share']:.0%} of tiles"),
            ("Unchanged", "#ffffff", "")], title="Change").add_to(fg)
    return fg


def bbox_from_geojson(feature: dict | None) -> BBox | None:
    """(west, south, east, north) of a drawn GeoJSON Feature/Polygon, rounded to 1e-6°; None if absent."""
    if not feature:
        return None
    geometry = feature.get("geometry", feature)
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        return None
    try:
        coords = np.asarray(geometry["coordinates"][0], dtype=float)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if coords.ndim != 2 or coords.shape[1] < 2 or len(coords) < 3:
        return None
    w, s = coords[:, :2].min(axis=0)
    e, n = coords[:, :2].max(axis=0)
    if not (w < e and s < n):
        return None
    return (round(float(w), 6), round(float(s), 6), round(float(e), 6), round(float(n), 6))
