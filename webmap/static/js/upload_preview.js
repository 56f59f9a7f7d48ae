/* Upload preview map: what the file would add, drawn from a JSON data island.
 * Popups are built from DOM nodes with textContent: file contents never become HTML. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("up-map-data").textContent);
  var map = L.map("up-map", { maxZoom: 19 });
  (data.tiles || []).forEach(function (t) {
    L.tileLayer(t.url, { attribution: t.attribution, subdomains: t.subdomains || "abc",
      maxZoom: t.maxZoom || 18 }).addTo(map);
  });
  if (data.outline) {
    L.geoJSON(data.outline, { interactive: false,
      style: { color: "#8e1b1b", weight: 2, fill: false } }).addTo(map);
  }
  function popup(feature) {
    var table = document.createElement("table");
    table.className = "table";
    var props = feature.properties || {};
    Object.keys(props).forEach(function (key) {
      if (props[key] === null || props[key] === "") return;
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      var td = document.createElement("td");
      th.textContent = (data.labels && data.labels[key]) || key;
      td.textContent = String(props[key]);
      tr.appendChild(th);
      tr.appendChild(td);
      table.appendChild(tr);
    });
    return table;
  }
  var added = L.geoJSON(data.features, {
    pointToLayer: function (f, ll) {
      return L.circleMarker(ll, { radius: 6, color: "#1565c0", weight: 2, fillOpacity: 0.6 });
    },
    style: { color: "#1565c0", weight: 3 },
    onEachFeature: function (f, layer) { layer.bindPopup(function () { return popup(f); }); }
  }).addTo(map);
  var bounds = added.getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds.pad(0.2), { maxZoom: 17 });
  } else {
    var b = data.bounds;
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  }
  document.getElementById("up-map").setAttribute("data-features", String(data.features.length));
})();
