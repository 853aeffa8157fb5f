"""A STAC item describing a classified area's outputs (class map, probabilities, style, tables).

Made with pystac and its extensions, so a catalogue or a STAC browser can index the result:

* core: geometry and bbox of the classified cells in lon/lat, the imagery date (or, when the
  imagery has none, the processing time, said in ``eurosat:datetime_source``);
* ``classification`` (v2): the class-map asset's codes, names and colours, 255 marked nodata;
* ``mlm`` (machine-learning model): the model that made the map: architecture, LiteRT framework,
  input (RGB, float32 (N, 64, 64, 3) on the 0-255 EuroSAT scale), output (10 probabilities);
* ``projection``: the class map's CRS, shape and transform.

Asset hrefs are relative to the item file (all outputs are written side by side by the CLI).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pystac
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.mlm import (
    DataType,
    InputStructure,
    MLMExtension,
    ModelBand,
    ModelInput,
    ModelOutput,
    ResultStructure,
    TaskType,
)
from pystac.extensions.projection import ProjectionExtension
from rasterio.crs import CRS

from eurosat.classes import CLASS_NAMES
from eurosat.decision import CLOUD_CODE, NOT_CLASSIFIED_CODE, UNCERTAIN_CODE, code_color, code_label
from eurosat.tiling import AreaResult

COG_MEDIA_TYPE = pystac.MediaType.COG


def _rel(path: Path, item_path: Path) -> str:
    return os.path.relpath(path, item_path.parent)


def _item_datetime(result: AreaResult) -> tuple[dt.datetime, str]:
    text = result.provenance.get("imagery_date")
    if text:
        try:
            return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")), "imagery acquisition"
        except ValueError:
            pass
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now, "processing time (the imagery date is unknown)"


def _classes() -> list[Classification]:
    def hint(code: int) -> str:
        return code_color(code).lstrip("#").upper()

    out = [Classification.create(value=i, name=name, description=name, color_hint=hint(i))
           for i, name in enumerate(CLASS_NAMES)]
    for code, name in ((CLOUD_CODE, "cloud_or_nodata"), (UNCERTAIN_CODE, "uncertain")):
        out.append(Classification.create(value=code, name=name, description=code_label(code),
                                         color_hint=hint(code)))
    out.append(Classification.create(value=NOT_CLASSIFIED_CODE, name="not_classified",
                                     description="not classified", nodata=True))
    return out


def _outline(result: AreaResult) -> tuple[dict, list[float]]:
    lon, lat = result.footprints[..., 0], result.footprints[..., 1]
    w, s, e, n = float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"type": "Polygon", "coordinates": [ring]}, [w, s, e, n]


def build_item(result: AreaResult, item_path: str | Path, class_map: str | Path,
               probabilities: str | Path | None = None, geojson: str | Path | None = None,
               csv: str | Path | None = None, style: str | Path | None = None,
               model_params: int | None = None) -> pystac.Item:
    """The STAC item of a classified area; hrefs are relative to ``item_path``.

    Args:
        result: the classified area.
        item_path: where the item JSON will be written.
        class_map, probabilities, geojson, csv, style: the output files written (None: not written).
        model_params: the model's parameter count, when known.
    """
    item_path = Path(item_path)
    geometry, bbox = _outline(result)
    when, source = _item_datetime(result)
    stem = Path(result.scene_name).stem
    item = pystac.Item(
        id=f"{stem}-landcover-s{result.cell}", geometry=geometry, bbox=bbox, datetime=when,
        properties={
            "title": f"EuroSAT land cover of {result.scene_name} (cells of {result.cell} px)",
            "eurosat:datetime_source": source,
            "eurosat:cell_size_px": result.cell,
            "eurosat:min_clear_fraction": result.thresholds.min_clear,
            "eurosat:min_probability": result.thresholds.min_probability,
            **{f"eurosat:{k}": v for k, v in sorted(result.provenance.items()) if v not in (None, "")},
        },
    )
    item.add_asset("classes", pystac.Asset(
        _rel(Path(class_map), item_path), media_type=COG_MEDIA_TYPE, roles=["data"],
        title="Land-cover class per cell (0-9 classes, 253 cloud / no data, 254 uncertain, 255 nodata)"))
    if probabilities is not None:
        item.add_asset("probabilities", pystac.Asset(
            _rel(Path(probabilities), item_path), media_type=COG_MEDIA_TYPE, roles=["data"],
            title="Calibrated class probabilities × 255, one band per class"))
    if style is not None:
        item.add_asset("style", pystac.Asset(_rel(Path(style), item_path), media_type="application/xml",
                                             roles=["style"], title="QGIS style of the class map"))
    if geojson is not None:
        item.add_asset("cells", pystac.Asset(
            _rel(Path(geojson), item_path), media_type=pystac.MediaType.GEOJSON, roles=["data"],
            title="Cell polygons with class and probabilities"))
    if csv is not None:
        item.add_asset("table", pystac.Asset(_rel(Path(csv), item_path), media_type="text/csv",
                                             roles=["data"], title="One row per cell"))

    ClassificationExtension.ext(item.assets["classes"], add_if_missing=True).classes = _classes()
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    crs = CRS.from_wkt(result.crs_wkt)
    epsg = crs.to_epsg()
    proj.code = f"EPSG:{epsg}" if epsg else None
    if epsg is None:
        proj.wkt2 = result.crs_wkt
    r0, r1, c0, c1 = result.grid_bounds()
    proj.shape = [r1 - r0, c1 - c0]
    proj.transform = list(result.grid_transform())[:6]

    rgb = [ModelBand.create(name=b) for b in ("red", "green", "blue")]
    mlm = MLMExtension.ext(item, add_if_missing=True)
    mlm.apply(
        name=str(result.provenance.get("model", "eurosat-resnet-light")),
        architecture="ResNet (light, 64×64 input)",
        tasks=[TaskType.CLASSIFICATION],
        framework="LiteRT (TensorFlow Lite)",
        total_parameters=model_params,
        pretrained=False,
        input=[ModelInput.create(
            name="RGB tile", bands=rgb,
            input=InputStructure.create(shape=[-1, 64, 64, 3],
                                        dim_order=["batch", "height", "width", "channel"],
                                        data_type=DataType.FLOAT32),
            description="Sentinel-2 B4 B3 B2 on the EuroSAT 0-255 scale (DN / 2750 × 255, clipped)")],
        output=[ModelOutput.create(
            name="class probabilities", tasks=[TaskType.CLASSIFICATION],
            result=ResultStructure.create(shape=[-1, len(CLASS_NAMES)], dim_order=["batch", "class"],
                                          data_type=DataType.FLOAT32),
            classes=[Classification.create(value=i, name=n) for i, n in enumerate(CLASS_NAMES)])],
    )
    return item


def write_item(item: pystac.Item, path: str | Path) -> Path:
    """Write the item as JSON (hrefs kept relative)."""
    path = Path(path)
    pystac.write_file(item, include_self_link=False, dest_href=str(path))
    return path
