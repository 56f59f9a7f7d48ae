/* The leaders' dashboard: the gap map's layers, sortable tables, Chart.js charts, print.
 *
 * Every text that came from data is put into the page with textContent (or drawn on a
 * canvas by Chart.js): nothing from the store is ever parsed as HTML. Links are built by
 * the server from ids (/townships/<id>, /villages/<id>) and only ever start with "/".
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ map
  function textNode(tag, text, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    node.textContent = text == null ? "" : String(text);
    return node;
  }

  function localHref(href) {
    return typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/";
  }

  function popupFor(feature, strings) {
    var box = document.createElement("div");
    box.className = "dash-popup";
    box.appendChild(textNode("strong", feature.t));
    var lines = feature.l || [];
    if (lines.length) {
      var list = document.createElement("dl");
      lines.forEach(function (pair) {
        list.appendChild(textNode("dt", pair[0]));
        list.appendChild(textNode("dd", pair[1]));
      });
      box.appendChild(list);
    }
    if (localHref(feature.h)) {
      var link = textNode("a", strings.open_page);
      link.href = feature.h;
      box.appendChild(link);
    }
    return box;
  }

  function tooltipFor(feature) {
    return textNode("span", feature.t);
  }

  function styleFor(layer, feature) {
    var s = layer.style;
    var color = feature.c || s.color;
    if (s.kind === "area") {
      return { color: s.color, weight: s.weight, fillColor: color, fillOpacity: s.fillOpacity };
    }
    return {
      color: color,
      weight: s.weight || 1.5,
      opacity: s.opacity == null ? 1 : s.opacity,
      dashArray: s.dashArray || null,
      fillColor: color,
      fillOpacity: s.fillOpacity == null ? 0.8 : s.fillOpacity,
    };
  }

  function eachLeaf(layer, fn) {
    if (typeof layer.eachLayer === "function") {
      layer.eachLayer(function (child) { eachLeaf(child, fn); });
    } else {
      fn(layer);
    }
  }

  function leafletLayer(layer, strings) {
    var group = L.featureGroup();
    layer.features.forEach(function (feature) {
      var style = styleFor(layer, feature);
      var shape = L.geoJSON(feature.g, {
        style: function () { return style; },
        pointToLayer: function (_point, latlng) {
          return L.circleMarker(latlng, Object.assign({ radius: layer.style.radius || 4 }, style));
        },
      });
      shape.vwHref = feature.h || null;
      // Bind on the drawn leaves: a multi-part geometry is a group of groups, which
      // Leaflet 1.9's tooltip focus handling does not walk.
      eachLeaf(shape, function (leaf) {
        leaf.bindTooltip(tooltipFor(feature), { sticky: true });
        if (localHref(feature.h)) {
          // A township or village: a click opens its page.
          leaf.on("click", function () { window.location.assign(feature.h); });
        } else {
          leaf.bindPopup(popupFor(feature, strings));
        }
      });
      shape.addTo(group);
    });
    return group;
  }

  function groupedOverlays(map, payload) {
    var overlays = {};
    var order = ["base", "works", "gaps"];
    order.forEach(function (group) {
      payload.layers.forEach(function (layer) {
        if (layer.group !== group) return;
        var shown = leafletLayer(layer, payload.strings);
        if (layer.show) shown.addTo(map);
        // Layer-control labels are HTML in Leaflet: give it an element's markup built
        // from text, so a label can never carry markup of its own.
        var label = document.createElement("span");
        label.setAttribute("data-layer", layer.key);
        label.appendChild(textNode("span", payload.strings[group] + " · ", "dash-ctl-group"));
        label.appendChild(textNode("span", layer.label + " (" + layer.count + ")"));
        overlays[label.outerHTML] = shown;
      });
    });
    return overlays;
  }

  // Where a linked feature (township or village) is on the page, after centring on it.
  function pointOf(href, zoom) {
    var map = window.vwDashMap;
    var found = null;
    map.eachLayer(function (layer) {
      if (!found && layer.vwHref === href) found = layer;
    });
    if (!found) return null;
    map.getContainer().scrollIntoView({ block: "center" });
    var latlng = found.getBounds().getCenter();
    map.setView(latlng, zoom || map.getZoom(), { animate: false });
    var point = map.latLngToContainerPoint(latlng);
    var box = map.getContainer().getBoundingClientRect();
    return { x: box.left + point.x, y: box.top + point.y };
  }

  function drawMap(map, payload) {
    var overlays = groupedOverlays(map, payload);
    L.control.layers(null, overlays, { collapsed: true }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    window.vwDashMap = map;
    window.vwDashLayers = payload.layers.map(function (l) {
      return { key: l.key, group: l.group, count: l.count, show: l.show };
    });
    window.addEventListener("beforeprint", function () { map.invalidateSize(); });
  }

  // --------------------------------------------------------------- tables
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? (cell.getAttribute("data-value") || cell.textContent) : "";
    if (!numeric) return raw.trim();
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }

  function sortTable(table, header, index) {
    var numeric = header.getAttribute("data-sort") === "num";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var collator = new Intl.Collator(document.documentElement.lang || "zh-CN", { numeric: true });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric);
      var y = cellValue(b, index, numeric);
      var order = numeric ? x - y : collator.compare(x, y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (header, index) {
      if (!header.hasAttribute("data-sort")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort-button";
      while (header.firstChild) button.appendChild(header.firstChild);
      header.appendChild(button);
      button.addEventListener("click", function () { sortTable(table, header, index); });
    });
  }

  // --------------------------------------------------------------- charts
  function sparkline(canvas, trend, strings) {
    if (!trend || !trend.labels.length) return;
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: trend.labels,
        datasets: [
          { label: strings.actual, data: trend.values, borderColor: "#b71c1c", borderWidth: 2,
            pointRadius: 0, tension: 0.2, fill: false },
          { label: strings.target, data: trend.labels.map(function () { return trend.target; }),
            borderColor: "#90a4ae", borderWidth: 1, borderDash: [4, 3], pointRadius: 0 },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false }, tooltip: { enabled: true } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      },
    });
  }

  function barChart(canvas, labels, datasets, horizontal) {
    if (!canvas || !labels.length) return null;
    var scales = { x: { beginAtZero: true }, y: { beginAtZero: true } };
    scales[horizontal ? "x" : "y"].suggestedMax = 100; // percentages
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: scales,
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function drawCharts() {
    var node = document.getElementById("dash-data");
    if (!node || !window.Chart) return;
    var data = JSON.parse(node.textContent);
    var s = data.strings;
    document.querySelectorAll("canvas[data-trend]").forEach(function (canvas) {
      sparkline(canvas, data.trends[Number(canvas.getAttribute("data-trend"))], s);
    });
    var charts = [
      barChart(document.getElementById("dash-chart-plan"), data.plan.labels, [
        { label: s.actual, data: data.plan.actual, backgroundColor: "#c62828" },
        { label: s.plan, data: data.plan.plan, backgroundColor: "#b0bec5" },
      ], true),
      barChart(document.getElementById("dash-chart-coverage"), data.coverage.labels, [
        { label: s.coverage, data: data.coverage.values, backgroundColor: "#2e7d32" },
      ], false),
    ];
    window.vwDashCharts = charts.filter(Boolean);
    window.addEventListener("beforeprint", function () {
      window.vwDashCharts.forEach(function (chart) { chart.resize(); });
    });
  }

  function init() {
    document.querySelectorAll("table.sortable").forEach(makeSortable);
    document.querySelectorAll("[data-dash-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    drawCharts();
    document.documentElement.setAttribute("data-dash-ready", "");
  }

  window.VWDash = { drawMap: drawMap, sortTable: sortTable, pointOf: pointOf };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
