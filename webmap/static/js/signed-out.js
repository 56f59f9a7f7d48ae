// Signed out (or never signed in): forget the offline copy of the capture page, which
// shows the last account's name, and the map data kept for it (the reference vectors and
// the works near the last position, fetched with that account's rights). Captures waiting
// on this phone (IndexedDB) are kept; all of it is cached again at the next sign-in.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !("caches" in window)) return;
  var page = new URL(me.getAttribute("data-page"), location.href).href;
  var api = new URL("api/capture/", page).href;  // reference and nearby answers
  function forget(cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.filter(function (r) {
        return r.url === page || r.url.indexOf(api) === 0;
      }).map(function (r) { return cache.delete(r); }));
    });
  }
  caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("vw-capture-") === 0; })
      .map(function (n) { return caches.open(n).then(forget); }));
  }).catch(function () { /* storage unavailable: nothing was kept */ });
})();
