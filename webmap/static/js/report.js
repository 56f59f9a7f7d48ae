/* The residents' channel: the report form (/report) and one report's page (/reports/<code>).
 *
 * /report: the location from GPS or a tap on the map, a category, a description, photos
 * and an optional phone number. Once the position and the category are chosen, open
 * reports of that category nearby are offered ("the same problem? +1"). A report is kept
 * in IndexedDB until the server has answered that it is stored, so one made without signal
 * waits ("待发送") and is sent when the phone is online again; the tracking codes the
 * resident got are remembered in localStorage ("我的反映") on this phone.
 * /reports/<code>: the status, the public replies and the dates; once solved, a rating.
 *
 * Written for old phone browsers too (WeChat's): no arrow functions, every modern API is
 * checked for first. Text from residents and planners is only ever set with textContent.
 */
(function () {
  "use strict";

  var configEl = document.getElementById("rp-config");
  if (!configEl) return;
  var config = JSON.parse(configEl.textContent);
  var T = config.text;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var $ = function (id) { return document.getElementById(id); };
  var MINE_KEY = "vw-my-reports";

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
  function statusPage(code) { return fill(config.status_page, { code: encodeURIComponent(code) }); }
  function apiHeaders(extra) {
    var h = { "Accept": "application/json", "X-CSRF-Token": csrf };
    for (var k in extra || {}) { if (Object.prototype.hasOwnProperty.call(extra, k)) h[k] = extra[k]; }
    return h;
  }
  // fetch where there is one; XMLHttpRequest in older in-app browsers (a fetch-like answer).
  function request(url, opts) {
    opts = opts || {};
    if (window.fetch) return fetch(url, opts);
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(opts.method || "GET", url, true);
      var headers = opts.headers || {};
      for (var k in headers) {
        if (Object.prototype.hasOwnProperty.call(headers, k)) xhr.setRequestHeader(k, headers[k]);
      }
      xhr.onload = function () {
        var text = xhr.responseText;
        resolve({
          ok: xhr.status >= 200 && xhr.status < 300,
          status: xhr.status,
          json: function () {
            return new Promise(function (ok, bad) {
              try { ok(JSON.parse(text)); } catch (e) { bad(e); }
            });
          }
        });
      };
      xhr.onerror = function () { reject(new Error("network")); };
      xhr.send(opts.body === undefined ? null : opts.body);
    });
  }

  // A list in an answer: the answer itself, or its first member of these names.
  function asList(body, names) {
    if (Array.isArray(body)) return body;
    for (var i = 0; body && i < names.length; i++) {
      if (Array.isArray(body[names[i]])) return body[names[i]];
    }
    return [];
  }
  function errorMessage(json, status) {
    var err = json && json.error ? json.error : {};
    var problems = (err.problems || []).map(function (p) { return p.message || String(p); });
    return [err.message || ("HTTP " + status)].concat(problems).join("\n");
  }

  // ------------------------------------------------------------------ my reports (this phone)
  function mine() {
    try {
      var list = JSON.parse(localStorage.getItem(MINE_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) { return []; }
  }
  function remember(code, category) {
    if (!code) return;
    var list = mine().filter(function (r) { return r && r.code !== code; });
    list.unshift({ code: String(code), category: category || "", created: new Date().toISOString() });
    try { localStorage.setItem(MINE_KEY, JSON.stringify(list.slice(0, 50))); } catch (e) { /* private mode */ }
    renderMine();
  }
  function renderMine() {
    var listEl = $("rp-mine-list");
    if (!listEl) return;
    listEl.textContent = "";
    var list = mine();
    if (!list.length) { listEl.appendChild(el("li", "hint", T.mine_empty)); return; }
    list.forEach(function (r) {
      var li = el("li");
      var a = el("a", "rp-mine-code", r.code);
      a.href = statusPage(r.code);
      li.appendChild(a);
      var cat = T.categories[r.category];
      if (cat) li.appendChild(el("span", "hint", " · " + cat));
      if (r.created) li.appendChild(el("span", "hint", " · " + r.created.slice(0, 10)));
      listEl.appendChild(li);
    });
  }
  window.vwReportsMine = mine;

  if ($("rp-form")) { reportForm(); } else if ($("rp-status")) { statusView(); }
  renderMine();

  // =============================================================================== /report
  function reportForm() {
    var form = $("rp-form");
    var errorEl = $("rp-error");
    var netEl = $("rp-net");
    var queueList = $("rp-queue-list");
    var categoryEl = $("rp-category");
    var here = null;  // {lon, lat, accuracy_m, source}
    var map = makeMap();
    var marker = null;
    var hasDb = typeof window.indexedDB !== "undefined" && window.indexedDB !== null;
    var memoryQueue = [];  // without IndexedDB: kept while the page is open

    function setLocation(loc) {
      here = loc;
      $("rp-lon").value = String(loc.lon);
      $("rp-lat").value = String(loc.lat);
      if (map) {
        var ll = toDisplay(loc.lon, loc.lat);
        if (marker) { marker.setLatLng(ll); } else { marker = L.marker(ll).addTo(map); }
        map.setView(ll, Math.max(map.getZoom(), 16));
      }
      var where = loc.lat.toFixed(6) + ", " + loc.lon.toFixed(6);
      $("rp-where").textContent = loc.source === "gps"
        ? fill(T.located, { where: where, m: Math.round(loc.accuracy_m || 0) })
        : fill(T.placed_on_map, { where: where });
      $("rp-where").setAttribute("data-state", "set");
      checkSimilar();
    }

    if (map) {
      map.on("click", function (e) {
        var p = fromDisplay(e.latlng);
        setLocation({ lon: p[0], lat: p[1], accuracy_m: null, source: "map" });
      });
    }
    $("rp-locate").addEventListener("click", function () {
      errorEl.textContent = "";
      if (!navigator.geolocation) { errorEl.textContent = T.geo_unavailable; return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        setLocation({ lon: pos.coords.longitude, lat: pos.coords.latitude,
          accuracy_m: pos.coords.accuracy, source: "gps" });
      }, function (err) {
        errorEl.textContent = err && err.code === 1 ? T.geo_denied : T.geo_unavailable;
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
    });
    categoryEl.addEventListener("change", checkSimilar);

    // ---------------------------------------------------------------- the same problem?
    var similarSeq = 0;
    function checkSimilar() {
      var box = $("rp-similar"), list = $("rp-similar-list");
      if (!here || !categoryEl.value || !navigator.onLine) { box.hidden = true; return; }
      var seq = ++similarSeq;
      var url = config.similar + "?lon=" + encodeURIComponent(here.lon) + "&lat=" +
        encodeURIComponent(here.lat) + "&category=" + encodeURIComponent(categoryEl.value);
      request(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (seq !== similarSeq) return;
          var items = asList(body, ["similar", "reports", "items", "results"]);
          list.textContent = "";
          items.forEach(function (r) { list.appendChild(similarItem(r)); });
          box.hidden = !items.length;
          box.setAttribute("data-count", String(items.length));
        })
        .catch(function () { box.hidden = true; });
    }

    function similarItem(r) {
      r.category = r.category || categoryEl.value;
      var li = el("li", "rp-similar-item");
      li.setAttribute("data-id", String(r.id || ""));
      var head = el("p", "rp-similar-head");
      head.appendChild(el("strong", null, T.categories[r.category] || r.category || ""));
      if (r.distance_m !== undefined && r.distance_m !== null) {
        head.appendChild(el("span", "hint", " · " + Math.round(Number(r.distance_m)) + " m"));
      }
      if (r.status) head.appendChild(el("span", "hint", " · " + (T.statuses[r.status] || r.status)));
      li.appendChild(head);
      li.appendChild(el("p", "rp-similar-text", r.description || ""));
      var count = el("p", "rp-similar-count", fill(T.me_too_count, { n: Number(r.me_too || 0) }));
      li.appendChild(count);
      var button = el("button", "rp-button rp-me-too", T.similar_same);
      button.type = "button";
      button.addEventListener("click", function () { meToo(r, li, button, count); });
      li.appendChild(button);
      return li;
    }

    function meToo(r, li, button, count) {
      button.disabled = true;
      var url = fill(config.me_too, { id: encodeURIComponent(r.id) });
      request(url, { method: "POST", credentials: "same-origin", headers: apiHeaders({}) })
        .then(function (resp) {
          return resp.json().catch(function () { return null; }).then(function (json) {
            if (!resp.ok) {
              button.disabled = false;
              count.textContent = json && json.error ? errorMessage(json, resp.status)
                : resp.status === 429 ? T.rate_limited : "HTTP " + resp.status;
              return;
            }
            var n = json && json.me_too !== undefined ? json.me_too : Number(r.me_too || 0) + 1;
            count.textContent = fill(T.me_too_count, { n: n });
            li.setAttribute("data-state", "done");
            button.textContent = T.similar_done;
            if (r.code) {
              remember(r.code, r.category);
              var a = el("a", "rp-similar-follow", r.code);
              a.href = statusPage(r.code);
              li.appendChild(a);
            }
          });
        }, function () { button.disabled = false; count.textContent = T.offline; });
    }

    // ------------------------------------------------------------------ queue (IndexedDB)
    var DB_NAME = "villageworks-reports", STORE = "queue";
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
      var all = hasDb ? withStore("readonly", function (s) { return s.getAll(); })
        : Promise.resolve(memoryQueue.slice());
      return all.then(function (items) {
        return (items || []).sort(function (a, b) { return a.created < b.created ? -1 : 1; });
      });
    }
    function queuePut(rec) {
      if (hasDb) return withStore("readwrite", function (s) { return s.put(rec); });
      memoryQueue = memoryQueue.filter(function (r) { return r.key !== rec.key; }).concat([rec]);
      return Promise.resolve();
    }
    function queueDelete(key) {
      if (hasDb) return withStore("readwrite", function (s) { return s.delete(key); });
      memoryQueue = memoryQueue.filter(function (r) { return r.key !== key; });
      return Promise.resolve();
    }
    function newKey() {
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
      var out = "";
      for (var i = 0; i < 32; i++) out += Math.floor(Math.random() * 16).toString(16);
      return out;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errorEl.textContent = "";
      var description = $("rp-description").value.trim();
      if (!here) { errorEl.textContent = T.no_location; return; }
      if (!categoryEl.value) { errorEl.textContent = T.no_category; categoryEl.focus(); return; }
      if (!description) { errorEl.textContent = T.no_description; $("rp-description").focus(); return; }
      var files = Array.prototype.slice.call($("rp-photos").files || []);
      var rec = {
        key: newKey(),
        fields: {
          lon: here.lon, lat: here.lat, category: categoryEl.value, description: description,
          phone: $("rp-phone").value.trim(), website: $("rp-website").value
        },
        photos: files.map(function (f) { return { name: f.name, type: f.type, blob: f }; }),
        created: new Date().toISOString(),
        state: "queued"
      };
      queuePut(rec).then(function () {
        form.reset();
        here = null;
        $("rp-where").textContent = "";
        $("rp-where").removeAttribute("data-state");
        $("rp-similar").hidden = true;
        if (marker && map) { map.removeLayer(marker); marker = null; }
        return render();
      }).then(flush).catch(function (e) { errorEl.textContent = String(e); });
    });

    // ---------------------------------------------------------------------- sending
    function body(rec) {
      var f = rec.fields;
      if (!rec.photos.length) {
        var json = { lon: f.lon, lat: f.lat, category: f.category, description: f.description };
        if (f.phone) json.phone = f.phone;
        if (f.website) json.website = f.website;
        return { data: JSON.stringify(json), type: "application/json" };
      }
      var data = new FormData();
      ["lon", "lat", "category", "description", "phone", "website"].forEach(function (k) {
        if (f[k] !== undefined && f[k] !== "") data.append(k, String(f[k]));
      });
      rec.photos.forEach(function (p) { data.append("photos", p.blob, p.name || "photo.jpg"); });
      return { data: data, type: null };
    }

    function send(rec) {
      var b = body(rec);
      var headers = apiHeaders({ "Idempotency-Key": rec.key });
      if (b.type) headers["Content-Type"] = b.type;
      return request(config.api, { method: "POST", body: b.data, credentials: "same-origin", headers: headers })
        .then(function (resp) {
          netEl.setAttribute("data-state", "online");
          return resp.json().catch(function () { return null; }).then(function (json) {
            if (resp.ok && json && json.code) {
              return queueDelete(rec.key).then(function () {
                remember(json.code, rec.fields.category);
                showDone(json);
                return "sent";
              });
            }
            if (resp.status >= 500 || resp.status === 429) {
              rec.error = json && json.error ? errorMessage(json, resp.status) : T.rate_limited;
              return queuePut(rec).then(function () { return "retry"; });
            }
            rec.error = errorMessage(json, resp.status);
            rec.state = "failed";
            return queuePut(rec).then(function () { return "failed"; });
          });
        }, function () {
          netEl.setAttribute("data-state", "offline");
          return "offline";
        });
    }

    var flushing = false, backoffMs = 2000, retryTimer = null;
    function retrySoon() {
      if (retryTimer) return;
      retryTimer = setTimeout(function () { retryTimer = null; flush(); }, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 60000);
    }
    function flush() {
      if (flushing) return Promise.resolve();
      flushing = true;
      return queueAll().then(function (items) {
        var chain = Promise.resolve("start");
        items.forEach(function (rec) {
          chain = chain.then(function (last) {
            if (last === "offline" || last === "retry" || rec.state === "failed") return last;
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
          backoffMs = 2000;
        }
        return render();
      });
    }

    // ---------------------------------------------------------------------- display
    function showDone(json) {
      var link = json.url || statusPage(json.code);
      $("rp-code").textContent = json.code;
      $("rp-code-link").href = link;
      $("rp-link-text").textContent = new URL(link, location.href).href;
      $("rp-done").hidden = false;
      $("rp-done").setAttribute("data-code", json.code);
      form.hidden = true;
      if ($("rp-done").scrollIntoView) $("rp-done").scrollIntoView();
    }
    $("rp-another").addEventListener("click", function () {
      $("rp-done").hidden = true;
      form.hidden = false;
    });
    $("rp-copy").addEventListener("click", function () {
      var code = $("rp-code").textContent;
      var button = this;
      var done = function () { button.textContent = T.copied; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code).then(done, function () { copyFallback(code); done(); });
      } else { copyFallback(code); done(); }
    });
    function copyFallback(text) {
      var area = el("textarea", null, text);
      area.setAttribute("readonly", "");
      area.style.position = "absolute";
      area.style.left = "-9999px";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); } catch (e) { /* the code stays on screen */ }
      document.body.removeChild(area);
    }

    function queueItem(rec) {
      var li = el("li");
      li.setAttribute("data-key", rec.key);
      li.setAttribute("data-state", rec.state);
      var label = T.categories[rec.fields.category] || rec.fields.category;
      var state = rec.state === "failed" ? T.failed : rec.state === "sending" ? T.sending : T.queued;
      li.appendChild(el("span", "rp-queue-state", state));
      li.appendChild(el("span", null, " · " + label + " · " + rec.fields.description.slice(0, 40)));
      if (rec.error) li.appendChild(el("pre", "rp-item-error", rec.error));
      if (rec.state === "failed") {
        var discard = el("button", "rp-button", T.discard);
        discard.type = "button";
        discard.addEventListener("click", function () { queueDelete(rec.key).then(render); });
        li.appendChild(discard);
      }
      return li;
    }
    function render() {
      return queueAll().then(function (items) {
        queueList.textContent = "";
        items.forEach(function (rec) { queueList.appendChild(queueItem(rec)); });
        $("rp-queue").hidden = !items.length;
        var waiting = items.filter(function (r) { return r.state !== "failed"; }).length;
        var online = netEl.getAttribute("data-state") !== "offline" && navigator.onLine;
        netEl.textContent = (online ? T.online : T.offline) + (waiting ? " · " + T.queued + " " + waiting : "");
        netEl.setAttribute("data-waiting", String(waiting));
      }).catch(function () { return null; });
    }

    window.addEventListener("online", function () {
      netEl.setAttribute("data-state", "online");
      render().then(flush);
    });
    window.addEventListener("offline", function () { netEl.setAttribute("data-state", "offline"); render(); });
    setInterval(function () { if (navigator.onLine) flush(); }, 30000);
    if (navigator.serviceWorker && navigator.serviceWorker.register && config.sw) {
      navigator.serviceWorker.register(config.sw, { scope: config.scope }).catch(function () { return null; });
    }
    netEl.setAttribute("data-state", navigator.onLine ? "online" : "offline");
    render().then(function () { if (navigator.onLine) flush(); });
    window.vwReport = { flush: flush, queueAll: queueAll };
  }

  // ------------------------------------------------------------------------- the map
  // GCJ-02 display shift, only with Gaode's basemap: positions stay WGS84.
  var wgsToGcj = window.vwGcj02.wgsToGcj, gcjToWgs = window.vwGcj02.gcjToWgs;
  function toDisplay(lon, lat) {
    var p = config.gcj02 ? wgsToGcj(lon, lat) : [lon, lat];
    return L.latLng(p[1], p[0]);
  }
  function fromDisplay(latlng) {
    return config.gcj02 ? gcjToWgs(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
  }
  function makeMap() {
    if (typeof L === "undefined" || !$("rp-map")) return null;
    var map = L.map("rp-map", { zoomControl: true, maxZoom: 19 });
    (config.tiles || []).forEach(function (t) {
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
    return map;
  }

  // ================================================================= /reports/<code>
  function statusView() {
    var root = $("rp-status");
    var code = root.getAttribute("data-code");
    var url = config.api + "/" + encodeURIComponent(code);
    // The page carries the report (rendered by the server too); a copy of the page kept
    // by the browser (back button) is refreshed from the API.
    if (config.report) showReport(config.report);
    window.addEventListener("pageshow", function (event) { if (event.persisted) reload(); });
    function reload() {
      return request(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (resp) {
          return resp.json().catch(function () { return null; }).then(function (json) {
            if (!resp.ok) {
              root.setAttribute("data-state", "error");
              $("rp-status-error").textContent = resp.status === 404 ? T.not_found : errorMessage(json, resp.status);
              return;
            }
            showReport(json || {});
          });
        }, function () {
          $("rp-status-error").textContent = T.load_failed;
        });
    }

    function showReport(r) {
      var report = r.report && typeof r.report === "object" ? r.report : r;
      $("rp-state").textContent = T.statuses[report.status] || report.status || "";
      $("rp-state").setAttribute("data-status", report.status || "");
      $("rp-category").textContent = T.categories[report.category] || report.category || "";
      $("rp-place").textContent = [report.township, report.village].filter(Boolean).join(" · ") || "—";
      $("rp-description").textContent = report.description || "";
      optional("rp-me-too", report.me_too ? fill(T.me_too_count, { n: Number(report.me_too) }) : "");
      optional("rp-department", report.department);
      optional("rp-reject-reason", report.status === "rejected" ? report.reject_reason : "");
      showDates(report);
      showReplies(report.replies || []);
      showPhotos(report.photos || []);
      showRating(report);
      $("rp-report").hidden = false;
      root.setAttribute("data-state", "loaded");
      root.setAttribute("data-status", report.status || "");
    }

    function optional(id, value) {
      var dd = $(id);
      dd.textContent = value || "";
      dd.hidden = !value;
      if (dd.previousElementSibling) dd.previousElementSibling.hidden = !value;
    }

    function showDates(report) {
      var list = $("rp-dates");
      list.textContent = "";
      ["created", "updated", "solved"].forEach(function (key) {
        var value = report[key];
        if (!value || (key === "updated" && value === report.created)) return;
        var li = el("li", null);
        li.setAttribute("data-event", key);
        li.appendChild(el("strong", null, T.dates[key] + " "));
        li.appendChild(el("span", null, String(value).replace("T", " ").slice(0, 16)));
        list.appendChild(li);
      });
    }

    function showReplies(replies) {
      var list = $("rp-replies");
      list.textContent = "";
      if (!replies.length) { list.appendChild(el("li", "hint", T.no_replies)); return; }
      replies.forEach(function (reply) {
        var li = el("li", "rp-reply");
        li.appendChild(el("span", "rp-reply-date", String(reply.date || "").replace("T", " ").slice(0, 16)));
        li.appendChild(el("p", "rp-text", reply.text || ""));
        list.appendChild(li);
      });
    }

    function showPhotos(photos) {
      var box = $("rp-photos");
      box.textContent = "";
      photos.forEach(function (p) {
        var src = typeof p === "string" ? p : (p && (p.url || p.src)) || "";
        if (src.charAt(0) !== "/" || src.charAt(1) === "/") return;  // this site's photos only
        var img = el("img");
        img.src = src;
        img.alt = "";
        img.loading = "lazy";
        box.appendChild(img);
      });
    }

    function showRating(report) {
      var box = $("rp-rating"), given = report.rating !== null && report.rating !== undefined;
      var solved = T.rated_after.indexOf(report.status) >= 0;
      var shown = $("rp-rating-shown"), formEl = $("rp-rating-form");
      box.hidden = false;
      box.setAttribute("data-state", given ? "rated" : solved ? "open" : "later");
      $("rp-rating-later").hidden = given || solved;
      formEl.hidden = given || !solved;
      shown.hidden = !given;
      if (given) {
        shown.textContent = fill(T.stars, { n: report.rating }) +
          (report.rating_comment ? " · " + report.rating_comment : "");
      }
    }

    $("rp-rating-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var errorEl = $("rp-rating-error");
      var picked = document.querySelector('input[name="rating"]:checked');
      if (!picked) { errorEl.textContent = T.rating_pick; return; }
      var payload = { rating: Number(picked.value) };
      var comment = $("rp-comment").value.trim();
      if (comment) payload.comment = comment;
      $("rp-rate").disabled = true;
      request(url + "/rating", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(payload),
        headers: apiHeaders({ "Content-Type": "application/json" })
      }).then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (json) {
          $("rp-rate").disabled = false;
          if (resp.ok) {
            errorEl.textContent = "";
            showReport(json || { status: "solved", rating: payload.rating, rating_comment: comment });
            $("rp-rating-shown").textContent = T.rating_saved + " " + $("rp-rating-shown").textContent;
            return;
          }
          errorEl.textContent = resp.status === 409 ? T.rating_refused + " " + errorMessage(json, 409)
            : errorMessage(json, resp.status);
          if (resp.status === 409) $("rp-rating-form").querySelector("fieldset").disabled = true;
        });
      }, function () { $("rp-rate").disabled = false; errorEl.textContent = T.offline; });
    });
  }
})();
