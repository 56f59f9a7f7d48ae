/* Service worker of the capture page: keeps the page and its assets for use offline.
 *
 * Served at /sw.js so that its scope (the site root) covers /capture. The page itself is
 * fetched from the network first (fresh form) and taken from the cache when there is no
 * network or it is too slow; its scripts, styles and images come from the cache at once
 * and are refreshed in the background, so a new version is used from the next visit.
 * Nothing but GET requests for these files is touched: captures are POSTed by the page
 * and queued there (IndexedDB) when the network is down.
 */
"use strict";

var CACHE = "vw-capture-v1";
var PAGE = "capture";
var ASSETS = [
  "manifest.webmanifest",
  "static/app.css",
  "static/css/uploads.css",
  "static/js/capture.js",
  "static/js/photo_crs.js",
  "static/icons/capture-192.png",
  "static/icons/capture-512.png",
  "static/vendor/leaflet@1.9.3/dist/leaflet.css",
  "static/vendor/leaflet@1.9.3/dist/leaflet.js",
  "static/vendor/leaflet@1.9.3/dist/images/marker-icon.png",
  "static/vendor/leaflet@1.9.3/dist/images/marker-icon-2x.png",
  "static/vendor/leaflet@1.9.3/dist/images/marker-shadow.png",
  "static/vendor/leaflet@1.9.3/dist/images/layers.png",
  "static/vendor/leaflet@1.9.3/dist/images/layers-2x.png"
];

function scoped(path) {
  return new URL(path, self.registration.scope).href;
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // The page only when it really is the form (not a redirect to the login page).
      var page = fetch(scoped(PAGE), { credentials: "same-origin" }).then(function (r) {
        return r.ok && !r.redirected ? cache.put(scoped(PAGE), r) : null;
      }).catch(function () { return null; });
      return Promise.all([cache.addAll(ASSETS.map(scoped)), page]);
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function isPage(url) {
  return url.href.split("?")[0] === scoped(PAGE);
}

function isAsset(url) {
  var bare = url.href.split("?")[0];
  return ASSETS.some(function (path) { return scoped(path) === bare; });
}

// Weak signal in the fields: do not wait long for the network before using the cache.
var PAGE_TIMEOUT_MS = 5000;

function pageFromNetworkFirst(request) {
  var network = fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(scoped(PAGE), copy); });
    }
    return response;
  });
  var fallback = new Promise(function (resolve) {
    setTimeout(function () { resolve(caches.match(scoped(PAGE))); }, PAGE_TIMEOUT_MS);
  });
  return Promise.race([network, fallback.then(function (hit) { return hit || network; })])
    .catch(function () {
      return caches.match(scoped(PAGE)).then(function (hit) { return hit || Response.error(); });
    });
}

// Stale-while-revalidate: answer from the cache at once, refresh the copy for next time.
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
