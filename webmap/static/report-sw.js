/* Service worker of the residents' report page (/report): keeps it usable offline.
 *
 * Registered with the scope /report (its own, apart from the capture page's /sw.js). The
 * page is fetched from the network first and taken from the cache when there is no
 * network or it is too slow; its scripts and styles come from the cache at once and are
 * refreshed in the background. Only GET requests for these files are touched: reports
 * are POSTed by the page, which queues them in IndexedDB while the phone is offline.
 */
"use strict";

var CACHE = "vw-report-v1";
var PAGE = "/report";
var ASSETS = [
  "/static/app.css",
  "/static/css/reports.css",
  "/static/js/gcj02.js",
  "/static/js/report.js",
  "/static/js/signed-out.js",
  "/static/vendor/leaflet@1.9.3/dist/leaflet.css",
  "/static/vendor/leaflet@1.9.3/dist/leaflet.js",
  "/static/vendor/leaflet@1.9.3/dist/images/marker-icon.png",
  "/static/vendor/leaflet@1.9.3/dist/images/marker-icon-2x.png",
  "/static/vendor/leaflet@1.9.3/dist/images/marker-shadow.png",
  "/static/vendor/leaflet@1.9.3/dist/images/layers.png",
  "/static/vendor/leaflet@1.9.3/dist/images/layers-2x.png"
];

// The page as anyone sees it: not when it carries a signed-in account's name (the server
// marks that answer), so a shared phone never shows it offline to the next person.
function keepable(response) {
  return response.ok && !response.redirected && !response.headers.get("X-VW-Personal");
}

function absolute(path) {
  return new URL(path, self.location.origin).href;
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      var page = fetch(absolute(PAGE), { credentials: "same-origin" }).then(function (r) {
        return keepable(r) ? cache.put(absolute(PAGE), r) : null;
      }).catch(function () { return null; });
      return Promise.all([cache.addAll(ASSETS.map(absolute)), page]);
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("vw-report-") === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function bare(url) { return url.href.split("?")[0].split("#")[0]; }
function isPage(url) { return bare(url) === absolute(PAGE); }
function isAsset(url) {
  var b = bare(url);
  return ASSETS.some(function (path) { return absolute(path) === b; });
}

var PAGE_TIMEOUT_MS = 5000;

function pageFromNetworkFirst(request) {
  var network = fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(absolute(PAGE), copy); });
    }
    return response;
  });
  var fallback = new Promise(function (resolve) {
    setTimeout(function () { resolve(caches.match(absolute(PAGE))); }, PAGE_TIMEOUT_MS);
  });
  return Promise.race([network, fallback.then(function (hit) { return hit || network; })])
    .catch(function () {
      return caches.match(absolute(PAGE)).then(function (hit) { return hit || Response.error(); });
    });
}

function assetFromCache(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreSearch: true }).then(function (hit) {
      var refresh = fetch(request).then(function (response) {
        if (response.ok) cache.put(request.url.split("?")[0], response.clone());
        return response;
      });
      if (hit) {
        refresh.catch(function () { return null; });
        return hit;
      }
      return refresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (isPage(url)) {
    event.respondWith(pageFromNetworkFirst(request));
  } else if (isAsset(url)) {
    event.respondWith(assetFromCache(request));
  }
});
