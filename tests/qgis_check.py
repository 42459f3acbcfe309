"""Open a GeoPackage in headless QGIS, report every layer as JSON and render a PNG.

Run with Debian's Python, which has PyQGIS (python3-qgis), NOT the project venv:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_check.py out.gpkg map.png

Prints one JSON object: ``{"layers": {name: {...}}, "png": path, "saved": bool}``, where
each layer reports validity, renderer type, geometry type, feature count, the number of
styles stored in the GeoPackage and the metadata title QGIS read.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProviderRegistry,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

# Drawn in this order from the top; other layers are checked but not drawn.
DRAW_ORDER = ["od_flows", "regions"]


def main(path: str, png: str) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    path = os.path.abspath(path)
    report = {}
    layers = {}
    for sub in (
        QgsProviderRegistry.instance().providerMetadata("ogr").querySublayers(path)
    ):
        name = sub.name()
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        count, _, _, _, error = layer.listStylesInDatabase()
        report[name] = {
            "valid": layer.isValid(),
            "renderer": layer.renderer().type() if layer.renderer() else None,
            "wkb_type": int(layer.wkbType()),
            "features": layer.featureCount(),
            "styles_in_db": count,
            "style_error": error,
            "title": layer.metadata().title(),
            "abstract": layer.metadata().abstract(),
            "crs": layer.crs().authid() or layer.crs().description(),
            "aliases": {f.name(): f.alias() for f in layer.fields() if f.alias()},
            "order_by": layer.renderer().orderByEnabled() if layer.renderer() else None,
        }
        layers[name] = layer

    drawn = [layers[n] for n in DRAW_ORDER if n in layers]
    settings = QgsMapSettings()
    settings.setLayers(drawn)
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    if drawn:
        settings.setExtent(drawn[-1].extent().buffered(1.0))
    settings.setOutputSize(QSize(1000, 600))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    saved = job.renderedImage().save(png, "png")
    print(
        json.dumps(
            {"layers": report, "png": png, "saved": bool(saved)}, ensure_ascii=False
        )
    )
    # Layers must go before the application, or the interpreter crashes on exit.
    del job, settings, drawn, layers, layer
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
