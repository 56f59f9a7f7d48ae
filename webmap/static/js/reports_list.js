/* The public list and map of residents' reports (/reports), by status and township.
 *
 * Reads GET /api/reports (accepted or later, never rejected, no private fields) and draws
 * each report as a list entry and a map marker; planners also get a link to the report's
 * feature editor. Text from residents is only ever set with textContent (Leaflet tooltips
 * take HTML, so they are given DOM elements).
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("rp-config").textContent);
  var T = config.text;
  var $ = function (id) { return document.getElementById(id); };
  var statusSelect = $("rp-filter-status");
  var townSelect = $("rp-filter-township");
  var listEl = $("rp-list");
  var COLORS = { accepted: "#1565c0", in_progress: "#ef6c00", solved: "#2e7d32", closed: "#616161" };

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) {
      return values[k] === undefined ? m : String(values[k]);
    });
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function asList(body, names) {
    if (Array.isArray(body)) return body;
    for (var i = 0; body && i < names.length; i++) {
      if (Array.isArray(body[names[i]])) return body[names[i]];
    }
    return [];
  }
  function statusPage(code) { return fill(config.status_page, { code: encodeURIComponent(code) }); }
  function position(r) {
    if (Array.isArray(r.location) && r.location.length >= 2) return r.location;
    if (r.geometry && r.geometry.coordinates) return r.geometry.coordinates;
    if (typeof r.lon === "number" && typeof r.lat === "number") return [r.lon, r.lat];
    return null;
  }

  var map = null, markers = null;
  if (typeof L !== "undefined") {
    map = L.map("rp-list-map", { zoomControl: true, maxZoom: 19 });
    (config.tiles || []).forEach(function (t) {
      L.tileLayer(t.url, { attribution: t.attribution, subdomains: t.subdomains || "abc",
        maxZoom: t.maxZoom || 18 }).addTo(map);
    });
    if (config.outline) {
      L.geoJSON(config.outline, { interactive: false, style: { color: "#8e1b1b", weight: 2, fill: false } }).addTo(map);
    }
    var b = config.bounds;
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    markers = L.layerGroup().addTo(map);
  }

  function item(r) {
    var li = el("li", "rp-list-item");
    li.setAttribute("data-id", String(r.id || ""));
    li.setAttribute("data-status", String(r.status || ""));
    var head = el("p", "rp-list-head");
    var badge = el("span", "rp-badge", T.statuses[r.status] || r.status || "");
    badge.setAttribute("data-status", r.status || "");
    head.appendChild(badge);
    head.appendChild(el("strong", null, " " + (T.categories[r.category] || r.category || "")));
    var place = [r.township, r.village].filter(Boolean).join(" · ");
    if (place) head.appendChild(el("span", "hint", " · " + place));
    li.appendChild(head);
    li.appendChild(el("p", "rp-text", r.description || ""));
    var foot = el("p", "hint");
    if (r.reported_date) foot.appendChild(el("span", null, T.dates.created + " " + String(r.reported_date).slice(0, 10)));
    if (r.solved_date) foot.appendChild(el("span", null, " · " + T.dates.solved + " " + String(r.solved_date).slice(0, 10)));
    if (r.me_too) foot.appendChild(el("span", null, " · " + fill(T.me_too_count, { n: r.me_too })));
    if (r.rating) foot.appendChild(el("span", null, " · " + fill(T.stars, { n: r.rating })));
    if (config.planner && r.id) {
      var edit = el("a", "rp-editor-link", T.open_editor);
      edit.href = fill(config.editor, { id: encodeURIComponent(r.id) });
      foot.appendChild(document.createTextNode(" · "));
      foot.appendChild(edit);
    }
    li.appendChild(foot);
    return li;
  }

  function marker(r) {
    var p = position(r);
    if (!markers || !p) return;
    var m = L.circleMarker([p[1], p[0]], {
      radius: 8, weight: 2, color: "#fff", fillColor: COLORS[r.status] || "#6d4c41", fillOpacity: 0.9
    });
    var tip = el("span", null, (T.categories[r.category] || r.category || "") + " · " +
      (T.statuses[r.status] || r.status || ""));
    m.bindTooltip(tip);
    m.on("click", function () {
      var row = listEl.querySelector('[data-id="' + String(r.id).replace(/["\\]/g, "") + '"]');
      if (row && row.scrollIntoView) row.scrollIntoView({ block: "center" });
    });
    markers.addLayer(m);
  }

  function show(items) {
    listEl.textContent = "";
    if (markers) markers.clearLayers();
    items.forEach(function (r) { listEl.appendChild(item(r)); marker(r); });
    if (!items.length) listEl.appendChild(el("li", "hint", T.list_empty));
    $("rp-list-count").textContent = fill(T.count, { n: items.length });
    listEl.setAttribute("data-state", "loaded");
    listEl.setAttribute("data-count", String(items.length));
  }

  function load() {
    var query = [];
    if (statusSelect.value) query.push("status=" + encodeURIComponent(statusSelect.value));
    if (townSelect.value) query.push("township=" + encodeURIComponent(townSelect.value));
    listEl.setAttribute("data-state", "loading");
    $("rp-list-error").textContent = "";
    fetch(config.api + (query.length ? "?" + query.join("&") : ""), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (resp) {
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      return resp.json();
    }).then(function (body) {
      show(asList(body, ["reports", "items", "features"]));
    }).catch(function () {
      listEl.setAttribute("data-state", "error");
      $("rp-list-error").textContent = T.load_failed;
    });
  }

  function filtered() {
    if (!window.fetch) { $("rp-filters").submit(); return; }  // old browsers: the page filters
    if (window.history && history.replaceState) {
      var params = [];
      if (statusSelect.value) params.push("status=" + encodeURIComponent(statusSelect.value));
      if (townSelect.value) params.push("township=" + encodeURIComponent(townSelect.value));
      history.replaceState(null, "", location.pathname + (params.length ? "?" + params.join("&") : ""));
    }
    load();
  }
  statusSelect.addEventListener("change", filtered);
  townSelect.addEventListener("change", filtered);

  // A planner's list of reports awaiting acceptance (in the page, not the public API).
  var awaiting = config.awaiting || [];
  if (awaiting.length && $("rp-awaiting")) {
    awaiting.forEach(function (r) { $("rp-awaiting-list").appendChild(item(r)); });
    $("rp-awaiting").hidden = false;
  }

  // My reports on this phone (kept by the report form).
  var mineEl = $("rp-mine-list");
  if (mineEl) {
    var mine = [];
    try { mine = JSON.parse(localStorage.getItem("vw-my-reports") || "[]"); } catch (e) { mine = []; }
    if (!Array.isArray(mine) || !mine.length) mineEl.appendChild(el("li", "hint", T.mine_empty));
    (Array.isArray(mine) ? mine : []).forEach(function (r) {
      var li = el("li");
      var a = el("a", "rp-mine-code", r.code);
      a.href = statusPage(r.code);
      li.appendChild(a);
      if (T.categories[r.category]) li.appendChild(el("span", "hint", " · " + T.categories[r.category]));
      mineEl.appendChild(li);
    });
  }
  show(config.reports || []);
})();
