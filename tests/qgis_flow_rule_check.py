"""Read the default style of one GeoPackage layer in headless QGIS and report its rules.

Run with Debian's Python, which has PyQGIS (python3-qgis), NOT the project venv:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_flow_rule_check.py out.gpkg od_flows

Prints one JSON object: the renderer type, each top-level rule (filter, label, active),
the ids (``fid``) of the features the renderer draws, and the labelling of ``regions``.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsExpressionContextUtils,
    QgsRenderContext,
    QgsVectorLayer,
)


def main(path: str, name: str) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    path = os.path.abspath(path)
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    renderer = layer.renderer()
    report = {"valid": layer.isValid(), "renderer": renderer.type(), "rules": []}
    if renderer.type() == "RuleRenderer":
        report["rules"] = [
            {"filter": r.filterExpression(), "label": r.label(), "active": r.active()}
            for r in renderer.rootRule().children()
        ]
    context = QgsRenderContext()
    context.expressionContext().appendScope(QgsExpressionContextUtils.layerScope(layer))
    renderer.startRender(context, layer.fields())
    drawn = [
        f.id() for f in layer.getFeatures() if renderer.willRenderFeature(f, context)
    ]
    renderer.stopRender(context)
    report["drawn_fids"] = drawn
    report["features"] = layer.featureCount()
    regions = QgsVectorLayer(f"{path}|layername=regions", "regions", "ogr")
    if regions.isValid():
        labeling = regions.labeling()
        report["regions_labels"] = {
            "enabled": regions.labelsEnabled(),
            "field": labeling.settings().fieldName if labeling is not None else None,
        }
    print(json.dumps(report))
    del renderer, layer, regions
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
