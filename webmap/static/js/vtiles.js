/*
 * VillageWorks map runtime, vector tiles: draws a big layer (payload mode "tiles",
 * webmap/maps.py) from the app's OGC API - Tiles with Leaflet.VectorGrid, instead of
 * fetching its features from the bbox API. Loaded after vwmap.js, whose popups,
 * tooltips and styles it reuses (vw.parts): every string from data is put into the page
 * with textContent, never as HTML.
 */
(function () {
  "use strict";

  var vw = window.vw;
  if (!vw || !vw.parts || !L.vectorGrid) return;
  var parts = vw.parts;

  // Leaflet.VectorGrid 1.3.0 calls L.DomEvent.fakeStop on a click, which Leaflet 1.8
  // removed: mark the DOM event as handled, as Leaflet 1.9's own layers do.
  if (!L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = function (e) {
      e._stopped = true;
      return this;
    };
  }

  // A tile's feature as vwmap.js knows features (props in the order of p.fields).
  function asFeature(layer, properties) {
    var id = String(properties.id);
    return {
      id: id,
      geom: null,
      props: layer.p.fields.map(function (f) { return properties[f.name]; }),
      linkId: id,
      link: null,
    };
  }

  function styleOf(layer, properties) {
    var feature = asFeature(layer, properties);
    if (!parts.inReplay(layer, feature)) return [];
    var style = layer.p.kind === "point" ? parts.pointStyle(layer, feature) : parts.pathStyle(layer, feature);
    delete style.renderer;
    if (style.radius === undefined) style.radius = layer.p.style.radius || 5;
    // VectorGrid starts from L.Path's options (no fill); vwmap.js's circle markers fill.
    if (layer.p.kind === "point" && style.fill === undefined) style.fill = true;
    return style;
  }

  // Where the pointer is: a tile's point symbolizer is a CircleMarker without a latlng,
  // so Leaflet's e.latlng is undefined for points.
  function pointer(map, e) {
    return e.originalEvent ? map.mouseEventToLatLng(e.originalEvent) : e.latlng;
  }

  // Leaflet 1.9 takes a clicked CircleMarker's getLatLng() as the event's place; a
  // tile's point symbolizer (a CircleMarker subclass the bundle does not export) has
  // none, which throws. Once a tile holds a point, its class loses getLatLng, so Leaflet
  // takes the place from the mouse event as for any path.
  var pointsPatched = false;
  function patchPoints(grid) {
    if (pointsPatched) return;
    Object.keys(grid._vectorTiles || {}).forEach(function (key) {
      var features = grid._vectorTiles[key]._features || {};
      Object.keys(features).forEach(function (id) {
        var drawn = features[id].feature;
        var proto = drawn && Object.getPrototypeOf(drawn);
        if (!pointsPatched && drawn instanceof L.CircleMarker && proto !== L.CircleMarker.prototype) {
          proto.getLatLng = null;
          pointsPatched = true;
        }
      });
    });
  }

  function replayKey(state) {
    return state.time ? state.time.from + "/" + state.time.to : "";
  }

  function attach(map, layer) {
    var state = layer.state;
    var styles = {};
    styles[layer.p.name] = function (properties) { return styleOf(layer, properties); };
    var grid = L.vectorGrid.protobuf(layer.p.tiles, {
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: styles,
      interactive: true,
      getFeatureId: function (f) { return f.properties.id; },
      fetchOptions: { credentials: "same-origin" },
      maxZoom: map.getMaxZoom(),
    });
    grid.on("tileload", function () { patchPoints(grid); });
    var tooltip = L.tooltip({ direction: "top", offset: [0, -4] });
    grid.on("click", function (e) {
      var feature = asFeature(layer, e.layer.properties || {});
      L.popup({ maxWidth: 320, minWidth: 180, autoPanPadding: [24, 24] })
        .setLatLng(pointer(map, e))
        .setContent(parts.popupContent(layer, feature))
        .openOn(map);
    });
    if (!L.Browser.mobile) {
      grid.on("mouseover", function (e) {
        var feature = asFeature(layer, e.layer.properties || {});
        var text = document.createElement("span");
        text.textContent = parts.title(layer, feature);
        tooltip.setContent(text);
        map.openTooltip(tooltip, pointer(map, e));
      });
      grid.on("mouseout", function () { map.closeTooltip(tooltip); });
    }
    layer.grid = grid;
    layer.drawnKey = replayKey(state);
    layer.group.addLayer(grid);
    // vwmap.js calls this where it would fetch the bbox API: when the layer is shown, the
    // view moves or the replay month changes. Tiles load themselves; only a new replay
    // range redraws them (their style hides what falls outside it).
    layer.refresh = function () {
      if (!layer.shown) return;
      parts.note(layer, state.strings.tiles_note || "");
      var key = replayKey(state);
      if (key !== layer.drawnKey) {
        layer.drawnKey = key;
        grid.redraw();
      }
    };
  }

  var baseLayer = vw.layer;
  vw.layer = function (map, p) {
    var group = baseLayer(map, p);
    if (p.mode === "tiles") attach(map, map._vw.byName[p.name]);
    return group;
  };

  // For tests and the console: how many features of a layer the loaded tiles draw.
  vw.tileCount = function (layerName) {
    var state = vw.maps[vw.maps.length - 1];
    var layer = state.byName[layerName];
    if (!layer || !layer.grid) return 0;
    var seen = {};
    Object.keys(layer.grid._vectorTiles || {}).forEach(function (key) {
      Object.keys(layer.grid._vectorTiles[key]._features || {}).forEach(function (id) {
        seen[id] = true;
      });
    });
    return Object.keys(seen).length;
  };
})();
