r"""folium elements that put data on the page only as JSON and into the DOM only as text.

What folium 0.20 does with data, and why each is replaced here:

- :class:`folium.Tooltip` interpolates its text raw into a JavaScript template string,
  and :class:`folium.GeoJsonTooltip` builds its table with ``innerHTML`` from the
  feature properties, unescaped: a region name such as ``<img src=x onerror=...>``,
  ``${...}`` or ``</script><script>...`` runs as script in the browser.
- branca wraps the output of every element's macros in ``Element(text)``, which compiles
  ``text`` as a Jinja template when the page is rendered: data embedded in a script (the
  GeoJSON of :class:`folium.GeoJson`) are evaluated as Jinja, so a name ``{{ 7*7 }}``
  is written as ``49`` (and Jinja expressions can reach Python objects).

The replacements write data only through :class:`RawText` (never compiled) as a
``<script type="application/json">`` block (:func:`json_block`: ``<``, ``>``, ``&``
and ``'`` written as ``\u`` escapes, so a value can neither close the element nor be
read as HTML), and read it with ``JSON.parse`` into ``textContent``:

- :class:`JsonGeoJson`: folium's GeoJSON script with the data taken from the block.
- :class:`TextGeoJsonTooltip`: the tooltip table built with the DOM, as text.
- :class:`JsonElement`: any element whose data are in a JSON block (the flow legend),
  and :func:`text_tooltip`, a plain-text marker label.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import folium
from branca.element import Element, MacroElement
from folium.elements import ElementAddToElement
from folium.template import Template
from folium.utilities import get_obj_in_upper_tree
from jinja2.utils import htmlsafe_json_dumps

__all__ = [
    "JsonElement",
    "JsonGeoJson",
    "RawText",
    "TextGeoJsonTooltip",
    "json_block",
    "read_json",
    "text_tooltip",
]


class RawText(Element):
    """An element whose text is written as is: never compiled as a Jinja template."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **_kwargs: Any) -> str:
        """Return the text unchanged."""
        return self.text


# What HTML could read as markup inside a script element, as JSON escapes.
_HTML_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("'"): "\\u0027",
}


def _dumps(value: Any, *, compact: bool = False) -> str:
    if compact:  # large payloads (the explorer): no spaces, non-ASCII kept as UTF-8
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
        return text.translate(_HTML_ESCAPES)
    # Keys sorted as Jinja's ``tojson`` filter sorts them (its default policy).
    return str(htmlsafe_json_dumps(value, sort_keys=True))


def json_block(element_id: str, value: Any, *, compact: bool = False) -> RawText:
    """``<script type="application/json">`` holding ``value``, safe anywhere in HTML.

    ``element_id`` is ours (an element name), never data. ``compact`` writes the JSON
    without spaces and keeps non-ASCII text as UTF-8 (smaller, for large payloads).
    """
    return RawText(
        f'<script type="application/json" id="{element_id}">'
        f"{_dumps(value, compact=compact)}</script>"
    )


def read_json(element_id: str) -> str:
    """JavaScript expression that parses the JSON block ``element_id``."""
    return f"JSON.parse(document.getElementById({_dumps(element_id)}).textContent)"


