/* kzspatial flow explorer: the interaction of the page written by
 * kzspatial.render.explorer.explorer_map. Plain ES2017 on Leaflet 1.9, no build step.
 *
 * Data arrive as JSON in <script type="application/json"> and reach the DOM only as
 * text (textContent / createTextNode, Leaflet tooltips given DOM nodes): a region
 * name can never become markup or script. Nothing here is generated from data.
 */
(function () {
  "use strict";

  var R = 6378137; // spherical Web Mercator radius (EPSG:3857)
  var NET_COLORS = [[202, 0, 32], [244, 165, 130], [247, 247, 247], [146, 197, 222], [5, 113, 176]];
  var FLOW_COLOR = "#252525";
  var MORE = "#1b7837"; // ColorBrewer PRGn ends: observed above the model
  var FEWER = "#762a83"; // ... and below it
  var SCENARIO_COLOR = "#8c510a";
  var MAX_HUB_RADIUS = 26;
  var MODES = {
    observed: { label: "Observed flows", width: "persons", source: "observed" },
    net: { label: "Net flows (A→B minus B→A)", width: "net persons", source: "observed" },
    rate: { label: "Rates per 1,000 of origin population", width: "moves per 1,000 residents of the origin", source: "observed", needs: "population" },
    fitted: { label: "Fitted (gravity model)", width: "persons, as fitted by the model", source: "fitted", needs: "fitted" },
    residual: { label: "Residuals, persons (observed − fitted)", width: "|observed − fitted| persons", source: "observed", needs: "fitted", signed: true },
    pearson: { label: "Residuals, Pearson ((observed − fitted) / √fitted)", width: "|Pearson residual| (no unit)", source: "observed", needs: "fitted", signed: true },
    scenario: { label: "Scenario", width: "persons in the scenario", source: "scenario", needs: "scenario" }
  };
  var TOTAL_LABELS = {
    observed: "persons who moved between regions",
    fitted: "persons in the model",
    scenario: "persons in the scenario"
  };
  var numberFormats = {};

  function fmt(x, digits) {
    var d = digits === undefined ? 0 : digits;
    if (!numberFormats[d]) {
      numberFormats[d] = new Intl.NumberFormat("en-US", { maximumFractionDigits: d });
    }
    return numberFormats[d].format(x);
  }

  function fmtMeasure(x) {
    return Math.abs(x) >= 100 ? fmt(x, 0) : fmt(x, Math.abs(x) >= 10 ? 1 : 2);
  }

  function compact(x) {
    // Short tick labels, so five of them fit in the colour bar without touching.
    if (Math.abs(x) >= 10000) { return fmt(x / 1000, 1) + "k"; }
    return fmt(x, 2);
  }

  function niceCeil(x) {
    if (!(x > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(x)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * p >= x * (1 - 1e-9)) { return steps[i] * p; }
    }
    return 10 * p;
  }

  function roundSig(x) {
    if (!(x > 0)) { return 0; }
    var p = Math.pow(10, Math.floor(Math.log10(x)) - 1);
    return Math.round(x / p) * p;
  }

  /* DOM helpers: text only ------------------------------------------------------- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function svgLine(color, width) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", "44");
    svg.setAttribute("height", "14");
    var line = document.createElementNS(ns, "line");
    line.setAttribute("x1", "2"); line.setAttribute("y1", "7");
    line.setAttribute("x2", "42"); line.setAttribute("y2", "7");
    line.setAttribute("stroke", color);
    line.setAttribute("stroke-width", String(width));
    line.setAttribute("stroke-linecap", "round");
    svg.appendChild(line);
    return svg;
  }

  function netColor(value, domain) {
    var t = Math.max(-1, Math.min(1, value / domain)) * 2 + 2; // 0..4 along the stops
    var i = Math.min(3, Math.floor(t));
    var f = t - i;
    var a = NET_COLORS[i], b = NET_COLORS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
  }

  /* Geometry: quadratic Bézier arcs in Web Mercator, bent to the right of travel ---- */

  function project(lonlat) {
    var lat = Math.max(-85.05, Math.min(85.05, lonlat[1])) * Math.PI / 180;
    return [R * lonlat[0] * Math.PI / 180, R * Math.log(Math.tan(Math.PI / 4 + lat / 2))];
  }

  function unproject(xy) {
    var lon = xy[0] / R * 180 / Math.PI;
    var lat = (2 * Math.atan(Math.exp(xy[1] / R)) - Math.PI / 2) * 180 / Math.PI;
    return [lat, lon];
  }

  function arcLatLngs(p0, p2) {
    var dx = p2[0] - p0[0], dy = p2[1] - p0[1];
    var length = Math.hypot(dx, dy);
    var c = [(p0[0] + p2[0]) / 2 + 0.2 * dy, (p0[1] + p2[1]) / 2 - 0.2 * dx];
    var arc = [];
    for (var k = 0; k < 16; k++) {
      var t = k / 15, u = 1 - t;
      arc.push(unproject([u * u * p0[0] + 2 * u * t * c[0] + t * t * p2[0],
        u * u * p0[1] + 2 * u * t * c[1] + t * t * p2[1]]));
    }
    // Chevron at the destination along the end tangent (direction P2 - control).
    var tx = p2[0] - c[0], ty = p2[1] - c[1], tn = Math.hypot(tx, ty);
    var bx = -tx / tn, by = -ty / tn;
    var wing = Math.min(0.15 * length, 100000), a = 25 * Math.PI / 180;
    var cos = Math.cos(a), sin = Math.sin(a);
    var left = [p2[0] + wing * (bx * cos - by * sin), p2[1] + wing * (bx * sin + by * cos)];
    var right = [p2[0] + wing * (bx * cos + by * sin), p2[1] + wing * (-bx * sin + by * cos)];
    return [arc, [unproject(left), unproject(p2), unproject(right)]];
  }

  /* The explorer ---------------------------------------------------------------- */

  function Explorer(map, data) {
    this.map = map;
    this.data = data;
    this.n = data.ids.length;
    this.xy = data.lonlat.map(project);
    this.isHub = new Array(this.n).fill(false);
    data.hubs.forEach(function (h) { this.isHub[h] = true; }, this);
    var mode = data.options.mode;
    this.state = {
      yi: data.years.length - 1, mode: mode, topN: data.options.topN,
      threshold: data.options.threshold, region: -1, direction: "out"
    };
    this.cache = {};
    this.buildLayers();
    this.buildControls();
    this.buildLegend();
    this.update();
  }

  Explorer.prototype.available = function (mode) {
    var needs = MODES[mode].needs;
    if (!needs) { return true; }
    if (needs === "population") { return this.data.population !== null; }
    if (needs === "scenario") { return this.data.scenario !== null; }
    return this.data.flows.some(function (y) { return y.f !== null; });
  };

  /* Pairs of one year from one source: {o, d, v} or null when the source lacks it. */
  Explorer.prototype.pairs = function (source, yi) {
    var y = this.data.flows[yi];
    if (source === "observed") { return { o: y.o, d: y.d, v: y.v }; }
    if (source === "fitted") { return y.f === null ? null : { o: y.o, d: y.d, v: y.f }; }
    return this.data.scenario.flows[yi];
  };

  /* Regional in, out and net of one year and source (arrays over regions). */
  Explorer.prototype.balance = function (source, yi) {
    var key = "bal:" + source + ":" + yi;
    if (this.cache[key] !== undefined) { return this.cache[key]; }
    var p = this.pairs(source, yi), out = null;
    if (p) {
      var inflow = new Float64Array(this.n), outflow = new Float64Array(this.n), total = 0;
      for (var k = 0; k < p.o.length; k++) {
        outflow[p.o[k]] += p.v[k]; inflow[p.d[k]] += p.v[k]; total += p.v[k];
      }
      var net = inflow.map(function (x, i) { return x - outflow[i]; });
      out = { inflow: inflow, outflow: outflow, net: net, total: total };
    }
    this.cache[key] = out;
    return out;
  };

  /* Every flow of a mode and year: {o, d, value (signed measure), size, persons}. */
  Explorer.prototype.items = function (mode, yi) {
    var key = "items:" + mode + ":" + yi;
    if (this.cache[key] !== undefined) { return this.cache[key]; }
    var y = this.data.flows[yi], list = [], k;
    var pop = this.data.population ? this.data.population[yi] : null;
    if (mode === "net") {
      var lookup = new Map();
      for (k = 0; k < y.o.length; k++) { lookup.set(y.o[k] * this.n + y.d[k], y.v[k]); }
      for (k = 0; k < y.o.length; k++) {
        var back = lookup.get(y.d[k] * this.n + y.o[k]) || 0, net = y.v[k] - back;
        if (net > 0) { list.push({ o: y.o[k], d: y.d[k], value: net, size: net, persons: net, forth: y.v[k], back: back }); }
      }
    } else if (mode === "observed" || mode === "fitted" || mode === "scenario") {
      var p = this.pairs(MODES[mode].source, yi);
      if (p) {
        for (k = 0; k < p.o.length; k++) {
          if (p.v[k] > 0) { list.push({ o: p.o[k], d: p.d[k], value: p.v[k], size: p.v[k], persons: p.v[k] }); }
        }
      }
    } else if (mode === "rate") {
      for (k = 0; k < y.o.length; k++) {
        var rate = y.v[k] / pop[y.o[k]] * 1000;
        if (rate > 0) { list.push({ o: y.o[k], d: y.d[k], value: rate, size: rate, persons: y.v[k] }); }
      }
    } else if (y.f !== null) { // residual, pearson
      for (k = 0; k < y.o.length; k++) {
        var f = y.f[k], r = y.v[k] - f;
        if (mode === "pearson") {
          if (!(f > 0)) { continue; } // undefined where the model expects nobody
          r = r / Math.sqrt(f);
        }
        if (r !== 0) { list.push({ o: y.o[k], d: y.d[k], value: r, size: Math.abs(r), persons: y.v[k], fitted: f }); }
      }
    }
    this.cache[key] = list;
    return list;
  };

  /* Largest size of a mode over all years: widths stay comparable while playing. */
  Explorer.prototype.sizeMax = function (mode) {
    var key = "max:" + mode;
    if (this.cache[key] === undefined) {
      var m = 0;
      for (var yi = 0; yi < this.data.years.length; yi++) {
        this.items(mode, yi).forEach(function (it) { if (it.size > m) { m = it.size; } });
      }
      this.cache[key] = m || 1;
    }
    return this.cache[key];
  };

  Explorer.prototype.selection = function () {
    var s = this.state, region = s.region, out = s.direction === "out";
    var chosen = this.items(s.mode, s.yi).filter(function (it) {
      if (region >= 0 && (out ? it.o !== region : it.d !== region)) { return false; }
      return it.size >= s.threshold;
    });
    chosen.sort(function (a, b) { return b.size - a.size || a.o - b.o || a.d - b.d; });
    return chosen.slice(0, s.topN).reverse(); // largest drawn last, on top
  };

  /* Choropleth value of one region: net per 1,000 residents, or net persons. */
  Explorer.prototype.netValue = function (bal, yi, i) {
    if (this.data.population) { return bal.net[i] / this.data.population[yi][i] * 1000; }
    return bal.net[i];
  };

  /* Colour domain over every year of a source, leaving out the hubs (they have
   * circles; their gains would wash out every other region). Beyond it, colours
   * saturate and the legend ends say so. */
  Explorer.prototype.netDomain = function (source) {
    var key = "dom:" + source;
    if (this.cache[key] === undefined) {
      var m = 0, all = 0;
      for (var yi = 0; yi < this.data.years.length; yi++) {
        var bal = this.balance(source, yi);
        if (!bal) { continue; }
        for (var i = 0; i < this.n; i++) {
          var v = Math.abs(this.netValue(bal, yi, i));
          all = Math.max(all, v);
          if (!this.isHub[i]) { m = Math.max(m, v); }
        }
      }
      this.cache[key] = niceCeil(m || all);
    }
    return this.cache[key];
  };

  Explorer.prototype.hubMax = function (source) {
    var key = "hub:" + source;
    if (this.cache[key] === undefined) {
      var m = 0;
      for (var yi = 0; yi < this.data.years.length; yi++) {
        var bal = this.balance(source, yi);
        if (!bal) { continue; }
        this.data.hubs.forEach(function (h) { m = Math.max(m, Math.abs(bal.net[h])); });
      }
      this.cache[key] = m || 1;
    }
    return this.cache[key];
  };

  Explorer.prototype.source = function () {
    var source = MODES[this.state.mode].source;
    return this.balance(source, this.state.yi) ? source : "observed";
  };

  /* Layers --------------------------------------------------------------------------- */

  Explorer.prototype.buildLayers = function () {
    var self = this;
    this.regions = L.geoJSON(this.data.geometry, {
      style: function () { return { fillOpacity: 0.85, color: "#ffffff", weight: 0.8 }; },
      onEachFeature: function (feature, layer) {
        var i = feature.properties.i;
        layer.bindTooltip(function () { return self.regionTooltip(i); }, { sticky: true });
        layer.on("click", function () { self.selectRegion(self.state.region === i ? -1 : i); });
      }
    }).addTo(this.map);
    this.flows = L.layerGroup().addTo(this.map);
    this.hubs = L.layerGroup().addTo(this.map);
    this.hubMarkers = this.data.hubs.map(function (h) {
      var label = el("span", "kz-hub-label");
      var marker = L.circleMarker(self.data.lonlat[h].slice().reverse(), {
        radius: 4, weight: 1.5, color: "#ffffff", fillOpacity: 0.8, className: "kz-hub"
      });
      marker.bindTooltip(label, { permanent: true, direction: "right", offset: [8, 0], className: "kz-hub-tip" });
      marker.on("click", function () { self.selectRegion(self.state.region === h ? -1 : h); });
      marker.addTo(self.hubs);
      return { h: h, marker: marker, label: label };
    });
  };

  Explorer.prototype.regionTooltip = function (i) {
    var s = this.state, source = this.source(), bal = this.balance(source, s.yi);
    var box = el("div");
    box.appendChild(el("div", "kz-strong", this.data.names[i]));
    box.appendChild(el("div", null, "Net migration " + this.data.years[s.yi] + ": " + fmt(bal.net[i])));
    if (this.data.population) {
      box.appendChild(el("div", null, "per 1,000 residents: " + fmt(this.netValue(bal, s.yi, i), 1)));
    }
    return box;
  };

  Explorer.prototype.arcTooltip = function (it) {
    var names = this.data.names, mode = this.state.mode, box = el("div");
    box.appendChild(el("div", "kz-strong", names[it.o] + " → " + names[it.d]));
    var lines = {
      observed: ["Persons", it.value],
      net: ["Net persons", it.value],
      rate: ["Per 1,000 residents of the origin", it.value],
      fitted: ["Fitted persons", it.value],
      residual: ["Observed − fitted (persons)", it.value],
      pearson: ["Pearson residual", it.value],
      scenario: ["Persons (scenario)", it.value]
    };
    box.appendChild(el("div", null, lines[mode][0] + ": " + fmtMeasure(lines[mode][1])));
    if (mode === "net") {
      box.appendChild(el("div", null, "This way " + fmt(it.forth) + ", opposite way " + fmt(it.back)));
    } else if (mode === "rate" || mode === "residual" || mode === "pearson") {
      box.appendChild(el("div", null, "Observed persons: " + fmt(it.persons)));
    }
    if (it.fitted !== undefined) { box.appendChild(el("div", null, "Fitted persons: " + fmt(it.fitted, 1))); }
    return box;
  };

  Explorer.prototype.drawFlows = function (chosen) {
    var self = this, mode = this.state.mode, max = this.sizeMax(mode);
    var signed = MODES[mode].signed;
    this.flows.clearLayers();
    chosen.forEach(function (it) {
      var share = it.size / max;
      var color = signed ? (it.value > 0 ? MORE : FEWER) : (mode === "scenario" ? SCENARIO_COLOR : FLOW_COLOR);
      var line = L.polyline(arcLatLngs(self.xy[it.o], self.xy[it.d]), {
        color: color,
        weight: Math.round((0.75 + 7 * Math.sqrt(share)) * 4) / 4,
        opacity: 0.35 + 0.55 * Math.sqrt(share),
        lineCap: "round", lineJoin: "round", className: "kz-arc"
      });
      line.bindTooltip(function () { return self.arcTooltip(it); }, { sticky: true });
      line.on("mouseover", function () { line.setStyle({ color: "#ff7f00", opacity: 1 }); });
      line.on("mouseout", function () { line.setStyle({ color: color, opacity: 0.35 + 0.55 * Math.sqrt(share) }); });
      line.addTo(self.flows);
    });
  };

  Explorer.prototype.drawRegions = function (bal) {
    var self = this, yi = this.state.yi, domain = this.netDomain(this.source());
    this.regions.eachLayer(function (layer) {
      var i = layer.feature.properties.i, selected = i === self.state.region;
      layer.setStyle({
        fillColor: netColor(self.netValue(bal, yi, i), domain),
        color: selected ? "#000000" : "#ffffff",
        weight: selected ? 2.5 : 0.8
      });
      if (selected) { layer.bringToFront(); }
    });
  };

  Explorer.prototype.drawHubs = function (bal) {
    var max = this.hubMax(this.source()), names = this.data.names;
    this.hubMarkers.forEach(function (hub) {
      var net = bal.net[hub.h];
      hub.marker.setRadius(Math.max(3, MAX_HUB_RADIUS * Math.sqrt(Math.abs(net) / max)));
      hub.marker.setStyle({ fillColor: net >= 0 ? "#0571b0" : "#ca0020" });
      hub.label.textContent = names[hub.h] + " " + (net >= 0 ? "+" : "") + fmt(net);
    });
  };

  /* Controls ------------------------------------------------------------------------- */

  function labelled(parent, text, control) {
    var row = el("label", "kz-row");
    row.appendChild(el("span", "kz-key", text));
    row.appendChild(control);
    parent.appendChild(row);
    return control;
  }

  Explorer.prototype.buildControls = function () {
    var self = this, data = this.data, s = this.state;
    var box = el("div", "kz-explorer kz-box");
    this.root = box;
    box.appendChild(el("div", "kz-title", data.title));

    var yearRow = el("div", "kz-row");
    this.playButton = el("button", "kz-play", "▶");
    this.playButton.type = "button";
    this.playButton.title = "Play the years";
    this.slider = el("input", "kz-year-slider");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.max = String(data.years.length - 1);
    this.slider.step = "1";
    this.slider.value = String(s.yi);
    this.yearLabel = el("span", "kz-year", data.years[s.yi]);
    yearRow.appendChild(this.playButton);
    yearRow.appendChild(this.slider);
    yearRow.appendChild(this.yearLabel);
    box.appendChild(yearRow);

    this.modeSelect = labelled(box, "Show", el("select", "kz-mode"));
    Object.keys(MODES).forEach(function (mode) {
      if (!self.available(mode)) { return; }
      var label = mode === "scenario" ? data.scenario.label : MODES[mode].label;
      var option = el("option", null, label);
      option.value = mode;
      self.modeSelect.appendChild(option);
    });
    this.modeSelect.value = s.mode;

    this.topInput = labelled(box, "Top N", el("input", "kz-topn"));
    this.topInput.type = "number"; this.topInput.min = "1"; this.topInput.step = "1";
    this.topInput.value = String(s.topN);
    this.thresholdInput = labelled(box, "At least", el("input", "kz-threshold"));
    this.thresholdInput.type = "number"; this.thresholdInput.min = "0"; this.thresholdInput.step = "any";
    this.thresholdInput.value = String(s.threshold);

    this.regionSelect = labelled(box, "Region", el("select", "kz-region"));
    var all = el("option", null, "All regions");
    all.value = "-1";
    this.regionSelect.appendChild(all);
    data.names.map(function (name, i) { return [name, i]; })
      .sort(function (a, b) { return a[0].localeCompare(b[0]); })
      .forEach(function (pair) {
        var option = el("option", null, pair[0]);
        option.value = String(pair[1]);
        self.regionSelect.appendChild(option);
      });
    this.directionSelect = labelled(box, "Flows", el("select", "kz-direction"));
    [["out", "Outflows from the region"], ["in", "Inflows to the region"]].forEach(function (pair) {
      var option = el("option", null, pair[1]);
      option.value = pair[0];
      self.directionSelect.appendChild(option);
    });

    this.summary = el("div", "kz-summary");
    box.appendChild(this.summary);
    this.panel = el("div", "kz-panel");
    box.appendChild(this.panel);

    this.slider.addEventListener("input", function () { self.setYearIndex(Number(self.slider.value)); });
    this.playButton.addEventListener("click", function () { self.togglePlay(); });
    this.modeSelect.addEventListener("change", function () { self.setMode(self.modeSelect.value); });
    this.topInput.addEventListener("change", function () { self.setTopN(Number(self.topInput.value)); });
    this.thresholdInput.addEventListener("change", function () { self.setThreshold(Number(self.thresholdInput.value)); });
    this.regionSelect.addEventListener("change", function () { self.selectRegion(Number(self.regionSelect.value)); });
    this.directionSelect.addEventListener("change", function () { self.setDirection(self.directionSelect.value); });

    var control = L.control({ position: "topright" });
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(this.map);
    L.control.layers(null, {
      "Net migration by region": this.regions,
      "Flows": this.flows,
      "Cities: net migration (circles)": this.hubs
    }, { collapsed: true, position: "topleft" }).addTo(this.map);
  };

  /* Legends: one section per layer, shown only while its layer is on the map. --------- */

  Explorer.prototype.buildLegend = function () {
    var box = el("div", "kz-legend kz-box");
    this.legendRegions = el("div", "kz-legend-regions");
    this.legendFlows = el("div", "kz-legend-flows");
    this.legendHubs = el("div", "kz-legend-hubs");
    box.appendChild(this.legendRegions);
    box.appendChild(this.legendFlows);
    if (this.data.hubs.length) { box.appendChild(this.legendHubs); }
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () { L.DomEvent.disableClickPropagation(box); return box; };
    control.addTo(this.map);
    var sections = [[this.regions, this.legendRegions], [this.flows, this.legendFlows], [this.hubs, this.legendHubs]];
    function follow(event, shown) {
      sections.forEach(function (pair) {
        if (pair[0] === event.layer) { pair[1].style.display = shown ? "" : "none"; }
      });
    }
    this.map.on("overlayadd", function (e) { follow(e, true); });
    this.map.on("overlayremove", function (e) { follow(e, false); });
  };

  Explorer.prototype.drawRegionLegend = function () {
    var node = this.legendRegions, source = this.source(), domain = this.netDomain(source);
    clear(node);
    var what = this.data.population ? "Net migration per 1,000 residents" : "Net migration (persons)";
    var from = source === "observed" ? "" : (source === "fitted" ? ", model" : ", scenario");
    node.appendChild(el("div", "kz-strong", what + ", " + this.data.years[this.state.yi] + from));
    var bar = el("div", "kz-bar");
    bar.style.background = "linear-gradient(to right," + [-1, -0.5, 0, 0.5, 1].map(function (t) {
      return netColor(t * domain, domain);
    }).join(",") + ")";
    node.appendChild(bar);
    var ticks = el("div", "kz-ticks");
    [-1, -0.5, 0, 0.5, 1].forEach(function (t, k) {
      var text = (k === 0 ? "≤" : "") + (k === 4 ? "≥" : "") + compact(t * domain);
      var tick = el("span", "kz-tick", text);
      tick.style.left = (25 * k) + "%";
      ticks.appendChild(tick);
    });
    node.appendChild(ticks);
    node.appendChild(el("div", "kz-sub", "Losses red, gains blue" + (this.data.hubs.length ? "; cities as circles" : "")));
  };

  Explorer.prototype.drawFlowLegend = function () {
    var node = this.legendFlows, mode = this.state.mode, info = MODES[mode], max = this.sizeMax(mode);
    clear(node);
    var label = mode === "scenario" ? this.data.scenario.label : info.label;
    node.appendChild(el("div", "kz-strong", label));
    node.appendChild(el("div", "kz-sub", "Width ∝ √" + info.width + "; arrow at destination"));
    var color = info.signed ? MORE : (mode === "scenario" ? SCENARIO_COLOR : FLOW_COLOR);
    [max, max / 4, max / 16].map(roundSig).forEach(function (v) {
      if (!(v > 0)) { return; }
      var row = el("div", "kz-row");
      row.appendChild(svgLine(color, Math.round((0.75 + 7 * Math.sqrt(v / max)) * 4) / 4));
      row.appendChild(el("span", null, fmtMeasure(v)));
      node.appendChild(row);
    });
    if (info.signed) {
      [[MORE, "more than the model"], [FEWER, "fewer than the model"]].forEach(function (pair) {
        var row = el("div", "kz-row");
        row.appendChild(svgLine(pair[0], 4));
        row.appendChild(el("span", null, pair[1]));
        node.appendChild(row);
      });
    }
  };

  Explorer.prototype.drawHubLegend = function () {
    var node = this.legendHubs, max = this.hubMax(this.source());
    clear(node);
    node.appendChild(el("div", "kz-strong", "Cities: net migration (persons)"));
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", String(2 * MAX_HUB_RADIUS + 90));
    svg.setAttribute("height", String(2 * MAX_HUB_RADIUS + 4));
    [max, max / 4].map(roundSig).forEach(function (v, k) {
      var r = MAX_HUB_RADIUS * Math.sqrt(v / max);
      var circle = document.createElementNS(ns, "circle");
      circle.setAttribute("cx", String(MAX_HUB_RADIUS + 2));
      circle.setAttribute("cy", String(2 * MAX_HUB_RADIUS + 2 - r));
      circle.setAttribute("r", String(r));
      circle.setAttribute("fill", "none");
      circle.setAttribute("stroke", "#444");
      svg.appendChild(circle);
      var text = document.createElementNS(ns, "text");
      text.setAttribute("x", String(2 * MAX_HUB_RADIUS + 8));
      text.setAttribute("y", String(2 * MAX_HUB_RADIUS + 2 - 2 * r + 10 + 2 * k));
      text.textContent = fmt(v);
      svg.appendChild(text);
    });
    node.appendChild(svg);
    node.appendChild(el("div", "kz-sub", "Blue gain, red loss"));
  };

  /* Summary and region panel ------------------------------------------------------- */

  Explorer.prototype.drawSummary = function (chosen) {
    var s = this.state, mode = s.mode, year = this.data.years[s.yi];
    var drawn = chosen.reduce(function (acc, it) { return acc + it.persons; }, 0);
    var observed = this.balance("observed", s.yi);
    var total, label;
    if (mode === "net") {
      total = this.items("net", s.yi).reduce(function (acc, it) { return acc + it.persons; }, 0);
      label = "net persons between pairs of regions";
    } else {
      var bal = this.balance(MODES[mode].source, s.yi);
      total = bal ? bal.total : 0;
      label = TOTAL_LABELS[MODES[mode].source];
    }
    this.summary.textContent = fmt(chosen.length) + " flows drawn, carrying " + fmt(drawn) +
      " of the " + fmt(total) + " " + label + " in " + year + ".";
    var d = this.root.dataset;
    d.year = String(year);
    d.mode = mode;
    d.region = s.region >= 0 ? this.data.ids[s.region] : "";
    d.direction = s.direction;
    d.drawn = String(chosen.length);
    d.drawnTotal = String(drawn);
    d.modeTotal = String(total);
    d.yearTotal = String(observed.total);
  };

  Explorer.prototype.drawPanel = function () {
    var s = this.state, panel = this.panel, i = s.region;
    clear(panel);
    panel.style.display = i >= 0 ? "" : "none";
    if (i < 0) { return; }
    var source = this.source(), bal = this.balance(source, s.yi), names = this.data.names;
    panel.appendChild(el("div", "kz-strong", names[i] + ", " + this.data.years[s.yi]));
    var rows = [["In", fmt(bal.inflow[i])], ["Out", fmt(bal.outflow[i])], ["Net", fmt(bal.net[i])]];
    if (this.data.population) {
      rows.push(["Net per 1,000 residents", fmt(this.netValue(bal, s.yi, i), 1)]);
    }
    rows.forEach(function (row) {
      var line = el("div", "kz-row kz-stat");
      line.appendChild(el("span", "kz-key", row[0]));
      line.appendChild(el("span", "kz-value", row[1]));
      panel.appendChild(line);
    });
    var out = s.direction === "out", p = this.pairs(source, s.yi), partners = [];
    for (var k = 0; k < p.o.length; k++) {
      if (out ? p.o[k] === i : p.d[k] === i) { partners.push([out ? p.d[k] : p.o[k], p.v[k]]); }
    }
    partners.sort(function (a, b) { return b[1] - a[1]; });
    panel.appendChild(el("div", "kz-sub", out ? "Top destinations" : "Top origins"));
    var list = el("ol", "kz-partners");
    partners.slice(0, 5).forEach(function (pair) {
      list.appendChild(el("li", null, names[pair[0]] + ": " + fmt(pair[1])));
    });
    panel.appendChild(list);
  };

  /* State changes -------------------------------------------------------------------- */

  Explorer.prototype.update = function () {
    var s = this.state;
    var chosen = this.selection();
    this.drawFlows(chosen);
    var bal = this.balance(this.source(), s.yi);
    this.drawRegions(bal);
    this.drawHubs(bal);
    this.drawRegionLegend();
    this.drawFlowLegend();
    if (this.data.hubs.length) { this.drawHubLegend(); }
    this.drawSummary(chosen);
    this.drawPanel();
    this.slider.value = String(s.yi);
    this.yearLabel.textContent = String(this.data.years[s.yi]);
    this.modeSelect.value = s.mode;
    this.regionSelect.value = String(s.region);
    this.directionSelect.value = s.direction;
    this.directionSelect.disabled = s.region < 0;
  };

  Explorer.prototype.setYearIndex = function (yi) {
    if (!(yi >= 0 && yi < this.data.years.length)) { throw new RangeError("no year index " + yi); }
    this.state.yi = yi;
    this.update();
  };

  Explorer.prototype.setYear = function (year) {
    this.setYearIndex(this.data.years.indexOf(Number(year)));
  };

  Explorer.prototype.setMode = function (mode) {
    if (!MODES[mode] || !this.available(mode)) { throw new RangeError("mode not available: " + mode); }
    this.state.mode = mode;
    this.update();
  };

  Explorer.prototype.setTopN = function (n) {
    this.state.topN = n >= 1 ? Math.floor(n) : 1;
    this.topInput.value = String(this.state.topN);
    this.update();
  };

  Explorer.prototype.setThreshold = function (x) {
    this.state.threshold = x >= 0 ? x : 0;
    this.thresholdInput.value = String(this.state.threshold);
    this.update();
  };

  Explorer.prototype.selectRegion = function (i) {
    this.state.region = i >= 0 && i < this.n ? i : -1;
    this.update();
  };

  Explorer.prototype.selectRegionId = function (id) {
    this.selectRegion(this.data.ids.indexOf(String(id)));
  };

  Explorer.prototype.setDirection = function (direction) {
    this.state.direction = direction === "in" ? "in" : "out";
    this.update();
  };

  Explorer.prototype.togglePlay = function () {
    var self = this;
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.playButton.textContent = "▶";
      return;
    }
    if (this.state.yi === this.data.years.length - 1) { this.setYearIndex(0); }
    this.playButton.textContent = "❚❚";
    this.timer = setInterval(function () {
      if (self.state.yi >= self.data.years.length - 1) { self.togglePlay(); return; }
      self.setYearIndex(self.state.yi + 1);
    }, 1000);
  };

  var STYLE = [
    ".kz-box{background:rgba(255,255,255,.94);padding:8px 10px;border-radius:4px;",
    "box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.35 'Helvetica Neue',Arial,sans-serif;color:#222}",
    ".kz-explorer{width:270px;overflow-wrap:anywhere}.kz-legend{width:230px}",
    ".kz-title{font-weight:bold;font-size:14px;margin-bottom:4px}",
    ".kz-strong{font-weight:bold}.kz-sub{color:#555;margin:2px 0}",
    ".kz-row{display:flex;align-items:center;gap:6px;margin:2px 0}",
    ".kz-key{flex:0 0 64px;color:#444}.kz-stat .kz-key{flex:1 1 auto}.kz-value{font-variant-numeric:tabular-nums}",
    ".kz-year-slider{flex:1 1 auto}.kz-year{font-weight:bold;width:34px}",
    ".kz-explorer select,.kz-explorer input[type=number]{flex:1 1 auto;min-width:0;font-size:12px}",
    ".kz-summary{margin-top:6px;padding-top:4px;border-top:1px solid #ddd}",
    ".kz-panel{margin-top:6px;padding-top:4px;border-top:1px solid #ddd}",
    ".kz-partners{margin:2px 0 0 18px;padding:0}",
    ".kz-bar{height:10px;margin:4px 20px 0 20px;border:1px solid #999}",
    ".kz-ticks{position:relative;height:16px;margin:0 20px}",
    ".kz-tick{position:absolute;top:2px;transform:translateX(-50%);white-space:nowrap;font-size:11px}",
    ".kz-legend > div + div{margin-top:8px}",
    ".kz-hub-tip{background:rgba(255,255,255,.85);border:0;box-shadow:none;font-weight:bold;padding:1px 4px}",
    ".leaflet-container{background:#eef1f4}"
  ].join("");

  window.kzExplorer = {
    start: function (map, elementId) {
      var style = document.createElement("style");
      style.textContent = STYLE;
      document.head.appendChild(style);
      var data = JSON.parse(document.getElementById(elementId).textContent);
      this.instance = new Explorer(map, data);
      return this.instance;
    }
  };
}());
