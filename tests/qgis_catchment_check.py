"""Which features the default QGIS style of a layer draws, read in headless QGIS.

Run with Debian's Python (python3-qgis), not the project venv:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_catchment_check.py f.gpkg \
        layer... [--years 2010,2024]

Prints one JSON object: per layer the renderer type, the number of features, the
sorted distinct ``year``, ``rule`` and ``hub`` values of the features the renderer
draws with no time range (the temporal controller off), the layer's temporal
properties as QGIS read them from the stored default style, and, for each of
``--years``, what QGIS draws when the map's time range is that calendar year: the
layer's temporal filter (``createFilterString``, what the vector renderer adds to its
feature request) plus the renderer's rules evaluated with the map's time range, and a
real render of the map (``image``, ``image_by_year``: a digest of the pixels and the
share of pixels drawn).
(``isVisibleInTemporalRange`` answers for the layer as a whole, True for every range in
the feature-based modes, so features are selected through the filter string.)
"""

import hashlib
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsDateTimeRange,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsFeatureRequest,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRenderContext,
    QgsVectorLayer,
    QgsVectorLayerTemporalContext,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QSize, QTime
from qgis.PyQt.QtGui import QColor

MODES = {
    0: "fixed range",
    1: "instant from field",
    2: "start and end from fields",
    3: "start and duration from fields",
    4: "start and end from expressions",
    5: "redraw layer only",
}


def year_range(year: int) -> QgsDateTimeRange:
    """[1 January year, 1 January year+1), as a QGIS temporal controller frame of a year."""
    midnight = QTime(0, 0, 0)
    return QgsDateTimeRange(
        QDateTime(QDate(year, 1, 1), midnight),
        QDateTime(QDate(year + 1, 1, 1), midnight),
        True,
        False,
    )


def map_settings(layer: QgsVectorLayer, time_range=None) -> QgsMapSettings:
    """Map settings of the layer's extent, as the canvas sets them, with a time range."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(200, 120))
    settings.setBackgroundColor(QColor("white"))
    if time_range is not None:
        settings.setIsTemporal(True)
        settings.setTemporalRange(time_range)
    # what the map canvas puts in the context (its time range among the variables)
    scopes = QgsExpressionContext()
    scopes.appendScope(QgsExpressionContextUtils.mapSettingsScope(settings))
    settings.setExpressionContext(scopes)
    return settings


def rendered(layer: QgsVectorLayer, time_range=None) -> dict:
    """Render the layer for real: a digest of the image and its share of drawn pixels."""
    job = QgsMapRendererSequentialJob(map_settings(layer, time_range))
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    pixels = [
        image.pixel(x, y) for x in range(image.width()) for y in range(image.height())
    ]
    white = QColor("white").rgb()
    return {
        "digest": hashlib.sha256(repr(pixels).encode()).hexdigest(),
        "drawn_share": sum(p != white for p in pixels) / len(pixels),
    }


def drawn_features(layer: QgsVectorLayer, time_range=None) -> list:
    """Features the layer's renderer draws, optionally with a map time range."""
    renderer = layer.renderer().clone()
    settings = map_settings(layer, time_range)
    request = QgsFeatureRequest()
    if time_range is not None:
        temporal = layer.temporalProperties()
        if temporal.isActive():
            context = QgsVectorLayerTemporalContext()
            context.setLayer(layer)
            request.setFilterExpression(
                temporal.createFilterString(context, time_range)
            )
    context = QgsRenderContext.fromMapSettings(settings)
    context.expressionContext().appendScope(layer.createExpressionContextScope())
    renderer.startRender(context, layer.fields())
    drawn = []
    for feature in layer.getFeatures(request):
        context.expressionContext().setFeature(feature)
        if renderer.willRenderFeature(feature, context):
            drawn.append(feature)
    renderer.stopRender(context)
    return drawn


def summary(features: list) -> dict:
    """Count and distinct year, rule and hub values of ``features``."""
    return {
        "drawn": len(features),
        "years": sorted({int(f["year"]) for f in features}),
        "rules": sorted({str(f["rule"]) for f in features}),
        "hubs": sorted({str(f["hub"]) for f in features}),
    }


def main(path: str, names: list[str], years: list[int]) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    report = {}
    for name in names:
        # as QGIS desktop adds a layer: created without, then given its default style
        # (the constructor's own style loading runs before it resets the temporal
        # properties from the provider's capabilities; see "constructor_temporal")
        uri = f"{os.path.abspath(path)}|layername={name}"
        layer = QgsVectorLayer(uri, name, "ogr", QgsVectorLayer.LayerOptions(False))
        _, loaded = layer.loadDefaultStyle()
        plain_layer = QgsVectorLayer(uri, name, "ogr")
        plain = plain_layer.temporalProperties()
        temporal = layer.temporalProperties()
        report[name] = {
            "default_style_loaded": loaded,
            "renderer": layer.renderer().type(),
            "features": layer.featureCount(),
            **summary(drawn_features(layer)),
            "temporal": {
                "active": temporal.isActive(),
                "mode": MODES.get(int(temporal.mode()), str(temporal.mode())),
                "start_expression": temporal.startExpression(),
                "end_expression": temporal.endExpression(),
            },
            "constructor_temporal": {
                "active": plain.isActive(),
                "start_expression": plain.startExpression(),
            },
            "by_year": {
                str(y): summary(drawn_features(layer, year_range(y))) for y in years
            },
            "image": rendered(layer),
            "image_by_year": {str(y): rendered(layer, year_range(y)) for y in years},
        }
    print(json.dumps(report), flush=True)
    # exitQgis() with layers still referenced by Python segfaults in QGIS 3.22
    os._exit(0)


if __name__ == "__main__":
    args = sys.argv[1:]
    wanted: list[int] = []
    if "--years" in args:
        k = args.index("--years")
        wanted = [int(y) for y in args[k + 1].split(",")]
        del args[k : k + 2]
    main(args[0], args[1:], wanted)
