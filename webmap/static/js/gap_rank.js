/* The ranked gaps of a map (webmap/gap_rank_map.py): the first ten of each kind drawn
 * clearly and numbered over the faint overlays, and a list beside or below the map whose
 * rows zoom to them (fitBounds).
 *
 * Every text from data (place names, townships, figures) goes into the page with
 * textContent: nothing is ever parsed as HTML. Marker icons are DOM elements too.
 */
(function () {
  "use strict";

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function marker(kind, rank) {
    var box = el("span", null, "vw-rank-marker vw-rank-" + kind.marker);
    box.style.setProperty("--vw-rank-color", kind.color);
    box.appendChild(el("span", rank, "vw-rank-num"));
    return L.divIcon({ html: box, className: "vw-rank-icon", iconSize: [24, 24], iconAnchor: [12, 12] });
  }

  function anchorOf(shape) {
    // The middle vertex of a line (a point on it), else the centre of the shape.
    var found = null;
    shape.eachLayer(function (leaf) {
      if (found) return;
      if (leaf.getLatLng) { found = leaf.getLatLng(); return; }
      var points = leaf.getLatLngs ? leaf.getLatLngs() : [];
      while (points.length && Array.isArray(points[0])) points = points[Math.floor(points.length / 2)];
      if (points.length && leaf instanceof L.Polyline && !(leaf instanceof L.Polygon)) {
        found = points[Math.floor(points.length / 2)];
      }
    });
    return found || shape.getBounds().getCenter();
  }

  function swatch(kind) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "14");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "vw-rank-swatch");
    var line = document.createElementNS(ns, "line");
    [["x1", "1"], ["y1", "7"], ["x2", "27"], ["y2", "7"], ["stroke", kind.color],
      ["stroke-width", "4"]].forEach(function (a) { line.setAttribute(a[0], a[1]); });
    if (kind.dash) line.setAttribute("stroke-dasharray", kind.dash);
    svg.appendChild(line);
    return svg;
  }

  function listFor(state, payload) {
    var section = el("section", null, "vw-rank");
    section.setAttribute("data-vw-rank-list", "");
    section.appendChild(el("h2", payload.strings.title, "vw-section-title"));
    section.appendChild(el("p", payload.strings.hint, "vw-hint"));
    if (!payload.kinds.length) section.appendChild(el("p", payload.strings.none, "vw-empty"));
    payload.kinds.forEach(function (kind) {
      var block = el("div", null, "vw-rank-kind");
      block.setAttribute("data-rank-kind", kind.kind);
      var head = el("h3", null, "vw-rank-head");
      head.appendChild(swatch(kind));
      head.appendChild(el("span", kind.label));
      block.appendChild(head);
      block.appendChild(el("p", kind.covers, "vw-rank-covers"));
      var list = el("ol", null, "vw-rank-items");
      state.items.filter(function (i) { return i.data.k === kind.kind; }).forEach(function (item) {
        var row = el("li");
        var button = el("button", null, "vw-rank-item");
        button.type = "button";
        button.setAttribute("data-rank", item.data.r);
        button.setAttribute("data-feature", item.data.id);
        button.title = payload.strings.zoom;
        button.appendChild(el("span", item.data.r, "vw-rank-no"));
        button.appendChild(el("span", item.data.t, "vw-rank-label"));
        button.appendChild(el("span", item.data.f, "vw-rank-figure"));
        if (item.data.w) button.appendChild(el("span", item.data.w, "vw-rank-town"));
        button.addEventListener("click", function () { zoomTo(state, item); });
        row.appendChild(button);
        list.appendChild(row);
      });
      block.appendChild(list);
      var rest = kind.count - Math.min(kind.count, payload.top);
      if (rest > 0) block.appendChild(el("p", payload.strings.rest.replace("{n}", rest), "vw-hint"));
      section.appendChild(block);
    });
    return section;
  }

  function zoomTo(state, item) {
    state.items.forEach(function (other) { other.marker.closeTooltip(); });
    state.map.fitBounds(item.data.b, { maxZoom: 16, padding: [30, 30], animate: false });
    state.selected = item.data.k + ":" + item.data.r;
    item.marker.openTooltip();
  }

  function place(map, section) {
    var slot = document.querySelector("[data-vw-ranked]");
    if (slot) { slot.appendChild(section); return; }
    var container = map.getContainer();
    var host = container.closest(".dash-map, .vw-area-map") || container;
    host.parentNode.insertBefore(section, host.nextSibling);
  }

  function draw(map, payload) {
    if (!map.getPane("vwRank")) {
      map.createPane("vwRank");
      map.getPane("vwRank").style.zIndex = 640;
    }
    var kinds = {};
    payload.kinds.forEach(function (k) { kinds[k.kind] = k; });
    var state = { map: map, items: [], selected: null, group: L.featureGroup() };
    // The shapes only show where a gap is: SVG and not interactive, so clicks reach the
    // features under them (a canvas of their own would catch every click on the map).
    var renderer = L.svg({ pane: "vwRank" });
    payload.items.forEach(function (data) {
      var kind = kinds[data.k];
      var style = {
        pane: "vwRank", renderer: renderer, interactive: false, color: kind.color, weight: 6,
        opacity: 1, dashArray: kind.dash || null, fill: true, fillColor: kind.color,
        fillOpacity: 0.35,
      };
      var line = Object.assign({}, style, { fill: false });
      var shape = L.geoJSON(data.g, {
        interactive: false,
        // A line is never filled (Leaflet would fill the polygon its ends close).
        style: function (f) { return /Polygon/.test(f.geometry.type) ? style : line; },
        pointToLayer: function (_p, latlng) {
          return L.circleMarker(latlng, Object.assign({ radius: 9 }, style));
        },
      });
      var tip = el("span", data.r + ". " + data.t + " · " + data.f);
      var pin = L.marker(anchorOf(shape), { icon: marker(kind, data.r), pane: "vwRank", keyboard: false });
      pin.bindTooltip(tip, { direction: "top", offset: [0, -10] });
      var item = { data: data, shape: shape, marker: pin };
      pin.on("click", function () { zoomTo(state, item); });
      shape.addTo(state.group);
      pin.addTo(state.group);
      state.items.push(item);
    });
    state.group.addTo(map);
    place(map, listFor(state, payload));
    window.VWRank.maps.push(state);
    document.documentElement.setAttribute("data-vw-rank-ready", String(state.items.length));
    return state;
  }

  window.VWRank = { draw: draw, maps: [] };
})();
