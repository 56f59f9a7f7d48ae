/*
 * VillageWorks map runtime: draws the layers webmap/maps.py embeds (or fetches them from
 * the bbox API), and wires the page's layer panel, the village search, the month-by-month
 * replay and the URL.
 *
 * Every string that comes from data is put into the page with textContent, never as
 * HTML: popups, tooltips, search results and cluster icons are DOM nodes built here.
 */
(function () {
  "use strict";

  var vw = (window.vw = window.vw || {});
  vw.maps = vw.maps || [];
  var EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var FETCH_DELAY_MS = 200;
  var TOAST_MS = 5000;
  var REPLAY_STEP_MS = 900;

  // ------------------------------------------------------------------ small helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fill(template, params) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : whole;
    });
  }

  function urlFor(template, params) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, key) {
      return params[key] === undefined ? whole : encodeURIComponent(params[key]);
    });
  }

  function isBlank(value) {
    return value === null || value === undefined || value === "";
  }

  function formatNumber(state, value) {
    var number = Number(value);
    if (!isFinite(number)) return String(value);
    return state.numbers.format(number);
  }

  function formatDate(state, value) {
    var match = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value));
    if (!match) return String(value);
    var y = Number(match[1]), m = Number(match[2]), d = Number(match[3]);
    if (state.config.lang === "zh") return y + "年" + m + "月" + d + "日";
    return d + " " + EN_MONTHS[m - 1] + " " + y;
  }

  function monthName(state, year, month) {
    if (state.config.lang === "zh") return year + "年" + month + "月";
    return EN_MONTHS[month - 1] + " " + year;
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function toast(map, text) {
    var box = el("div", "vw-toast", text);
    box.setAttribute("role", "status");
    map.getContainer().appendChild(box);
    setTimeout(function () {
      if (box.parentNode) box.parentNode.removeChild(box);
    }, TOAST_MS);
  }

  // "Show my location" fails on plain http and when the user says no: say so on the map
  // instead of the plugin's alert().
  if (L.Control.Locate) {
    L.Control.Locate.prototype.options.onLocationError = function (error, control) {
      var map = control._map;
      if (map && map._vw) toast(map, map._vw.strings.locate_failed);
    };
  }

  // ------------------------------------------------------------------------ features

  function fieldIndex(p) {
    var index = {};
    p.fields.forEach(function (f, i) {
      index[f.name] = i;
    });
    return index;
  }

  function decodeEmbedded(p) {
    var data = p.data;
    return data.ids.map(function (id, i) {
      return {
        id: id,
        geom: data.geoms[i],
        props: data.props[i] || [],
        linkId: data.linkIds ? data.linkIds[i] : id,
        link: data.links ? data.links[i] : null,
      };
    });
  }

  function decodeGeoJSON(p, collection) {
    return (collection.features || []).map(function (feature) {
      var props = feature.properties || {};
      var geom = feature.geometry;
      if (geom && geom.type === "Point") geom = geom.coordinates;
      return {
        id: String(feature.id),
        geom: geom,
        props: p.fields.map(function (f) {
          return props[f.name];
        }),
        linkId: String(feature.linkId != null ? feature.linkId : feature.id),
        link: null,
      };
    });
  }

  function prop(layer, feature, name) {
    var i = layer.index[name];
    return i === undefined ? undefined : feature.props[i];
  }

  function statusColor(layer, feature) {
    var style = layer.p.style;
    var field = layer.p.statusField;
    if (field && style.statusColors) {
      var color = style.statusColors[prop(layer, feature, field)];
      if (color) return color;
    }
    return style.color;
  }

  function isAlert(layer, feature) {
    var field = layer.p.statusField;
    return !!field && layer.state.config.alertStatuses.indexOf(prop(layer, feature, field)) >= 0;
  }

  function pointStyle(layer, feature) {
    var style = layer.p.style;
    var color = statusColor(layer, feature);
    if (style.ring) {
      return {
        renderer: layer.state.renderer, radius: style.radius, color: color, weight: 3,
        opacity: style.opacity, dashArray: style.dash || "4 3", fill: true, fillColor: color,
        fillOpacity: 0.12 * style.opacity,
      };
    }
    var alert = isAlert(layer, feature);
    return {
      renderer: layer.state.renderer,
      radius: style.radius + (alert ? 2 : 0),
      color: alert ? "#7f0000" : "#ffffff",
      weight: alert ? 3 : 1.5,
      fillColor: color,
      fillOpacity: 0.92,
    };
  }

  function pathStyle(layer, feature) {
    var style = layer.p.style;
    var color = statusColor(layer, feature);
    var out = {
      renderer: layer.state.renderer, color: color, weight: style.weight,
      opacity: style.opacity, dashArray: style.dash || null,
    };
    if (layer.p.kind !== "line") {
      out.fill = style.fill !== false;
      out.fillColor = color;
      out.fillOpacity = 0.25;
    }
    var levels = style.levels;
    var level = levels && prop(layer, feature, "level");
    if (level && levels[level]) {
      Object.keys(levels[level]).forEach(function (key) {
        out[key] = levels[level][key];
      });
    }
    return out;
  }

  function title(layer, feature) {
    var field = layer.p.titleField || (layer.index.name !== undefined ? "name" : null);
    var value = field ? prop(layer, feature, field) : null;
    return isBlank(value) ? layer.p.label + " " + feature.id : String(value);
  }

  function detailUrl(layer, feature) {
    if (feature.link) return feature.link;
    return urlFor(layer.p.link, { id: feature.linkId });
  }

  function refUrl(state, refLayer, id) {
    if (refLayer === "villages") return urlFor(state.config.urls.village, { id: id });
    return urlFor(state.config.urls.feature, { layer: refLayer, id: id });
  }

  function displayValue(layer, field, value) {
    var state = layer.state, s = state.strings;
    if (field.type === "boolean") {
      var yes = value === true || String(value).toLowerCase() === "true";
      return yes ? s.yes : s.no;
    }
    if (field.type === "date") return formatDate(state, value);
    if ((field.type === "number" || field.type === "integer") && typeof value === "number") {
      return (formatNumber(state, value) + " " + (field.unit || "")).trim();
    }
    if (field.values && Object.prototype.hasOwnProperty.call(field.values, value)) {
      return field.values[value];
    }
    if (field.type === "ref") {
      var titles = state.config.titles[field.ref] || {};
      return titles[value] ? titles[value] : String(value);
    }
    var text = String(value);
    return text.length > 200 ? text.slice(0, 199) + "…" : text;
  }

  // Thumbnails of a feature's photos (/photos/<id>/thumb, each linking to the photo),
  // asked for when its popup first opens: the map's data carries no photo lists.
  var photoAsked = {}, photoLists = {};
  function popupPhotos(layer, feature) {
    var strip = el("div", "vw-popup-photos");
    var url = urlFor(layer.state.config.urls.feature, { layer: layer.p.name, id: feature.id }) + "/photos.json";
    if (photoLists[url]) {
      photoLists[url].slice(0, 4).forEach(function (photo) {
        var link = el("a"), img = el("img");
        link.href = photo.url;
        img.src = photo.thumb; img.alt = photo.alt; img.loading = "lazy";
        // A fixed size: the popup is laid out once, before the thumbnails arrive.
        img.width = 96; img.height = 72; img.style.objectFit = "cover"; img.style.marginRight = "4px";
        link.appendChild(img);
        strip.appendChild(link);
      });
    } else if (!photoAsked[url]) {
      photoAsked[url] = true;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { photos: [] }; })
        .catch(function () { return { photos: [] }; })
        .then(function (body) {
          photoLists[url] = body.photos || [];
          // Built again (now with the list) when the popup is still open on it.
          var popup = layer.state.map && layer.state.map._popup;
          if (photoLists[url].length && strip.isConnected && popup) popup.update();
        });
    }
    return strip;
  }

  function popupContent(layer, feature) {
    var state = layer.state, s = state.strings;
    var box = el("div", "vw-popup");
    var head = el("div", "vw-popup-layer");
    var dot = el("span", "vw-dot");
    dot.style.background = statusColor(layer, feature);
    head.appendChild(dot);
    head.appendChild(document.createTextNode(layer.p.label));
    box.appendChild(head);
    box.appendChild(el("div", "vw-popup-title", title(layer, feature)));
    var table = el("table", "vw-popup-fields");
    layer.p.fields.forEach(function (field, i) {
      var value = feature.props[i];
      if (isBlank(value) || field.name === layer.p.titleField) return;
      var row = el("tr");
      row.setAttribute("data-field", field.name);
      row.appendChild(el("th", null, field.label));
      var cell = el("td");
      var text = displayValue(layer, field, value);
      if (field.type === "ref" && field.ref) {
        var link = el("a", null, text);
        link.href = refUrl(state, field.ref, String(value));
        cell.appendChild(link);
      } else {
        cell.textContent = text;
      }
      if (field.name === layer.p.statusField) {
        var mark = el("span", "vw-dot");
        mark.style.background = statusColor(layer, feature);
        cell.insertBefore(mark, cell.firstChild);
      }
      row.appendChild(cell);
      table.appendChild(row);
    });
    box.appendChild(table);
    if (layer.p.link.indexOf("/villages/") < 0) box.appendChild(popupPhotos(layer, feature));
    var more = el("a", "vw-popup-more", layer.p.link.indexOf("/villages/") >= 0 ? s.open_village : s.details);
    more.href = detailUrl(layer, feature);
    box.appendChild(more);
    return box;
  }

  function eachLeaf(item, fn) {
    if (item.eachLayer && !item.getLatLng && !item.getLatLngs) {
      item.eachLayer(function (child) {
        eachLeaf(child, fn);
      });
    } else {
      fn(item);
    }
  }

  function leafletLayer(layer, feature) {
    var geom = feature.geom;
    if (!geom) return null;
    var made;
    if (Array.isArray(geom)) {
      made = L.circleMarker([geom[1], geom[0]], pointStyle(layer, feature));
    } else {
      made = L.geoJSON(geom, {
        renderer: layer.state.renderer,
        style: function () {
          return pathStyle(layer, feature);
        },
        pointToLayer: function (gj, latlng) {
          return L.circleMarker(latlng, pointStyle(layer, feature));
        },
      });
    }
    // Bind on the drawn leaves: Leaflet 1.9.3 throws when a tooltip is bound to a group
    // holding another group (a MultiPoint inside L.geoJSON).
    eachLeaf(made, function (leaf) {
      leaf.vwLayer = layer.p.name;
      leaf.bindPopup(
        function () {
          return popupContent(layer, feature);
        },
        { maxWidth: 320, minWidth: 180, autoPanPadding: [24, 24] }
      );
      if (!L.Browser.mobile) {
        leaf.bindTooltip(
          function () {
            return el("span", null, title(layer, feature));
          },
          { sticky: !Array.isArray(geom), direction: "top", offset: [0, -4] }
        );
      }
    });
    made.vwFeature = feature;
    return made;
  }

  // --------------------------------------------------------------------- layer objects

  function clusterIcon(color) {
    return function (cluster) {
      var node = el("div", "vw-cluster", cluster.getChildCount());
      node.style.background = color;
      return L.divIcon({ html: node, className: "vw-cluster-icon", iconSize: L.point(34, 34) });
    };
  }

  function makeGroup(p) {
    if (p.cluster && p.kind === "point" && L.markerClusterGroup) {
      return L.markerClusterGroup({
        showCoverageOnHover: false,
        maxClusterRadius: 45,
        disableClusteringAtZoom: 16,
        chunkedLoading: true,
        iconCreateFunction: clusterIcon(p.style.color),
      });
    }
    return L.featureGroup();
  }

  function inReplay(layer, feature) {
    var time = layer.state.time;
    if (!time || !layer.p.dateField) return true;
    var day = prop(layer, feature, layer.p.dateField);
    if (isBlank(day)) return false;
    var month = String(day).slice(0, 7);
    return month >= time.from.slice(0, 7) && month <= time.to.slice(0, 7);
  }

  function rebuild(layer) {
    var kept = [];
    layer.features.forEach(function (feature) {
      if (!inReplay(layer, feature)) return;
      if (!feature.leaflet) feature.leaflet = leafletLayer(layer, feature);
      if (feature.leaflet) kept.push(feature.leaflet);
    });
    layer.group.clearLayers();
    if (layer.group.addLayers) {
      layer.group.addLayers(kept);
    } else {
      kept.forEach(function (item) {
        layer.group.addLayer(item);
      });
    }
    layer.visibleCount = kept.length;
    if (layer.p.kind !== "point" && layer.shown) layer.group.bringToBack();
  }

  vw.setup = function (map, config) {
    var state = {
      map: map,
      config: config,
      strings: config.strings,
      layers: [],
      byName: {},
      time: null,
      renderer: L.canvas({ padding: 0.5, tolerance: 4 }),
      numbers: new Intl.NumberFormat(config.lang === "zh" ? "zh-CN" : "en-GB", {
        maximumFractionDigits: 2,
      }),
    };
    map._vw = state;
    vw.maps.push(state);
    // Fit at once (no animation), so nothing moves the view after the page is ready.
    if (config.fit) map.fitBounds(config.fit, { animate: false, padding: [8, 8] });
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
    if (map.attributionControl) map.attributionControl.setPrefix(false);
    if (config.outline) {
      var approximate = config.outline.method === "approximate";
      state.outline = L.geoJSON(config.outline.geometry, {
        renderer: state.renderer,
        interactive: false,
        style: {
          color: "#b71c1c", weight: 3, dashArray: approximate ? "8 6" : null,
          fill: true, fillColor: "#b71c1c", fillOpacity: 0.04,
        },
      }).addTo(map);
    }
    return state;
  };

  // What static/js/vtiles.js draws its features with (the same popups, tooltips, styles).
  vw.parts = { popupContent: popupContent, title: title, pointStyle: pointStyle, pathStyle: pathStyle, inReplay: inReplay, note: note };

  vw.layer = function (map, p) {
    var state = map._vw;
    var layer = {
      p: p, state: state, index: fieldIndex(p), group: makeGroup(p), features: [],
      shown: false, seq: 0, matched: null, visibleCount: 0,
    };
    if (p.mode === "embed") layer.features = decodeEmbedded(p);
    state.layers.push(layer);
    state.byName[p.name] = layer;
    return layer.group;
  };

  // ----------------------------------------------------------------------- fetching

  function note(layer, text) {
    var node = document.querySelector('[data-vw-note="' + layer.p.name + '"]');
    if (node) node.textContent = text;
  }

  function replayRange(layer) {
    var time = layer.state.time;
    var query = layer.p.query || {};
    var from = query.from || "", to = query.to || "";
    if (time && layer.p.dateField) {
      if (!from || time.from > from) from = time.from;
      if (!to || time.to < to) to = time.to;
    }
    return { from: from, to: to };
  }

  function fetchLayer(layer) {
    if (layer.refresh) return layer.refresh(); // drawn from vector tiles (vtiles.js)
    if (layer.p.mode !== "fetch" || !layer.shown) return;
    var state = layer.state, s = state.strings;
    var b = state.map.getBounds().pad(0.1);
    var params = new URLSearchParams(layer.p.query || {});
    params.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(6);
    }).join(","));
    params.set("limit", String(layer.p.limit));
    params.set("sample", "even");
    if (state.config.coords === "gcj02") params.set("coords", "gcj02");
    var range = replayRange(layer);
    if (range.from) params.set("from", range.from);
    if (range.to) params.set("to", range.to);
    var seq = ++layer.seq;
    if (layer.abort) layer.abort.abort();
    layer.abort = window.AbortController ? new AbortController() : null;
    note(layer, s.loading);
    fetch(layer.p.api + "?" + params.toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: layer.abort ? layer.abort.signal : undefined,
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (collection) {
        if (seq !== layer.seq) return;
        layer.features = decodeGeoJSON(layer.p, collection);
        layer.matched = collection.numberMatched;
        rebuild(layer);
        var shown = collection.numberReturned;
        var text = shown < layer.matched ? s.fetch_partial : s.fetch_all;
        note(layer, fill(text, {
          shown: formatNumber(state, shown), total: formatNumber(state, layer.matched),
        }));
        refreshReplayLabel(state);
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        note(layer, s.fetch_failed);
      });
  }

  // ---------------------------------------------------------------- showing layers

  function setShown(layer, on) {
    layer.shown = on;
    var map = layer.state.map;
    if (on) {
      if (layer.p.mode === "embed" && !layer.built) {
        rebuild(layer);
        layer.built = true;
      }
      map.addLayer(layer.group);
      if (layer.p.kind !== "point") layer.group.bringToBack();
      if (layer.state.outline) layer.state.outline.bringToBack();
      fetchLayer(layer);
    } else {
      map.removeLayer(layer.group);
      if (layer.p.mode === "fetch") note(layer, "");
    }
    var box = document.querySelector('input[data-vw-layer="' + layer.p.name + '"]');
    if (box) box.checked = on;
  }

  function shownNames(state) {
    return state.layers.filter(function (l) { return l.shown; }).map(function (l) { return l.p.name; });
  }

  function rememberLayers(state) {
    var names = shownNames(state).join(",");
    document.querySelectorAll('input[name="layers"][type="hidden"]').forEach(function (input) {
      input.value = names;
      input.disabled = false;
    });
    var url = new URL(window.location.href);
    url.searchParams.set("layers", names);
    history.replaceState(history.state, "", url.toString());
  }

  function wirePanel(state) {
    document.querySelectorAll("input[data-vw-layer]").forEach(function (box) {
      var layer = state.byName[box.getAttribute("data-vw-layer")];
      if (!layer) return;
      box.checked = layer.shown;
      box.addEventListener("change", function () {
        setShown(layer, box.checked);
        rememberLayers(state);
      });
    });
  }

  // ------------------------------------------------------------------------ the URL

  var HASH = /^#map=(\d{1,2}(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/;

  function wireHash(state) {
    var map = state.map;
    var match = HASH.exec(window.location.hash);
    if (match) map.setView([Number(match[2]), Number(match[3])], Number(match[1]));
    map.on("moveend", function () {
      var c = map.getCenter();
      var hash = "#map=" + map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5);
      var url = new URL(window.location.href);
      url.hash = hash;
      history.replaceState(history.state, "", url.toString());
      // The language switch keeps the view too.
      document.querySelectorAll("a[data-lang]").forEach(function (link) {
        var target = new URL(link.href, window.location.href);
        target.hash = hash;
        link.href = target.toString();
      });
    });
  }

  // ---------------------------------------------------------------------- search

  function searchControl(state) {
    var s = state.strings;
    var entries = state.config.search;
    var marker = null;
    var Control = L.Control.extend({
      options: { position: "topright" },
      onAdd: function () {
        var box = el("div", "vw-search leaflet-bar");
        var input = el("input", "vw-search-input");
        input.type = "search";
        input.placeholder = s.search_placeholder;
        input.setAttribute("aria-label", s.search_placeholder);
        input.setAttribute("autocomplete", "off");
        var list = el("ul", "vw-search-results");
        list.setAttribute("role", "listbox");
        box.appendChild(input);
        box.appendChild(list);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);

        function go(entry) {
          var latlng = [entry[4], entry[3]];
          state.map.setView(latlng, Math.max(state.map.getZoom(), 14));
          if (marker) state.map.removeLayer(marker);
          var content = el("div", "vw-popup");
          content.appendChild(el("div", "vw-popup-title", entry[1]));
          if (entry[2]) content.appendChild(el("div", "vw-popup-layer", entry[2]));
          var link = el("a", "vw-popup-more", s.open_village);
          link.href = urlFor(state.config.urls.village, { id: entry[0] });
          content.appendChild(link);
          marker = L.circleMarker(latlng, {
            renderer: state.renderer, radius: 14, color: "#b71c1c", weight: 3, fill: false,
          }).addTo(state.map);
          marker.bindPopup(content).openPopup();
          list.textContent = "";
        }

        function show() {
          var query = input.value.trim().toLowerCase();
          list.textContent = "";
          if (!query) return;
          var found = entries.filter(function (e) {
            return e[1].toLowerCase().indexOf(query) >= 0 || e[2].toLowerCase().indexOf(query) >= 0;
          }).slice(0, 8);
          if (!found.length) {
            list.appendChild(el("li", "vw-search-empty", s.search_none));
            return;
          }
          found.forEach(function (entry) {
            var item = el("li", "vw-search-item");
            var button = el("button", "vw-search-go");
            button.type = "button";
            button.appendChild(el("span", "vw-search-name", entry[1]));
            button.appendChild(el("span", "vw-search-township", entry[2]));
            button.addEventListener("click", function () { go(entry); });
            var page = el("a", "vw-search-page", s.village_page);
            page.href = urlFor(state.config.urls.village, { id: entry[0] });
            item.appendChild(button);
            item.appendChild(page);
            list.appendChild(item);
          });
        }

        input.addEventListener("input", show);
        input.addEventListener("keydown", function (event) {
          if (event.key !== "Enter") return;
          event.preventDefault();
          var first = list.querySelector(".vw-search-go");
          if (first) first.click();
        });
        return box;
      },
    });
    return new Control();
  }

  // ---------------------------------------------------------------------- replay

  function refreshReplayLabel(state) {
    var label = state.replayLabel;
    if (!label) return;
    var s = state.strings;
    if (!state.time) {
      label.textContent = s.replay_all;
      return;
    }
    var count = 0;
    state.layers.forEach(function (layer) {
      if (!layer.shown || !layer.p.dateField || layer.p.group !== "work") return;
      count += layer.p.mode === "fetch" && layer.matched !== null ? layer.matched : layer.visibleCount;
    });
    label.textContent = fill(s.replay_label, {
      from: monthName(state, state.time.year, 1),
      to: monthName(state, state.time.year, state.time.month),
      count: formatNumber(state, count),
    });
  }

  function lastDay(year, month) {
    return new Date(Date.UTC(year, month, 0)).getUTCDate();
  }

  function setReplay(state, year, month) {
    if (!month) {
      state.time = null;
    } else {
      var mm = (month < 10 ? "0" : "") + month;
      state.time = {
        year: year, month: month, from: year + "-01-01", to: year + "-" + mm + "-" + lastDay(year, month),
      };
    }
    state.layers.forEach(function (layer) {
      if (!layer.p.dateField) return;
      if (layer.p.mode === "embed") {
        layer.built = false;
        if (layer.shown) { rebuild(layer); layer.built = true; }
      } else {
        fetchLayer(layer);
      }
    });
    refreshReplayLabel(state);
  }

  function replayControl(state) {
    var s = state.strings;
    var years = state.config.years;
    var Control = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        var box = el("div", "vw-replay leaflet-bar");
        var play = el("button", "vw-replay-play", "▶");
        play.type = "button";
        play.title = s.replay_play;
        play.setAttribute("aria-label", s.replay_play);
        var year = el("select", "vw-replay-year");
        year.setAttribute("aria-label", s.replay_year);
        years.forEach(function (y) {
          var option = el("option", null, state.config.lang === "zh" ? y + "年" : y);
          option.value = String(y);
          year.appendChild(option);
        });
        year.value = String(state.config.year || years[years.length - 1]);
        var range = el("input", "vw-replay-month");
        range.type = "range";
        range.min = "0";
        range.max = "12";
        range.step = "1";
        range.value = "0";
        range.setAttribute("aria-label", s.replay_month);
        var label = el("div", "vw-replay-label", s.replay_all);
        var row = el("div", "vw-replay-row");
        row.appendChild(play);
        row.appendChild(year);
        row.appendChild(range);
        box.appendChild(el("div", "vw-replay-title", s.replay_title));
        box.appendChild(row);
        box.appendChild(label);
        state.replayLabel = label;
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);

        var timer = null;
        function apply() {
          setReplay(state, Number(year.value), Number(range.value));
        }
        function stop() {
          clearInterval(timer);
          timer = null;
          play.textContent = "▶";
          play.title = s.replay_play;
        }
        range.addEventListener("input", function () { stop(); apply(); });
        year.addEventListener("change", apply);
        play.addEventListener("click", function () {
          if (timer) { stop(); return; }
          play.textContent = "⏸";
          play.title = s.replay_pause;
          range.value = "1";
          apply();
          timer = setInterval(function () {
            if (Number(range.value) >= 12) { stop(); return; }
            range.value = String(Number(range.value) + 1);
            apply();
          }, REPLAY_STEP_MS);
        });
        state.replay = { year: year, range: range, apply: apply };
        return box;
      },
    });
    return new Control();
  }

  // ----------------------------------------------------------------------- finish

  vw.finish = function (map) {
    var state = map._vw;
    state.layers.forEach(function (layer) {
      if (layer.p.show) setShown(layer, true);
    });
    wirePanel(state);
    if (state.config.search.length) searchControl(state).addTo(map);
    if (state.config.years.length) replayControl(state).addTo(map);
    wireHash(state);
    map.on("moveend", debounce(function () {
      state.layers.forEach(fetchLayer);
    }, FETCH_DELAY_MS));
    state.ready = true;
    document.documentElement.setAttribute("data-vw-ready", "1");
  };

  // For tests and the console: how many features of a layer are drawn on the map.
  vw.drawnCount = function (layerName) {
    var state = vw.maps[vw.maps.length - 1];
    return Object.keys(state.renderer._layers).filter(function (key) {
      return state.renderer._layers[key].vwLayer === layerName;
    }).length;
  };

  // For tests and the console: the pixel where a feature is drawn.
  vw.featurePoint = function (layerName, featureId) {
    var state = vw.maps[vw.maps.length - 1];
    var layer = state.byName[layerName];
    var feature = layer && layer.features.filter(function (f) { return f.id === featureId; })[0];
    if (!feature || !feature.leaflet) return null;
    var item = feature.leaflet;
    var latlng = item.getLatLng ? item.getLatLng() : item.getBounds().getCenter();
    var point = state.map.latLngToContainerPoint(latlng);
    var box = state.map.getContainer().getBoundingClientRect();
    return { x: box.left + point.x, y: box.top + point.y };
  };
})();
