/* Service worker of the capture page: keeps the page and its assets for use offline.
 *
 * Served at /sw.js so that its scope (the site root) covers /capture. The page itself is
 * fetched from the network first (fresh form) and taken from the cache when there is no
 * network or it is too slow; its scripts, styles and images come from the cache at once
 * and are refreshed in the background, so a new version is used from the next visit.
 * Nothing but GET requests for these files is touched: captures are POSTed by the page
 * and queued there (IndexedDB) when the network is down.
 *
 * The map's vectors for use without signal (no tiles offline): the county's reference
 * data (boundaries, roads, villages) is kept like an asset (stale-while-revalidate, its
 * ETag makes the refresh cheap), and the last answer of "works near me" is kept per layer
 * (network first, so a fresh position wins; the kept copy when there is no network).
 * Everything kept here stays within the budget in the README ("The capture map offline").
 */
"use strict";

var CACHE = "vw-capture-v1";
var PAGE = "capture";
var REFERENCE = "api/capture/reference";
var NEARBY = "api/capture/nearby";
var ASSETS = [
  "manifest.webmanifest",
  "static/app.css",
  "static/css/uploads.css",
  "static/js/gcj02.js",
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
      // The page and the reference data only when signed in (not a redirect to the login
      // page, not a 401): both are kept for the account's next visit without signal.
      var kept = [PAGE, REFERENCE].map(function (path) {
        return fetch(scoped(path), { credentials: "same-origin" }).then(function (r) {
          return r.ok && !r.redirected ? cache.put(scoped(path), r) : null;
        }).catch(function () { return null; });
      });
      return Promise.all([cache.addAll(ASSETS.map(scoped))].concat(kept));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      // Only this worker's old caches: the report page (/report-sw.js) keeps its own.
      return Promise.all(keys.filter(function (k) { return k.indexOf("vw-capture-") === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function isPage(url) {
  return url.href.split("?")[0] === scoped(PAGE);
}

function isReference(url) {
  return url.href.split("?")[0] === scoped(REFERENCE);
}

function isNearby(url) {
  return url.href.split("?")[0] === scoped(NEARBY);
}

// One kept answer per layer, whatever the position it was asked for.
function nearbyKey(url) {
  return scoped(NEARBY) + "?layer=" + encodeURIComponent(url.searchParams.get("layer") || "");
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

// A JSON answer of the app for this account (not the login page it was sent to).
function keepable(response) {
  var type = response.headers.get("Content-Type") || "";
  return response.ok && !response.redirected && type.indexOf("application/json") === 0;
}

// Nothing kept yet and no network: a JSON answer the page reads as "not kept", rather
// than a failed load.
function notKept() {
  return new Response('{"kept": false}', {
    status: 200, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" }
  });
}

// Stale-while-revalidate: answer from the cache at once, refresh the copy for next time.
function assetFromCache(request, onlyJson) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreSearch: true }).then(function (hit) {
      var refresh = fetch(request).then(function (response) {
        if (onlyJson ? keepable(response) : response.ok) {
          cache.put(request.url.split("?")[0], response.clone());
        }
        return response;
      });
      if (hit) {
        refresh.catch(function () { return null; });
        return hit;
      }
      return onlyJson ? refresh.catch(notKept) : refresh;
    });
  });
}

// Network first, the copy kept for the layer when the network fails, answers 5xx or is
// slower than PAGE_TIMEOUT_MS (weak signal).
function nearbyFromNetworkFirst(request, url) {
  var key = nearbyKey(url);
  var kept = function (fallback) {
    return caches.match(key).then(function (hit) { return hit || fallback(); });
  };
  var network = fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
      return response;
    }
    if (response.status < 500) return response;
    return kept(function () { return response; });
  });
  var slow = new Promise(function (resolve) {
    setTimeout(function () { resolve(caches.match(key)); }, PAGE_TIMEOUT_MS);
  });
  return Promise.race([network, slow.then(function (hit) { return hit || network; })])
    .catch(function () { return kept(notKept); });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (isPage(url)) {
    event.respondWith(pageFromNetworkFirst(request));
  } else if (isAsset(url)) {
    event.respondWith(assetFromCache(request, false));
  } else if (isReference(url)) {
    event.respondWith(assetFromCache(request, true));
  } else if (isNearby(url)) {
    event.respondWith(nearbyFromNetworkFirst(request, url));
  }
});