class JsonGeoJson(folium.GeoJson):
    """:class:`folium.GeoJson` whose data reach the page as a JSON block, not as script."""

    def render(self, **kwargs: Any) -> None:
        """Render folium's script with the data read from a JSON block beside it.

        Does what ``GeoJson.render``, ``Layer.render`` and ``MacroElement.render`` do
        (the style maps, the script, ``addTo`` its parent, the children), except that
        the script is not compiled again by Jinja.
        """
        self.parent_map = get_obj_in_upper_tree(self, folium.Map)
        if (self.style or self.highlight) and self.data["features"]:
            mapper = folium.features.GeoJsonStyleMapper(
                self.data, self.feature_identifier, self
            )
            if self.style:
                self.style_map = mapper.get_style_map(self.style_function)
            if self.highlight:
                self.highlight_map = mapper.get_highlight_map(self.highlight_function)
        figure = self.get_root()
        name = self.get_name()
        # folium's script would embed the data; it gets an empty stand-in, replaced
        # below by the read of the block (the data are serialised once, not thrice)
        data, self.data = self.data, {}
        try:
            script = str(self._template.module.script(self, kwargs))
        finally:
            self.data = data
        inline = f"{name}_add({_dumps({})});"
        if inline not in script:  # pragma: no cover - only if folium's template changes
            raise RuntimeError(
                f"folium {folium.__version__}: the GeoJSON data of {name} are not where "
                "kzspatial.render.maps._safe expects them; update JsonGeoJson"
            )
        script = script.replace(inline, f"{name}_add({read_json(name + '_data')});")
        figure.html.add_child(
            json_block(name + "_data", self.data), name=name + "_data"
        )
        figure.script.add_child(RawText(script), name=name)
        if self.show:
            self.add_child(
                ElementAddToElement(
                    element_name=name, element_parent_name=self._parent.get_name()
                ),
                name=name + "_add",
            )
        for child in self._children.values():
            child.render(**kwargs)


# The tooltip table of folium's GeoJsonDetail, built with the DOM instead of innerHTML:
# header cells hold the aliases, data cells the properties, both as text.
_TABLE_FUNCTION = """
    function(layer){
    let div = L.DomUtil.create('div');
    let fields = {{ this.fields | tojson }};
    let aliases = {{ this.aliases | tojson }};
    let table = L.DomUtil.create('table', '', div);
    let text = value => {
        if (value === null || value === undefined) { return ''; }
        if (typeof(value) == 'object') { return JSON.stringify(value); }
        return {% if this.localize %}value.toLocaleString(){% else %}String(value){% endif %};
    };
    fields.forEach((field, i) => {
        let row = L.DomUtil.create('tr', '', table);
        {%- if this.labels %}
        L.DomUtil.create('th', '', row).textContent = text(aliases[i]);
        {%- endif %}
        L.DomUtil.create('td', '', row).textContent = text(layer.feature.properties[field]);
    });
    return div;
    }
"""


class TextGeoJsonTooltip(folium.GeoJsonTooltip):
    """:class:`folium.GeoJsonTooltip` that writes the properties as text, never as HTML."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.bindTooltip("
        + _TABLE_FUNCTION
        + ", {{ this.tooltip_options | tojavascript }});"
        "{% endmacro %}"
    )


class JsonElement(MacroElement):
    """An element whose macros read their data from a JSON block, as ``this.reader``.

    Parameters
    ----------
    data : JSON-serialisable
        The data, written as a JSON block beside the element.
    template : str
        Jinja macros (``header``, ``html``, ``script``) of the element; they must not
        contain data, only ``{{ this.reader }}`` (a JavaScript expression of the data).
    """

    def __init__(self, data: Any, template: str) -> None:
        super().__init__()
        self._name = "JsonElement"
        self.data = data
        self._template = _compiled(template)

    def render(self, **kwargs: Any) -> None:
        """Add the JSON block, then render the macros (which hold no data)."""
        block = self.get_name() + "_data"
        self.reader = read_json(block)
        self.get_root().html.add_child(json_block(block, self.data), name=block)
        super().render(**kwargs)


@functools.cache
def _compiled(template: str) -> Template:
    """``Template(template)``, compiled once per text.

    The texts are kzspatial's own (they hold no data), a few, and each is used for
    many elements: every marker's label, every map's legend. A compiled template is
    only read when rendered, so the elements can share it.
    """
    return Template(template)


def text_tooltip(text: str, **options: Any) -> JsonElement:
    """Make a tooltip showing ``text`` as plain text (``textContent``), e.g. a label.

    Parameters
    ----------
    text : str
        The label.
    **options
        Leaflet tooltip options, e.g. ``permanent=True, direction="right"``.

    Returns
    -------
    JsonElement
        Add it to the marker with ``marker.add_child``.
    """
    element = JsonElement(
        str(text),
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.bindTooltip((function () {"
        "let div = document.createElement('div');"
        "div.textContent = {{ this.reader }}; return div; })(),"
        " {{ this.options | tojavascript }});"
        "{% endmacro %}",
    )
    element.options = options
    return element
