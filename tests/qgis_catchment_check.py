"""Which features the default QGIS style of a layer draws, read in headless QGIS.

Run with Debian's Python (python3-qgis), not the project venv:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_catchment_check.py f.gpkg layer...

Prints one JSON object: per layer the renderer type, the number of features, and the
sorted distinct ``year`` and ``rule`` values of the features the renderer draws.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsMapSettings,
    QgsRenderContext,
    QgsVectorLayer,
)


def main(path: str, names: list[str]) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    report = {}
    for name in names:
        layer = QgsVectorLayer(f"{os.path.abspath(path)}|layername={name}", name, "ogr")
        renderer = layer.renderer().clone()
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setExtent(layer.extent())
        context = QgsRenderContext.fromMapSettings(settings)
        context.expressionContext().appendScope(layer.createExpressionContextScope())
        renderer.startRender(context, layer.fields())
        drawn = []
        for feature in layer.getFeatures():
            context.expressionContext().setFeature(feature)
            if renderer.willRenderFeature(feature, context):
                drawn.append(feature)
        renderer.stopRender(context)
        report[name] = {
            "renderer": layer.renderer().type(),
            "features": layer.featureCount(),
            "drawn": len(drawn),
            "years": sorted({int(f["year"]) for f in drawn}),
            "rules": sorted({str(f["rule"]) for f in drawn}),
            "hubs": sorted({str(f["hub"]) for f in drawn}),
        }
    print(json.dumps(report), flush=True)
    # exitQgis() with layers still referenced by Python segfaults in QGIS 3.22
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
