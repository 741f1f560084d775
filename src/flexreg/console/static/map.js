// The street office's map: the jurisdiction, its places, pitches and restricted features as the API returns
// them, and a small drawing tool whose shapes go to the API, which runs every siting check.
// Leaflet's drawing plugins are not on PyPI (the console installs nothing from npm at run time), and the
// tool needs only click-to-add corners, undo and a typed-in alternative: a few dozen lines here.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const m = config.messages;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const result = document.getElementById("map-result");
  const format = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => (key in values ? values[key] : `{${key}}`));

  const map = L.map("map", { maxZoom: 22, zoomSnap: 0.5, attributionControl: Boolean(config.tileUrl) });
  window.flexregMap = map; // for the browser tests and for anyone debugging in the console
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { maxZoom: 22, maxNativeZoom: 19, attribution: config.tileAttribution }).addTo(map);
  }
  map.setView([39.9, 116.4], 14);

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = csrf;
    }
    const response = await fetch(path, {
      method: options.method || "GET",
      credentials: "same-origin",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const body = await response.json().catch(() => ({}));
    return { status: response.status, ok: response.ok, body, etag: response.headers.get("ETag") };
  }

  function say(kind, nodes) {
    result.className = kind;
    result.replaceChildren(...nodes);
    result.focus();
  }

  function text(tag, content, className) {
    const node = document.createElement(tag);
    node.textContent = content;
    if (className) node.className = className;
    return node;
  }

  // Leaflet writes a tooltip's string into the page as HTML: names and labels are people's text, so they go in
  // as a text node.
  function plain(content) {
    const node = document.createElement("span");
    node.textContent = content;
    return node;
  }

  function problemText(body, status) {
    const fields = (body.errors || []).map((error) => `${error.field}: ${error.message}`).join("; ");
    return format(m.map_error, { detail: fields || body.detail || String(status) });
  }

  // --- what the API holds ----------------------------------------------------------------------------------
  const kindStyle = {
    community_space: { color: "#1f6fb2", fillOpacity: 0.08 },
    designated_zone: { color: "#2e7d32", fillOpacity: 0.08 },
    road_zone: { color: "#6a4c93", fillOpacity: 0.08 },
  };
  const pitchStyle = {
    open: { color: "#0f6b2f", fillColor: "#7ccf8f", fillOpacity: 0.8 },
    allocated: { color: "#0b5cad", fillColor: "#8ab8e8", fillOpacity: 0.8 },
    suspended: { color: "#8a4b00", fillColor: "#f2c36b", fillOpacity: 0.8 },
    closed: { color: "#555555", fillColor: "#bbbbbb", fillOpacity: 0.8 },
  };
  const placesLayer = L.layerGroup().addTo(map);
  let venues = [];
  const venueMaps = new Map();

  async function loadJurisdiction() {
    const { ok, body } = await api(`/api/v1/jurisdictions/${encodeURIComponent(config.jurisdiction)}`);
    if (!ok || !body.boundary) return;
    const outline = L.geoJSON(body.boundary, {
      style: { color: "#12335b", weight: 2, dashArray: "6 4", fill: false },
      interactive: false,
    }).addTo(map);
    map.fitBounds(outline.getBounds(), { padding: [10, 10] });
  }

  async function loadVenues() {
    const found = [];
    let cursor = null;
    do {
      const query = new URLSearchParams({ jurisdiction_code: config.jurisdiction, limit: "200" });
      if (cursor) query.set("cursor", cursor);
      const { ok, body } = await api(`/api/v1/venues?${query}`);
      if (!ok) break;
      found.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    venues = found;
    await Promise.all(venues.map(async (venue) => venueMaps.set(venue.id, (await api(`/api/v1/venues/${venue.id}/map`)).body)));
    drawPlaces();
    fillTable();
    fillVenueChoices();
  }

  function drawPlaces() {
    placesLayer.clearLayers();
    for (const venue of venues) {
      const collection = venueMaps.get(venue.id);
      if (!collection || !collection.features) continue;
      for (const feature of collection.features) {
        const props = feature.properties;
        let layer;
        if (props.layer === "venue") {
          layer = L.geoJSON(feature, { style: { weight: 2, ...kindStyle[props.kind] } });
          layer.bindTooltip(plain(props.name));
        } else if (props.layer === "pitch") {
          layer = L.geoJSON(feature, { style: { weight: 1, ...pitchStyle[props.status] } });
          layer.bindTooltip(plain(`${props.label} · ${m["map_status_" + props.status] || props.status}`));
          // Outside the drawing tool a click picks the pitch to edit; while corners are clicked it adds one.
          layer.on("click", () => { if (!drawing.mode) pick(pitchId(feature)); });
        } else if (props.layer === "buffer") {
          layer = L.geoJSON(feature, { style: { color: "#a11a1a", weight: 1, dashArray: "3 3", fillOpacity: 0.08 }, interactive: false });
        } else if (props.layer === "restricted_feature") {
          layer = L.geoJSON(feature, {
            pointToLayer: (_, latlng) => L.circleMarker(latlng, { radius: 5, color: "#a11a1a", fillColor: "#a11a1a", fillOpacity: 0.9 }),
            style: { color: "#a11a1a", weight: 2 },
          });
          const kind = config.featureKinds[props.kind] || props.kind;
          layer.bindTooltip(plain(`${kind}${props.name ? " · " + props.name : ""} (${props.buffer_m} m)`));
        }
        if (layer) layer.addTo(placesLayer);
      }
    }
  }

  function fillTable() {
    const body = document.querySelector("#places tbody");
    const rows = venues.map((venue) => {
      const row = document.createElement("tr");
      row.dataset.venueId = venue.id;
      const place = document.createElement("td");
      const zoom = text("button", venue.name, "link");
      zoom.type = "button";
      zoom.addEventListener("click", () => map.fitBounds(L.geoJSON(venue.geometry).getBounds(), { maxZoom: 21, animate: false }));
      place.append(zoom);
      row.append(place, text("td", m["map_kind_" + venue.kind] || venue.kind));
      row.append(text("td", m["map_status_" + venue.current_status] || venue.current_status));
      const pitches = ((venueMaps.get(venue.id) || {}).features || []).filter((f) => f.properties.layer === "pitch");
      const cell = document.createElement("td");
      if (!pitches.length) cell.textContent = "—";
      const list = document.createElement("ul");
      list.className = "pitch-list";
      for (const feature of pitches) {
        const { label, status } = feature.properties;
        const item = text("li", `${label} (${m["map_status_" + status] || status}) `);
        const edit = text("button", m.map_edit, "link");
        edit.type = "button";
        edit.setAttribute("aria-label", format(m.map_edit_pitch, { label }));
        edit.addEventListener("click", () => pick(pitchId(feature)));
        item.append(edit);
        list.append(item);
      }
      if (pitches.length) cell.append(list);
      row.append(cell);
      return row;
    });
    body.replaceChildren(...rows);
  }

  function fillVenueChoices() {
    const select = document.getElementById("pitch-venue");
    const options = venues
      .filter((venue) => venue.current_status !== "closed")
      .map((venue) => {
        const option = document.createElement("option");
        option.value = venue.id;
        option.textContent = venue.name;
        return option;
      });
    select.replaceChildren(...options);
  }

  // --- drawing ---------------------------------------------------------------------------------------------
  // mode: what clicks on the map add corners to ("pitch", "venue", or "edit" when an edited pitch's corners are
  // clicked again), null between; editing: the pitch being redrawn ({id, venueId, label, etag}) or null.
  const drawing = { mode: null, points: [], layer: L.layerGroup().addTo(map) };
  let editing = null;
  const coordinates = document.getElementById("coordinates");
  const forms = { pitch: "pitch-form", venue: "venue-form", edit: "edit-form" };

  // Show the drawing tool (or not) and at most one of the forms under it.
  function showPanel(tool, form) {
    document.getElementById("drawing").hidden = !tool;
    for (const [name, id] of Object.entries(forms)) document.getElementById(id).hidden = name !== form;
  }

  const latlngsOf = (points) => points.map(([lon, lat]) => [lat, lon]);
  const writeCoordinates = () => {
    coordinates.value = drawing.points.map(([lon, lat]) => `${lon.toFixed(7)}, ${lat.toFixed(7)}`).join("\n");
  };

  function redraw() {
    drawing.layer.clearLayers();
    const latlngs = latlngsOf(drawing.points);
    let outline = null;
    if (latlngs.length >= 2) outline = L.polygon(latlngs, { color: "#f5a623", weight: 2, dashArray: "4 2" }).addTo(drawing.layer);
    latlngs.forEach((latlng, index) => {
      if (editing && !drawing.mode) {
        // An edited pitch's corners can be dragged (the coordinates box is the keyboard's way to move them).
        const handle = L.marker(latlng, { draggable: true, keyboard: false, icon: L.divIcon({ className: "vertex-handle", iconSize: [14, 14] }) });
        handle.on("drag", (event) => {
          const { lat, lng } = event.target.getLatLng();
          drawing.points[index] = [lng, lat];
          if (outline) outline.setLatLngs(latlngsOf(drawing.points));
          writeCoordinates();
        });
        handle.on("dragend", redraw);
        handle.addTo(drawing.layer);
        return;
      }
      const marker = L.circleMarker(latlng, { radius: 5, color: "#f5a623", fillColor: "#fff", fillOpacity: 1, className: "vertex-marker" });
      if (index === 0) marker.on("click", (event) => { L.DomEvent.stop(event); finish(); });
      marker.addTo(drawing.layer);
    });
    writeCoordinates();
  }

  function start(mode) {
    if (mode !== "edit") editing = null;
    drawing.mode = mode;
    drawing.points = [];
    showPanel(true, null);
    result.replaceChildren();
    result.className = "";
    map.getContainer().style.cursor = "crosshair";
    redraw();
  }

  function stop() {
    drawing.mode = null;
    map.getContainer().style.cursor = "";
  }

  function parseCoordinates() {
    const points = [];
    const lines = coordinates.value.split("\n").map((line) => line.trim()).filter(Boolean);
    for (const [index, line] of lines.entries()) {
      const parts = line.split(/[,，\s]+/).map(Number);
      if (parts.length !== 2 || parts.some((value) => !Number.isFinite(value))) {
        say("alert", [text("p", format(m.map_bad_coordinates, { line: index + 1 }))]);
        return null;
      }
      points.push(parts);
    }
    return points;
  }

  function centroidVenue() {
    if (!drawing.points.length) return null;
    const lon = drawing.points.reduce((sum, p) => sum + p[0], 0) / drawing.points.length;
    const lat = drawing.points.reduce((sum, p) => sum + p[1], 0) / drawing.points.length;
    return venues.find((venue) => {
      const bounds = L.geoJSON(venue.geometry).getBounds();
      return bounds.contains([lat, lon]);
    });
  }

  function finish() {
    const typed = parseCoordinates();
    if (typed === null) return;
    drawing.points = typed;
    if (drawing.points.length < 3) {
      say("alert", [text("p", m.map_need_three)]);
      return;
    }
    const mode = drawing.mode || drawing.finishedMode;
    drawing.finishedMode = mode;
    stop();
    redraw();
    showPanel(true, mode);
    if (mode === "pitch") {
      const inside = centroidVenue();
      if (inside) document.getElementById("pitch-venue").value = inside.id;
      document.getElementById("pitch-label").focus();
    } else if (mode === "edit") {
      document.getElementById("edit-save").focus();
    } else {
      document.getElementById("venue-name").focus();
    }
  }

  // Put the tool away: no corners, no pitch being edited, no form.
  function closeTool() {
    stop();
    editing = null;
    drawing.points = [];
    redraw();
    showPanel(false, null);
  }

  function ring() {
    const closed = drawing.points.map((point) => [...point]);
    closed.push([...drawing.points[0]]);
    return { type: "Polygon", coordinates: [closed] };
  }

  map.on("click", (event) => {
    if (!drawing.mode) return;
    drawing.points.push([event.latlng.lng, event.latlng.lat]);
    redraw();
  });
  coordinates.addEventListener("change", () => {
    const typed = parseCoordinates();
    if (typed !== null) { drawing.points = typed; redraw(); }
  });
  document.getElementById("draw-pitch").addEventListener("click", () => start("pitch"));
  document.getElementById("draw-venue").addEventListener("click", () => start("venue"));
  document.getElementById("draw-finish").addEventListener("click", finish);
  document.getElementById("draw-undo").addEventListener("click", () => { drawing.points.pop(); redraw(); });
  document.getElementById("draw-cancel").addEventListener("click", closeTool);
  map.getContainer().addEventListener("keydown", (event) => {
    if (event.key === "Escape" && drawing.mode) { stop(); }
  });

  // --- saving through the API ------------------------------------------------------------------------------
  function featureName(id) {
    for (const collection of venueMaps.values()) {
      for (const feature of (collection && collection.features) || []) {
        if (feature.id === `restricted-feature/${id}` && feature.properties.name) return feature.properties.name;
      }
    }
    return id;
  }

  function checkLine(check) {
    const name = m["map_check_" + check.check] || check.check;
    const mark = check.passed ? "✓" : "✗";
    if (check.check === "clear_of_restricted" && check.kind) {
      const values = {
        kind: config.featureKinds[check.kind] || check.kind,
        feature: featureName(check.feature),
        distance: check.distance_m,
        required: check.required_m,
      };
      if (check.overlap_forbidden && !check.passed && !check.distance_m) {
        return `${mark} ${name}: ${format(m.map_overlaps_feature, values)}`;
      }
      if (check.distance_m !== undefined && check.distance_m !== null) {
        if (check.passed) return `${mark} ${name}: ${format(m.map_clear_by, values)}`;
        values.short = Math.max(0, check.required_m - check.distance_m).toFixed(2);
        return `${mark} ${name}: ${format(m.map_short_by, values)}`;
      }
    }
    if (check.measured !== undefined && check.limit !== undefined) {
      return `${mark} ${name}: ${check.measured} / ${check.limit}${check.passed ? "" : " · " + check.detail}`;
    }
    return check.passed ? `${mark} ${name}` : `${mark} ${name}: ${check.detail}`;
  }

  function showChecks(checks, heading = m.map_refused) {
    const failed = checks.filter((check) => !check.passed);
    const passed = checks.filter((check) => check.passed);
    const list = (items, className) => {
      const ul = document.createElement("ul");
      ul.className = "checks";
      for (const check of items) ul.append(text("li", checkLine(check), className));
      return ul;
    };
    say("alert", [text("p", heading), list(failed, "failed"), text("p", m.map_checks_passed), list(passed, "passed")]);
  }

  document.getElementById("pitch-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const venueId = document.getElementById("pitch-venue").value;
    const label = document.getElementById("pitch-label").value.trim();
    if (!venueId) { say("alert", [text("p", m.map_choose_venue)]); return; }
    const { status, ok, body } = await api(`/api/v1/venues/${venueId}/pitches`, { method: "POST", body: { label, geometry: ring() } });
    if (ok) {
      closeTool();
      await reloadVenue(venueId);
      say("success", [text("p", format(m.map_saved_pitch, { label: body.label }))]);
    } else if (body.code === "pitch_rejected" && body.checks) {
      showChecks(body.checks);
    } else {
      say("alert", [text("p", problemText(body, status))]);
    }
  });

  document.getElementById("venue-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (drawing.points.length < 3) { say("alert", [text("p", m.map_draw_first)]); return; }
    const value = (name) => form.elements.namedItem(name).value.trim();
    const checked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((input) => input.value);
    const venue = {
      name: value("name"),
      kind: value("kind"),
      jurisdiction_code: config.jurisdiction,
      geometry: ring(),
      schedule: [{ days: checked("days").map(Number), start: value("start"), end: value("end") }],
      valid_from: value("valid_from"),
      allowed_categories: checked("categories"),
    };
    if (value("valid_to")) venue.valid_to = value("valid_to");
    if (value("authority") || value("document_number") || value("designated_on")) {
      venue.designation = { authority: value("authority"), document_number: value("document_number"), designated_on: value("designated_on") };
    }
    const { status, ok, body } = await api("/api/v1/venues", { method: "POST", body: venue });
    if (ok) {
      closeTool();
      await loadVenues();
      say("success", [text("p", format(m.map_saved_venue, { name: body.name }))]);
    } else {
      say("alert", [text("p", problemText(body, status))]);
    }
  });

  // --- editing an existing pitch ----------------------------------------------------------------------------
  const pitchId = (feature) => feature.id.slice("pitch/".length);

  async function reloadVenue(venueId) {
    venueMaps.set(venueId, (await api(`/api/v1/venues/${venueId}/map`)).body);
    drawPlaces();
    fillTable();
  }

  // Load a pitch, with the ETag its change must send, into the drawing tool.
  async function pick(id) {
    const { status, ok, body, etag } = await api(`/api/v1/pitches/${id}`);
    if (!ok) { say("alert", [text("p", problemText(body, status))]); return; }
    const polygons = body.geometry.type === "MultiPolygon" ? body.geometry.coordinates : [body.geometry.coordinates];
    if (polygons.length !== 1 || polygons[0].length !== 1) {
      say("alert", [text("p", format(m.map_edit_not_simple, { label: body.label }))]);
      return;
    }
    stop();
    editing = { id: body.id, venueId: body.venue_id, label: body.label, etag };
    drawing.finishedMode = "edit";
    drawing.points = polygons[0][0].slice(0, -1).map(([lon, lat]) => [lon, lat]);
    redraw();
    showPanel(true, "edit");
    document.getElementById("edit-title").textContent = format(m.map_editing, { label: body.label });
    result.replaceChildren();
    result.className = "";
    const bounds = L.latLngBounds(latlngsOf(drawing.points));
    // Bring it into view, near enough that its corners can be dragged apart.
    if (!map.getBounds().contains(bounds) || map.getZoom() < Math.min(map.getBoundsZoom(bounds), 21) - 3) {
      map.fitBounds(bounds, { maxZoom: 21, animate: false });
    }
    coordinates.focus();
  }

  document.getElementById("edit-reclick").addEventListener("click", () => start("edit"));

  document.getElementById("edit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!editing) return;
    const typed = parseCoordinates();
    if (typed === null) return;
    if (typed.length < 3) { say("alert", [text("p", m.map_need_three)]); return; }
    drawing.points = typed;
    stop();
    redraw();
    const target = editing;
    const { status, ok, body } = await api(`/api/v1/pitches/${target.id}`, {
      method: "PATCH",
      headers: { "If-Match": target.etag },
      body: { geometry: ring() },
    });
    if (ok) {
      closeTool();
      await reloadVenue(target.venueId);
      say("success", [text("p", format(m.map_saved_edit, { label: body.label }))]);
    } else if (status === 412) {
      // Someone changed it since it was loaded: show theirs, to be edited again from there.
      await reloadVenue(target.venueId);
      await pick(target.id);
      say("alert", [text("p", format(m.map_edit_stale, { label: target.label }))]);
    } else if (body.code === "pitch_rejected" && body.checks) {
      showChecks(body.checks, m.map_edit_refused);
    } else {
      say("alert", [text("p", problemText(body, status))]);
    }
  });

  loadJurisdiction().then(loadVenues);
})();
