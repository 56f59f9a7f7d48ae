/* Field capture: form, location, photos, and an offline queue that sends each capture once.
 *
 * Every capture is first written to IndexedDB with a random idempotency key, then sent to
 * the JSON endpoint with that key in the Idempotency-Key header. A capture leaves the queue
 * only when the server has answered that it is stored (201, or 200 for a repeat), so a
 * dropped connection or a lost answer means "send again", and the server makes the repeat
 * harmless. User text is only ever set with textContent.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("cap-config").textContent);
  var T = config.text;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("cap-form");
  var layerSelect = $("cap-layer");
  var accuracyEl = $("cap-accuracy");
  var acceptWrap = $("cap-accept-low-wrap");
  var acceptBox = $("cap-accept-low");
  var photosInput = $("cap-photos");
  var errorEl = $("cap-error");
  var netEl = $("cap-net");
  var queueList = $("cap-queue-list");
  var doneList = $("cap-done-list");
  var fieldsets = Array.prototype.slice.call(document.querySelectorAll(".cap-fields"));
  var here = null; // {lon, lat, accuracy_m, source}
  var RETRY_MS = 20000;

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) {
      return values[k] === undefined ? m : String(values[k]);
    });
  }

  // ---------------------------------------------------------------- GCJ-02 display shift
  // Only when the basemap is Gaode's (GCJ-02): positions are kept in WGS84 and shifted for
  // drawing; a tap is shifted back before it is stored.
  var wgsToGcj = window.vwGcj02.wgsToGcj, gcjToWgs = window.vwGcj02.gcjToWgs;
  function toDisplay(lon, lat) {
    var p = config.gcj02 ? wgsToGcj(lon, lat) : [lon, lat];
    return L.latLng(p[1], p[0]);
  }
  function fromDisplay(latlng) {
    return config.gcj02 ? gcjToWgs(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
  }

  // ------------------------------------------------------------------------------ map
  var map = L.map("cap-map", { zoomControl: true, maxZoom: 19 });
  config.tiles.forEach(function (t) {
    L.tileLayer(t.url, { attribution: t.attribution, subdomains: t.subdomains || "abc",
      maxZoom: t.maxZoom || 18 }).addTo(map);
  });
  if (config.outline) {
    L.geoJSON(config.outline, {
      interactive: false,
      style: { color: "#8e1b1b", weight: 2, fill: false },
      coordsToLatLng: function (c) { return toDisplay(c[0], c[1]); }
    }).addTo(map);
  }
  var b = config.bounds;
  map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  var marker = null, circle = null;

  // ------------------------------------------------------------ the map without signal
  // The county's boundaries, roads and villages, and the chosen layer's works near the
  // worker, drawn below the pin; the service worker keeps both, so with no tiles offline
  // the map still shows where the worker is. Names are set as text, never as HTML.
  var offline = (function () {
    var el = $("cap-offline");
    try { return el ? JSON.parse(el.textContent) : null; } catch (e) { return null; }
  })();
  var OT = (offline && offline.text) || {};
  var LABEL_ZOOM = 13;
  var refCounts = { boundaries: 0, roads: 0, villages: 0, nearby: 0 };
  var villageLayer = null, nearbyLayer = null, nearbyAsked = 0, villagesById = {};
  var mapNote = document.createElement("p");
  mapNote.id = "cap-offline-map";
  mapNote.className = "hint";
  mapNote.setAttribute("aria-live", "polite");
  var nearbyNote = document.createElement("p");
  nearbyNote.id = "cap-nearby";
  nearbyNote.className = "hint";
  $("cap-map").insertAdjacentElement("afterend", nearbyNote);
  $("cap-map").insertAdjacentElement("afterend", mapNote);

  [["vw-boundaries", 350], ["vw-roads", 360], ["vw-villages", 370], ["vw-nearby", 450]]
    .forEach(function (p) { map.createPane(p[0]).style.zIndex = String(p[1]); });

  function textLabel(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }
  function toLatLng(c) { return toDisplay(c[0], c[1]); }
  function published() {
    var box = $("cap-map");
    Object.keys(refCounts).forEach(function (k) { box.dataset["ref" + k[0].toUpperCase() + k.slice(1)] = String(refCounts[k]); });
  }

  function showVillageLabels() {
    if (!villageLayer) return;
    var on = map.getZoom() >= LABEL_ZOOM;
    villageLayer.eachLayer(function (m) { if (on) { m.openTooltip(); } else { m.closeTooltip(); } });
  }
  map.on("zoomend", showVillageLabels);

  function drawReference(ref) {
    if (!ref || !ref.boundaries) { mapNote.textContent = OT.map_missing || ""; return; }
    var boundaries = L.geoJSON(ref.boundaries, {
      pane: "vw-boundaries", interactive: false, coordsToLatLng: toLatLng,
      style: function (f) {
        var county = f.properties && f.properties.level === "county";
        return { color: "#8e1b1b", weight: county ? 3 : 1.5, dashArray: county ? null : "6 4",
          fill: false };
      }
    }).addTo(map);
    var roads = L.geoJSON(ref.roads, {
      pane: "vw-roads", interactive: false, coordsToLatLng: toLatLng,
      style: { color: "#616161", weight: 3, opacity: 0.9 }
    }).addTo(map);
    villageLayer = L.geoJSON(ref.villages, {
      pane: "vw-villages", coordsToLatLng: toLatLng,
      pointToLayer: function (f, ll) {
        var m = L.circleMarker(ll, { pane: "vw-villages", radius: 3, color: "#6d4c41",
          weight: 1, fillColor: "#a1887f", fillOpacity: 0.9, interactive: false });
        m.bindTooltip(textLabel((f.properties && f.properties.name) || f.id),
          { permanent: true, direction: "right", className: "vw-village-label", pane: "vw-villages" });
        return m;
      }
    }).addTo(map);
    villagesById = {};
    ref.villages.features.forEach(function (f) { villagesById[f.id] = f.properties || {}; });
    refCounts.boundaries = boundaries.getLayers().length;
    refCounts.roads = roads.getLayers().length;
    refCounts.villages = villageLayer.getLayers().length;
    $("cap-map").style.background = "#f4f1ea";  // no tiles offline: paper, not grey
    showVillageLabels();
    sortVillageLists();
    mapNote.textContent = fill(OT.map_ready || "", refCounts);
    published();
  }

  // The form's village lists by township, then name, then id (code point order: no
  // pinyin collation offline; layers/reference_vectors.py sorts the same way).
  function villageKey(opt) {
    var v = villagesById[opt.value] || {};
    var town = v.township || "";
    return [town === "" ? 1 : 0, town, v.name || opt.textContent, opt.value];
  }
  function compareKeys(a, b) {
    for (var i = 0; i < a.length; i++) {
      if (a[i] < b[i]) return -1;
      if (a[i] > b[i]) return 1;
    }
    return 0;
  }
  function sortVillageLists() {
    fieldsets.forEach(function (fs) {
      var select = fs.querySelector('select[name="village_id"]');
      if (!select || select.dataset.sorted === "township") return;
      var chosen = select.value;
      var opts = Array.prototype.slice.call(select.querySelectorAll("option"))
        .filter(function (o) { return o.value !== ""; });
      opts.sort(function (a, b) { return compareKeys(villageKey(a), villageKey(b)); });
      var group = null, town = null;
      opts.forEach(function (o) {
        var t = (villagesById[o.value] || {}).township || "";
        if (t && t !== town) {
          group = document.createElement("optgroup");
          group.label = t;
          select.appendChild(group);
          town = t;
        } else if (!t && town !== "") {
          group = null;
          town = "";
        }
        (group || select).appendChild(o);
      });
      select.value = chosen;
      select.dataset.sorted = "township";
    });
  }

  function loadReference() {
    if (!offline || !offline.reference) return Promise.resolve(null);
    return fetch(offline.reference, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok || r.redirected) throw new Error("HTTP " + r.status); return r.json(); })
      .then(drawReference, function () { mapNote.textContent = OT.map_missing || ""; });
  }

  function lastWhere() {
    try { return JSON.parse(localStorage.getItem("vw-capture-where") || "null"); } catch (e) { return null; }
  }
  function rememberWhere(loc) {
    try { localStorage.setItem("vw-capture-where", JSON.stringify({ lon: loc.lon, lat: loc.lat })); } catch (e) { /* private mode */ }
  }

  function nearbyTip(f) {
    var p = f.properties || {};
    var name = p.title ? p.title + " · " + f.id : f.id;
    return textLabel(fill(OT.nearby_item || "{title}", { title: name, distance: Math.round(p.distance_m || 0) }));
  }
  function drawNearby(body, label) {
    if (!body || !body.features) return;  // nothing kept for this layer yet
    if (nearbyLayer) { map.removeLayer(nearbyLayer); nearbyLayer = null; }
    nearbyLayer = L.geoJSON(body, {
      pane: "vw-nearby", coordsToLatLng: toLatLng,
      pointToLayer: function (f, ll) {
        return L.circleMarker(ll, { pane: "vw-nearby", radius: 6, color: "#ffffff", weight: 2,
          fillColor: body.color || "#1565c0", fillOpacity: 0.95 });
      },
      style: { color: body.color || "#1565c0", weight: 3 },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(nearbyTip(f), { direction: "top" });
        // A tap on a work already there still places the new one.
        layer.on("click", function (e) { map.fire("click", { latlng: e.latlng }); });
      }
    }).addTo(map);
    refCounts.nearby = nearbyLayer.getLayers().length;
    var values = { layer: label, n: refCounts.nearby, radius: Math.round(body.radius_m || 0) };
    nearbyNote.textContent = fill(refCounts.nearby ? OT.nearby : OT.nearby_none, values);
    nearbyNote.dataset.layer = body.layer || "";
    published();
  }

  // The chosen layer's works around ``loc`` (or the last known position, or the middle
  // of the county); only the answer to the latest question is drawn.
  function loadNearby(loc) {
    if (!offline || !offline.nearby) return Promise.resolve(null);
    var where = loc || lastWhere();
    var layer = layerSelect.value;
    var label = layerSelect.options[layerSelect.selectedIndex].text;
    var url = offline.nearby + "?layer=" + encodeURIComponent(layer);
    if (where && isFinite(where.lon) && isFinite(where.lat)) {
      url += "&lon=" + encodeURIComponent(where.lon.toFixed(5)) + "&lat=" + encodeURIComponent(where.lat.toFixed(5));
    }
    var asked = ++nearbyAsked;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok || r.redirected) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (body) {
        if (asked === nearbyAsked && body && body.layer === layerSelect.value) drawNearby(body, label);
      }, function () { return null; });
  }

  function currentLimit() {
    var info = config.layers[layerSelect.value];
    return info && info.accuracy_limit_m ? Number(info.accuracy_limit_m) : null;
  }

  function overLimit() {
    var limit = currentLimit();
    return !!(here && here.source === "gps" && limit && here.accuracy_m > limit);
  }

  function showAccuracy() {
    accuracyEl.removeAttribute("data-state");
    acceptWrap.hidden = true;
    if (!here) { accuracyEl.textContent = ""; return; }
    var where = here.lat.toFixed(6) + ", " + here.lon.toFixed(6);
    if (here.source === "map") {
      accuracyEl.textContent = fill(T.placed_on_map, { where: where });
      return;
    }
    var text = fill(T.located, { where: where }) + " " +
      fill(T.accuracy, { m: Math.round(here.accuracy_m) });
    if (overLimit()) {
      text += " " + fill(T.accuracy_over, { limit: currentLimit() });
      accuracyEl.setAttribute("data-state", "over");
      acceptWrap.hidden = false;
    } else {
      accuracyEl.setAttribute("data-state", "ok");
    }
    accuracyEl.textContent = text;
  }

  function setLocation(loc) {
    here = loc;
    acceptBox.checked = false;
    var ll = toDisplay(loc.lon, loc.lat);
    if (marker) { marker.setLatLng(ll); } else { marker = L.marker(ll).addTo(map); }
    if (circle) { map.removeLayer(circle); circle = null; }
    if (loc.accuracy_m) {
      circle = L.circle(ll, { radius: loc.accuracy_m, weight: 1, interactive: false }).addTo(map);
    }
    map.setView(ll, Math.max(map.getZoom(), 16));
    showAccuracy();
    fillPlace(loc);
    rememberWhere(loc);
    loadNearby(loc);
  }

  // Township and village from the location (the server's boundaries and village areas):
  // filled in where empty or filled in by us before, never over what the worker typed.
  function fillPlace(loc) {
    if (!config.place || !navigator.onLine) return;
    var url = config.place + "?lon=" + encodeURIComponent(loc.lon) + "&lat=" + encodeURIComponent(loc.lat);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (place) {
        if (!place || here !== loc) return;
        var filled = [];
        fieldsets.forEach(function (fs) {
          var town = fs.querySelector('[name="township"]');
          if (town && place.township && (!town.value || town.dataset.vwAuto === "1")) {
            town.value = place.township.name;
            town.dataset.vwAuto = "1";
            if (fs.dataset.layer === layerSelect.value) filled.push(place.township.name);
          }
          var village = fs.querySelector('select[name="village_id"]');
          if (village && place.village && (!village.value || village.dataset.vwAuto === "1") &&
              village.querySelector('option[value="' + CSS.escape(place.village.id) + '"]')) {
            village.value = place.village.id;
            village.dataset.vwAuto = "1";
            if (fs.dataset.layer === layerSelect.value) filled.push(place.village.name);
          }
        });
        var note = $("cap-place");
        if (note) note.textContent = filled.length ? fill(T.place_filled, { place: filled.join(" · ") }) : "";
      })
      .catch(function () { /* offline or a hiccup: the worker fills them in */ });
  }
  fieldsets.forEach(function (fs) {
    fs.addEventListener("input", function (e) {
      if (e.target && e.target.dataset) delete e.target.dataset.vwAuto;  // the worker's own
    });
    fs.addEventListener("change", function (e) {
      if (e.target && e.target.dataset && e.isTrusted) delete e.target.dataset.vwAuto;
    });
  });

  map.on("click", function (e) {
    var p = fromDisplay(e.latlng);
    setLocation({ lon: p[0], lat: p[1], accuracy_m: null, source: "map" });
  });

  $("cap-locate").addEventListener("click", function () {
    errorEl.textContent = "";
    if (!navigator.geolocation) { errorEl.textContent = T.geo_unavailable; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setLocation({ lon: pos.coords.longitude, lat: pos.coords.latitude,
        accuracy_m: pos.coords.accuracy, source: "gps" });
    }, function (err) {
      errorEl.textContent = err && err.code === 1 ? T.geo_denied : T.geo_unavailable;
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
  });

  // ----------------------------------------------------------------------- layer choice
  function activeFieldset() {
    return fieldsets.filter(function (fs) { return fs.dataset.layer === layerSelect.value; })[0];
  }
  function showLayer() {
    fieldsets.forEach(function (fs) {
      var on = fs.dataset.layer === layerSelect.value;
      fs.hidden = !on;
      fs.disabled = !on;
    });
    showAccuracy();
  }
  layerSelect.addEventListener("change", function () {
    try { localStorage.setItem("vw-capture-layer", layerSelect.value); } catch (e) { /* private mode */ }
    showLayer();
    loadNearby(here);
  });
  try {
    var last = localStorage.getItem("vw-capture-layer");
    if (last && config.layers[last]) layerSelect.value = last;
  } catch (e) { /* private mode */ }

  // ------------------------------------------------------------------------- IndexedDB
  var DB_NAME = "villageworks-capture", STORE = "queue";
  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && result.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }
  function queueAll() {
    return withStore("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.created < b.created ? -1 : 1; });
    });
  }
  function queuePut(rec) { return withStore("readwrite", function (s) { return s.put(rec); }); }
  function queueDelete(key) { return withStore("readwrite", function (s) { return s.delete(key); }); }

  // -------------------------------------------------------------------------- capture
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (x) {
      return ("0" + x.toString(16)).slice(-2);
    }).join("");
  }

  function readProperties(fs) {
    var props = {};
    Array.prototype.forEach.call(fs.querySelectorAll("[name]"), function (el) {
      var value = String(el.value || "").trim();
      if (value !== "") props[el.name] = value;
    });
    return props;
  }

  function firstInvalid(fs) {
    var controls = fs.querySelectorAll("input, select, textarea");
    for (var i = 0; i < controls.length; i++) {
      if (!controls[i].checkValidity()) return controls[i];
    }
    return null;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorEl.textContent = "";
    var fs = activeFieldset();
    var bad = firstInvalid(fs);
    if (bad) {
      bad.reportValidity();
      errorEl.textContent = T.invalid;
      return;
    }
    var files = Array.prototype.slice.call(photosInput.files || []);
    if (!here && !files.length) { errorEl.textContent = T.no_location; return; }
    if (overLimit() && !acceptBox.checked) {
      errorEl.textContent = fill(T.accuracy_over, { limit: currentLimit() });
      return;
    }
    var rec = {
      key: newKey(),
      layer: layerSelect.value,
      label: layerSelect.options[layerSelect.selectedIndex].text,
      properties: readProperties(fs),
      geometry: here ? { type: "Point", coordinates: [here.lon, here.lat] } : null,
      accuracy_m: here && here.accuracy_m ? here.accuracy_m : null,
      location_source: here ? here.source : "photo",
      accept_low_accuracy: !!acceptBox.checked,
      photo_crs: form.elements.photo_crs ? form.elements.photo_crs.value : "wgs84",
      photos: files.map(function (f) { return { name: f.name, type: f.type, blob: f }; }),
      created: new Date().toISOString(),
      state: "queued"
    };
    queuePut(rec).then(function () {
      photosInput.value = "";
      here = null;
      if (marker) { map.removeLayer(marker); marker = null; }
      if (circle) { map.removeLayer(circle); circle = null; }
      showAccuracy();
      return render();
    }).then(flush);
  });

  // --------------------------------------------------------------------------- sending
  var flushing = false;

  function setNet(online) {
    netEl.setAttribute("data-state", online ? "online" : "offline");
    return render();
  }

  function send(rec) {
    var body = new FormData();
    body.append("capture", JSON.stringify({
      layer: rec.layer, properties: rec.properties, geometry: rec.geometry,
      accuracy_m: rec.accuracy_m, location_source: rec.location_source,
      accept_low_accuracy: rec.accept_low_accuracy
    }));
    rec.photos.forEach(function (p) { body.append("photos", p.blob, p.name); });
    body.append("photo_crs", rec.photo_crs || "wgs84");
    return fetch(config.api, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Idempotency-Key": rec.key, "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (resp) {
      netEl.setAttribute("data-state", "online");
      return resp.json().catch(function () { return null; }).then(function (json) {
        if (resp.ok) {
          return queueDelete(rec.key).then(function () { addDone(rec, json); return "sent"; });
        }
        if (resp.status >= 500 || resp.status === 429) return "retry";
        var err = json && json.error ? json.error : {};
        var problems = (err.problems || []).map(function (p) { return p.message; });
        rec.error = [err.message || String(resp.status)].concat(problems).join("\n");
        // Not logged in, or the page is stale: keep it queued for after a new login.
        if (resp.status === 401 || resp.status === 403 || err.code === "csrf_failed") {
          rec.state = "queued";
        } else {
          rec.state = "failed";
        }
        return queuePut(rec).then(function () { return rec.state; });
      });
    }, function () {
      netEl.setAttribute("data-state", "offline");
      return "offline";
    });
  }

  // A connection that drops mid-request is retried soon, then less and less often.
  var backoffMs = 1000, retryTimer = null;
  function retrySoon() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, RETRY_MS);
  }

  function flush() {
    if (flushing) return Promise.resolve();
    flushing = true;
    return queueAll().then(function (items) {
      var chain = Promise.resolve("start");
      items.forEach(function (rec) {
        chain = chain.then(function (last) {
          if (last === "offline" || rec.state === "failed") return last;
          rec.state = "sending";
          return render().then(function () { return send(rec); });
        });
      });
      return chain;
    }).catch(function () { return "error"; }).then(function (last) {
      flushing = false;
      if (last === "offline" || last === "retry") {
        if (navigator.onLine) retrySoon();
      } else {
        backoffMs = 1000;
      }
      return render();
    });
  }

  // --------------------------------------------------------------------------- display
  function addDone(rec, json) {
    var li = document.createElement("li");
    li.className = "cap-sent";
    li.dataset.key = rec.key;
    li.textContent = fill(T.sent, { layer: rec.label, id: json && json.id ? json.id : "" });
    doneList.insertBefore(li, doneList.firstChild);
  }

  function queueItem(rec) {
    var li = document.createElement("li");
    li.dataset.key = rec.key;
    li.dataset.state = rec.state;
    var when = new Date(rec.created);
    var head = document.createElement("span");
    head.textContent = rec.label + " · " + when.toLocaleTimeString() + " · " +
      (rec.state === "failed" ? T.failed : rec.state === "sending" ? T.sending : T.queued);
    li.appendChild(head);
    if (rec.error) {
      var err = document.createElement("pre");
      err.className = "cap-item-error";
      err.textContent = rec.error;
      li.appendChild(err);
    }
    if (rec.state === "failed") {
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "cap-discard";
      discard.textContent = T.discard;
      discard.addEventListener("click", function () { queueDelete(rec.key).then(render); });
      li.appendChild(discard);
    }
    return li;
  }

  function render() {
    return queueAll().then(function (items) {
      queueList.textContent = "";
      items.forEach(function (rec) { queueList.appendChild(queueItem(rec)); });
      var waiting = items.filter(function (r) { return r.state !== "failed"; }).length;
      var online = netEl.getAttribute("data-state") !== "offline" && navigator.onLine;
      netEl.textContent = (online ? T.online : T.offline) + " · " +
        (waiting ? fill(T.queued, {}) + " " + waiting : T.queue_empty);
      netEl.dataset.waiting = String(waiting);
    }).catch(function () { return null; });
  }

  // ------------------------------------------------------------ returned to me
  // Fetched, never part of the page: the service worker keeps the page for whoever uses
  // this phone next, and the answer is marked no-store.
  var returnedList = $("cap-returned-list");
  var returnedStatus = $("cap-returned-status");
  function returnedItem(w) {
    var li = document.createElement("li");
    li.className = "cap-returned-item";
    li.dataset.feature = w.layer + "/" + w.id;
    var head = document.createElement("strong");
    head.textContent = w.layer_label + " · " + (w.title ? w.title + " (" + w.id + ")" : w.id);
    var comment = document.createElement("p");
    comment.className = "cap-returned-comment";
    comment.textContent = fill(T.returned_comment, { comment: w.comment });
    var link = document.createElement("a");
    link.className = "cap-button cap-returned-fix";
    link.href = w.url;
    link.textContent = T.returned_fix;
    li.appendChild(head);
    li.appendChild(comment);
    li.appendChild(link);
    return li;
  }
  function loadReturned() {
    if (!config.returned || !returnedList) return Promise.resolve(null);
    return fetch(config.returned, {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" }
    }).then(function (resp) {
      if (!resp.ok || resp.redirected) throw new Error("HTTP " + resp.status);
      return resp.json();
    }).then(function (body) {
      var items = (body && body.returned) || [];
      returnedList.textContent = "";
      items.forEach(function (w) { returnedList.appendChild(returnedItem(w)); });
      returnedStatus.textContent = items.length ? "" : T.returned_none;
      returnedList.dataset.loaded = String(items.length);
    }, function () {
      if (returnedList.dataset.loaded === undefined) returnedStatus.textContent = T.returned_offline;
    });
  }

  window.addEventListener("online", function () { setNet(true).then(flush); loadReturned(); });
  window.addEventListener("offline", function () { setNet(false); });
  setInterval(function () { if (navigator.onLine) flush(); }, RETRY_MS);

  if ("serviceWorker" in navigator && config.sw) {
    navigator.serviceWorker.register(config.sw).catch(function () { return null; });
  }

  showLayer();
  loadReference();
  loadNearby(null);
  netEl.setAttribute("data-state", navigator.onLine ? "online" : "offline");
  render().then(function () { if (navigator.onLine) flush(); });
  loadReturned();
  window.vwCapture = {
    flush: flush, queueAll: queueAll, loadReturned: loadReturned,
    offlineMap: function () { return Object.assign({ zoom: map.getZoom() }, refCounts); },
    setZoom: function (z) { map.setZoom(z, { animate: false }); }
  };
})();
