// Signed out (or never signed in): forget the offline copy of the capture page, which
// shows the last account's name. Captures waiting on this phone (IndexedDB) are kept;
// the page is cached again at the next sign-in.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !("caches" in window)) return;
  var page = new URL(me.getAttribute("data-page"), location.href).href;
  caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("vw-capture-") === 0; })
      .map(function (n) { return caches.open(n).then(function (c) { return c.delete(page); }); }));
  }).catch(function () { /* storage unavailable: nothing was kept */ });
})();
