// The map: the basemap, devices (and server-side clusters of them) from the GeoJSON listing in
// cluster mode, an icon per kind, a view cone per direction, a filter by kind, the declared
// sites still to check (declared.js), and the pins still waiting in the outbox. Devices of
// viewed areas are kept on the phone; offline, the map draws those instead.
import L from "leaflet";
import { currentToken, request } from "./api.js";
import { addBasemap } from "./basemap.js";
import { createDeclaredLayer } from "./declared.js";
import { dayText, errorText, kindCount, kindLabel, onLanguageChange, t, valueLabel } from "./i18n.js";
import { devicesChangedOnPhone } from "./operations.js";
import { cachedDevicesIn, contains, keepArea } from "./store.js";
import { coverControls, element, notice, openSheet, setStandIn, showText } from "./ui.js";
import { KINDS } from "./vocabulary.js";

const MAX_FEATURES = 2000;
// From this zoom on, a view holding groups keeps its devices for offline all the same: a few
// streets, whose devices one more request reads.
const KEEP_ONE_BY_ONE_FROM = 17;
const LIST_GROUPS_FROM_ZOOM = 19;
// The server's cluster cells (service/geo/tiles.py: DETAIL_ZOOM, cell_bits), in pixels.
const DETAIL_ZOOM = 18;
const CELL_PX = 32;
const DETAIL_CELL_PX = 4;
const CONE_RADIUS_M = 30;
const METRES_PER_DEGREE = 111320;
const DEFAULT_VIEW = { lat: 48.8566, lon: 2.3522, zoom: 13 };
// A listing lost on the network while the phone says it is online (a blip, a tunnel, a
// captive portal) fires no "online" event: the map asks again, less often each time, rather
// than say it is offline until the contributor pans.
const RETRY_FIRST_MS = 5_000;
const RETRY_LONGEST_MS = 60_000;

// Colour and glyph (an SVG path on a 24-unit square) for each kind of device (KINDS).
export const KIND_STYLES = {
  camera: { color: "#b3261e", path: "M4 8h11l5-3v12l-5-3H4z" },
  alpr: { color: "#6a1b9a", path: "M3 8h18v8H3zM6 11h2v2H6zm4 0h4v2h-4zm6 0h2v2h-2z" },
  facial_recognition: { color: "#ad1457", path: "M12 4a6 7 0 1 0 0 14a6 7 0 1 0 0-14zM9 10h1v1H9zm5 0h1v1h-1zm-4 4h4v1h-4z" },
  microphone: { color: "#1565c0", path: "M10 4h4v9h-4zM7 11h2a3 3 0 0 0 6 0h2a5 5 0 0 1-4 5v3h-2v-3a5 5 0 0 1-4-5z" },
  gunshot_detector: { color: "#b34700", path: "M12 3l2 6h6l-5 4 2 7-5-4-5 4 2-7-5-4h6z" },
  sensor: { color: "#2e7d32", path: "M12 10a2 2 0 1 0 0 4a2 2 0 1 0 0-4zM7 7a7 7 0 0 0 0 10l1.4-1.4a5 5 0 0 1 0-7.2zm10 0-1.4 1.4a5 5 0 0 1 0 7.2L17 17a7 7 0 0 0 0-10z" },
};
const FALLBACK_STYLE = { color: "#455a64", path: "M12 6a6 6 0 1 0 0 12a6 6 0 1 0 0-12z" };
export const styleOf = (kind) => KIND_STYLES[kind] || FALLBACK_STYLE;

// A device as a list of those at one spot names it: its kind and what tells it from the others
// (what it films, its mount, operator, the first words of its notes), else the day it was pinned.
function deviceName({ properties: props }) {
  const notes = props.notes?.length > 40 ? `${props.notes.slice(0, 40)}…` : props.notes;
  const details = [props.camera_type && valueLabel(props.camera_type), props.mount && valueLabel(props.mount), props.operator, notes].filter(Boolean);
  // A pin not sent yet has no day of its own on the server.
  const told = details.length ? details.join(", ") : props.created_at && t("pinnedOn", { day: dayText(props.created_at) });
  return told ? `${kindLabel(props.kind)} — ${told}` : kindLabel(props.kind);
}

export function kindIcon(kind, extraClass = "") {
  const { color, path } = styleOf(kind);
  return `<span class="pin ${extraClass}" style="background:${color}"><svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="${path}"/></svg></span>`;
}

// Markers of pins not (yet) public, by their review status, and of the outbox's own.
const REVIEW_CLASSES = { pending: "awaiting-review", rejected: "rejected" };
const OUTBOX_STATES = new Set(["pending", "refused", "pending-edit", "pending-withdraw", "refused-change"]);
// A device that an edit or withdrawal kept in the outbox changes, by what changes it.
const changeClass = ({ change, refused }) => (refused ? "refused-change" : `pending-${change}`);
const STATE_NAMES = {
  pending: "pendingPin", refused: "refusedPin", "awaiting-review": "awaitingReviewPin", rejected: "rejectedPin",
  "pending-edit": "pendingEdit", "pending-withdraw": "pendingWithdraw", "refused-change": "refusedChange",
};
// "camera — pending pin (not sent yet)": a device's state (a marker's EXTRA_CLASS), a heading
// elsewhere, goes on the line that names it.
function withState(name, extraClass) {
  if (!STATE_NAMES[extraClass]) return name;
  const state = t(STATE_NAMES[extraClass]);
  return `${name} — ${state[0].toLowerCase()}${state.slice(1)}`;
}

// A marker is tapped in a square of TAP_TARGET px (WCAG 2.5.5) around the pin or cluster it
// shows, smaller and centred in it (the "tap-target" class).
const TAP_TARGET = 44;
// How long redraws held by a press on a marker wait after its release: the click a touch
// leads to may come in a task of its own, after the release.
const TAP_SETTLE_MS = 250;
// A press held longer is no tap (a long press): redraws wait no longer for it.
const TAP_LONGEST_MS = 5_000;
const tapTarget = (html, shown = 0) => {
  const side = Math.max(TAP_TARGET, shown);
  return L.divIcon({ className: "tap-target", html, iconSize: [side, side], iconAnchor: [side / 2, side / 2] });
};

const deviceIcon = (kind, extraClass) => tapTarget(kindIcon(kind, extraClass));

// 950, 1.2k, 15k: a count that fits in its circle.
function shortCount(count) {
  if (count < 1000) return String(count);
  return `${(count / 1000).toFixed(count < 10000 ? 1 : 0)}k`;
}

// The kinds the contributor hid, kept on the phone (not the account's: a choice of what the
// map shows): a reload shows the map as they left it, not every kind again.
const HIDDEN_KINDS_KEY = "vigie-hidden-kinds";

function hiddenKindsKept() {
  try {
    const kept = JSON.parse(localStorage.getItem(HIDDEN_KINDS_KEY) ?? "[]");
    return Array.isArray(kept) ? kept : [];
  } catch {
    return []; // a value not ours
  }
}

function keepHiddenKinds(kinds) {
  if (kinds.length) localStorage.setItem(HIDDEN_KINDS_KEY, JSON.stringify(kinds));
  else localStorage.removeItem(HIDDEN_KINDS_KEY);
}

// ACTION when MARKER is clicked, tapped, or focused and Enter or Space is pressed (Leaflet's
// own Enter only opens a bound popup).
function whenActivated(marker, action) {
  marker.on("click", action);
  marker.on("add", () => marker.getElement().addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    action();
  }));
}

// CHANGES: how many of its devices have changes not sent yet (dashed, as their markers are).
function clusterIcon(count, { changes = 0 } = {}) {
  const size = Math.round(22 + 6 * Math.log10(count));
  const changed = changes ? " pending-edit" : "";
  // The count shown is hidden from screen readers: the marker's title names the cluster.
  return tapTarget(`<span class="cluster${changed}" style="width:${size}px;height:${size}px" aria-hidden="true">${shortCount(count)}</span>`, size);
}

// The point DISTANCE_M metres from (lat, lon) towards BEARING degrees (flat: metres only).
export function offset(lat, lon, bearing, distanceM) {
  const radians = (bearing * Math.PI) / 180;
  return [
    lat + (distanceM * Math.cos(radians)) / METRES_PER_DEGREE,
    lon + (distanceM * Math.sin(radians)) / (METRES_PER_DEGREE * Math.cos((lat * Math.PI) / 180)),
  ];
}

// The bearing in whole degrees from one point to another.
export function bearing(from, to) {
  const dy = to.lat - from.lat;
  const dx = (to.lng - from.lng) * Math.cos((from.lat * Math.PI) / 180);
  return Math.round(((Math.atan2(dx, dy) * 180) / Math.PI + 360) % 360) % 360;
}

// A view cone: the sector seen from the device, CONE_RADIUS_M long, `angle` degrees wide.
export function coneLatLngs(lat, lon, direction, angle) {
  const points = [[lat, lon]];
  const steps = Math.max(4, Math.round(angle / 10));
  for (let i = 0; i <= steps; i += 1) {
    points.push(offset(lat, lon, direction - angle / 2 + (angle * i) / steps, CONE_RADIUS_M));
  }
  return points;
}

export const CONE_HANDLE_M = CONE_RADIUS_M;

const viewCone = (lat, lon, direction, angle, color) => L.polygon(coneLatLngs(lat, lon, direction, angle), {
  color, weight: 1, fillOpacity: 0.2, interactive: false, className: "view-cone",
});

// The place a #zoom/lat/lon hash names; null for any other hash (the skip link's #map).
function viewFromHash(hash) {
  const parts = hash.slice(1).split("/");
  const [zoom, lat, lon] = parts.map(Number);
  return parts.length === 3 && [zoom, lat, lon].every(Number.isFinite) ? { zoom, lat, lon } : null;
}

const clamp = (value, limit) => Math.max(-limit, Math.min(limit, value));

// The server's messages are sentences already: the string ends them.
const loadFailed = (error) => t("loadFailed", { message: errorText(error).replace(/\.$/, "") });

// The status line and the pin button (.map-foot) stand below the controls above them (the zoom
// buttons, the filters while closed) and above the credits and the scale, whatever size the
// text wraps those to: at 320 px with text at 200 %, the filters' summary reached down over the
// status line, and the pin button covered the credits. Where the credits run as wide as the
// scale's corner (a phone, French words), the scale stands above them rather than under them;
// where that would leave the status line less than two lines above the pin button (large text
// on a small phone), the scale gives way: the status line and the credits matter more.
function keepFootBetweenControls(map) {
  const foot = document.querySelector(".map-foot");
  const filters = document.getElementById("filters");
  const button = document.getElementById("pin-button");
  const status = document.getElementById("status");
  const container = map.getContainer();
  const scale = container.querySelector(".leaflet-bottom.leaflet-left");
  const credits = container.querySelector(".leaflet-bottom.leaflet-right");
  const place = () => {
    if (!filters.open) foot.style.top = `max(calc(100px + 0.5rem), ${filters.offsetTop + filters.offsetHeight + 8}px)`;
    scale.style.display = "";
    const sideBySide = scale.offsetWidth + credits.offsetWidth <= container.clientWidth;
    const lifted = sideBySide ? 0 : credits.offsetHeight;
    const bottom = Math.max(scale.offsetHeight + lifted, credits.offsetHeight) + 4;
    const twoLines = 2 * 1.2 * parseFloat(getComputedStyle(status).fontSize) + 8;
    const shown = sideBySide || container.clientHeight - foot.offsetTop - bottom >= button.offsetHeight + 8 + twoLines;
    scale.style.display = shown ? "" : "none";
    scale.style.bottom = shown && lifted ? `${lifted}px` : "";
    foot.style.bottom = `max(28px, ${shown ? bottom : credits.offsetHeight + 4}px)`;
  };
  const resized = new ResizeObserver(place);
  for (const node of [filters, container, scale, credits]) resized.observe(node);
}

// Motion asked to be reduced (a vestibular disorder): the map jumps rather than glides, zooms
// and pans alike (WCAG 2.3.3), as the system setting stands when the page opens.
const STILL = globalThis.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
const STILL_MAP = { zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false, inertia: false };

export function createMap({ basemap, db, onSelect }) {
  const view = viewFromHash(window.location.hash) ?? DEFAULT_VIEW;
  const map = L.map("map", { minZoom: 2, maxZoom: 20, zoomControl: false, keyboard: true, ...(STILL ? STILL_MAP : {}) })
    .setView([view.lat, view.lon], view.zoom);
  if (STILL) {
    // Leaflet has no option for its pans (arrow keys, a place followed): each jumps instead.
    const panBy = map.panBy.bind(map);
    map.panBy = (offset, options) => panBy(offset, { ...options, animate: false });
  }
  // Leaflet's zoom buttons, titled in the page's language (Leaflet's own titles are English).
  let zoom = null;
  const addZoom = () => {
    zoom?.remove();
    zoom = L.control.zoom({ zoomInTitle: t("zoomIn"), zoomOutTitle: t("zoomOut") }).addTo(map);
  };
  addZoom();
  onLanguageChange(addZoom);
  L.control.scale({ imperial: false }).addTo(map);
  map.attributionControl.setPrefix(false);
  keepFootBetweenControls(map);
  // The data's credit, as the server gives it (its `license` links: the contributors, and
  // OpenStreetMap's when devices were imported from it, whose licence asks for it).
  let dataCredit = "Devices © Vigie contributors";
  map.attributionControl.addAttribution(dataCredit);
  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  function showCredits(links) {
    const licences = (links || []).filter((link) => link.rel === "license" && link.title && /^https?:/.test(link.href));
    if (!licences.length) return;
    const credits = licences.map((link) => `<a href="${escapeHtml(link.href)}">${escapeHtml(link.title)}</a>`).join(", ");
    const credit = t("labelled", { label: t("devicesCredit"), value: credits });
    if (credit === dataCredit) return;
    map.attributionControl.removeAttribution(dataCredit).addAttribution(credit);
    dataCredit = credit;
  }
  // A marker (or a declared site's ring) drawn again between the press and the release of a
  // tap is a new element: the browser clicks neither, and the tap is lost. While one is pressed
  // (and until its click has come), redraws wait, the latest of each kind kept, and run once
  // the tap is over: its pointer released or cancelled, a context menu or another window taking
  // the release, the map dragged instead (no click comes), or at the latest after TAP_LONGEST_MS.
  const heldRedraws = new Map();
  let pressedPointer = null;
  let longest = null;
  let settling = null;
  map.getContainer().addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || pressedPointer !== null || !event.target.closest?.(".leaflet-marker-icon, .leaflet-interactive")) return;
    pressedPointer = event.pointerId;
    longest = setTimeout(tapEnded, TAP_LONGEST_MS);
  }, true);
  function tapEnded(event) {
    if (pressedPointer === null || (event?.pointerId !== undefined && event.pointerId !== pressedPointer)) return;
    pressedPointer = null;
    clearTimeout(longest);
    clearTimeout(settling);
    settling = setTimeout(() => {
      settling = null;
      if (pressedPointer !== null) return;
      const held = [...heldRedraws];
      heldRedraws.clear();
      for (const [redraw, args] of held) redraw(...args);
    }, TAP_SETTLE_MS);
  }
  for (const type of ["pointerup", "pointercancel", "contextmenu"]) window.addEventListener(type, tapEnded, true);
  window.addEventListener("blur", (event) => { if (event.target === window) tapEnded(); });
  document.addEventListener("visibilitychange", () => tapEnded());
  map.on("dragstart", () => tapEnded());
  // Whether REDRAW must wait for a tap to end (it is then run with ARGS when it does).
  function heldForTap(redraw, ...args) {
    if (pressedPointer === null && settling === null) return false;
    heldRedraws.set(redraw, args);
    return true;
  }

  const basemapReady = addBasemap(map, basemap);
  createDeclaredLayer(map, { heldForTap });
  const devicesLayer = L.layerGroup().addTo(map);
  const pendingLayer = L.layerGroup().addTo(map);
  const highlightLayer = L.layerGroup().addTo(map);
  const status = document.getElementById("status");
  const shownKinds = new Set(KINDS.filter((kind) => !hiddenKindsKept().includes(kind)));
  let drawn = null;
  let inFlight = null;
  let retry = null;
  let retryDelay = RETRY_FIRST_MS;
  // What draw() last drew, and the devices in it by id: the outbox's edits and withdrawals
  // show over them, as the devices will be once they are sent.
  let lastDraw = null;
  let shownDevices = new Map();
  let outboxItems = [];
  let changedOnPhone = new Map();
  // The devices changed on the phone that a cluster of the last draw groups (offline).
  let changesInClusters = new Set();
  // What the status line counts of the last draw (sayWhatIsShown); null while it says else.
  let shownCounts = null;

  function addDevice(layer, feature, extraClass = "") {
    const [lon, lat] = feature.geometry.coordinates;
    const props = feature.properties;
    const { color } = styleOf(props.kind);
    if (Array.isArray(props.direction) && props.direction.length) {
      for (const direction of props.direction) layer.addLayer(viewCone(lat, lon, direction, props.angle || 60, color));
    }
    const stated = (name) => withState(name, extraClass);
    const title = stated(kindLabel(props.kind));
    const marker = L.marker([lat, lon], { icon: deviceIcon(props.kind, extraClass), title, alt: title, riseOnHover: true, keyboard: true });
    // Pending: still in the outbox, not on the server.
    whenActivated(marker, () => onSelect(feature, { pending: OUTBOX_STATES.has(extraClass) }));
    layer.addLayer(marker);
    // Read by a screen reader: what tells it from the markers beside it (the cluster's list
    // says the same), not its kind alone; the tooltip stays short.
    marker.getElement()?.setAttribute("aria-label", stated(deviceName(feature)));
    placeOfMarker.set(marker.getElement(), { latlng: marker.getLatLng(), id: feature.id });
  }

  // Where each marker drawn stands, and its device's id (none for a cluster), by its element:
  // drawn again, a marker is a new element, and the keyboard's focus on it would fall to the
  // page's start.
  const placeOfMarker = new WeakMap();
  const focusedMarkerPlace = () => placeOfMarker.get(document.activeElement) ?? null;

  // The marker of the same device, else the nearest within a tap of PLACE (a cluster drawn as
  // its devices, or back), else the map: what takes the focus a marker drawn again had.
  function standingAt({ latlng, id }) {
    const at = map.latLngToContainerPoint(latlng);
    const apart = (layer) => map.latLngToContainerPoint(layer.getLatLng()).distanceTo(at);
    const markers = [...devicesLayer.getLayers(), ...pendingLayer.getLayers()].filter((layer) => placeOfMarker.has(layer.getElement()));
    const same = id && markers.find((layer) => placeOfMarker.get(layer.getElement()).id === id);
    const near = markers.filter((layer) => apart(layer) <= TAP_TARGET / 2).sort((a, b) => apart(a) - apart(b))[0];
    return (same || near)?.getElement() ?? map.getContainer();
  }
  // An opener the sheet gives the focus back to, drawn again meanwhile.
  setStandIn((element) => placeOfMarker.has(element) && standingAt(placeOfMarker.get(element)));

  function refocus(place) {
    if (place && document.activeElement === document.body) standingAt(place).focus({ preventScroll: true });
  }

  // Close up, a cluster is a cell of 4 px (cell_bits in service/geo/tiles.py), at most 1.2 m
  // wide from LIST_GROUPS_FROM_ZOOM on: zooming in would part devices pinned at one spot no
  // better than the contributor's eye, so a tap lists them instead.
  const listsGroups = () => map.getZoom() >= LIST_GROUPS_FROM_ZOOM;

  // Devices of a cluster that zooming in cannot part (pinned at the same spot): the nearest of
  // those in view, of the kinds shown (as the cluster counts them), to choose from; offline,
  // among the devices kept on the phone that the cluster groups (MEMBERS), or, for a cluster
  // the server drew before the network went, that the view holds.
  async function chooseInCluster(lat, lon, count, members = null) {
    const listAgain = () => chooseInCluster(lat, lon, count, members).catch((error) => { showText(status, loadFailed(error)); });
    // Of its spot: within a cell of the cluster's place (devices kept on the phone, offline,
    // may be some of its own only, and others nearby are not).
    const at = map.latLngToContainerPoint([lat, lon]);
    const apart = (feature) => map.latLngToContainerPoint([feature.geometry.coordinates[1], feature.geometry.coordinates[0]]).distanceTo(at);
    const { features: found, kept } = members ? { features: members, kept: false } : await devicesInView();
    // A device changed on the phone is listed as it will be once sent, with its state, and
    // opens on what waits, as its own marker would; so is a pin not sent yet (offline).
    const features = found
      .map(asOnPhone)
      .filter((feature) => shownKinds.has(feature.properties.kind) && apart(feature) <= 2 * DETAIL_CELL_PX);
    const nearest = features.sort((a, b) => apart(a) - apart(b)).slice(0, count);
    const names = nearest.map(deviceName);
    const pins = unsentPins();
    const stateOf = (feature) => (changedOnPhone.has(feature.id) ? changeClass(changedOnPhone.get(feature.id)) : pins.get(feature.id)?.state ?? "");
    const list = element("ul", { class: "cluster-devices" }, ...nearest.map((feature, index) => element("li", {},
      element("button", { type: "button", onclick: () => onSelect(feature, { pending: Boolean(stateOf(feature)), from: listAgain }) },
        // Two alike: told apart by their ids.
        withState(names.indexOf(names[index]) === names.lastIndexOf(names[index]) ? names[index] : `${names[index]} (${feature.id.slice(0, 8)})`, stateOf(feature))))));
    // A cluster the server counted, listed offline from the phone: those it does not keep are
    // said missing, not left out unsaid (a cluster grouped on the phone holds only kept ones).
    const missing = kept ? count - nearest.length : 0;
    const content = missing > 0 ? element("div", {}, list, notice(t("clusterNotKept", { count: missing }))) : list;
    openSheet(t("clusterDevices", { count }), content, { again: listAgain });
  }

  // The devices in view, of the kinds shown: the server's, else (no network) those kept on
  // the phone (KEPT).
  async function devicesInView() {
    const bbox = currentBbox();
    const params = new URLSearchParams({ bbox: bbox.join(","), limit: "100" });
    if (shownKinds.size < KINDS.length) params.set("kind", [...shownKinds].join(","));
    try {
      const { data } = await request("GET", `devices?${params}`, { headers: { Accept: "application/geo+json" } });
      return { features: data.features, kept: false };
    } catch (error) {
      if (error.status) throw error;
      return { features: await cachedDevicesIn(db, bbox), kept: true };
    }
  }

  // Offline, the devices kept on the phone grouped as the server groups them online (its cells),
  // so that devices pinned at one spot are one marker to choose from, not markers stacked
  // under the top one.
  function groupedAsOnline(features) {
    const cells = featuresByCell(features);
    return [...cells.values()].map((members) => (members.length === 1 ? members[0] : clusterOf(members)));
  }

  // FEATURES by the server's cell of the current zoom that holds them.
  function featuresByCell(features) {
    const zoom = map.getZoom();
    const cell = zoom < DETAIL_ZOOM ? CELL_PX : DETAIL_CELL_PX;
    const cells = new Map();
    for (const feature of features) {
      const [lon, lat] = feature.geometry.coordinates;
      const { x, y } = map.project([lat, lon], zoom);
      const key = `${Math.floor(x / cell)}:${Math.floor(y / cell)}`;
      if (cells.has(key)) cells.get(key).push(feature);
      else cells.set(key, [feature]);
    }
    return cells;
  }

  // Online, the contributor's pins not sent yet (or refused) at the spot of a device the server
  // drew alone join it in a group, as offline: drawn apart, one stood over the device (a pin
  // refused as its duplicate, 0 m away), which no tap then reached. A spot the server groups
  // already keeps its own cluster, the pin drawn beside it.
  function withPinsAtTheirSpot(features, pins) {
    const shownPins = [...pins.values()].map((pin) => pin.feature).filter((pin) => shownKinds.has(pin.properties.kind));
    if (!shownPins.length) return features;
    const alone = features.filter((feature) => !feature.properties.cluster && !pins.has(feature.id));
    const spots = featuresByCell([...alone, ...shownPins]);
    const grouped = new Map();
    for (const members of spots.values()) {
      const [first, ...rest] = members;
      if (rest.length && !pins.has(first.id)) grouped.set(first.id, clusterOf(members.map(asOnPhone)));
    }
    return features.map((feature) => grouped.get(feature.id) ?? feature);
  }

  function clusterOf(members) {
    const kinds = {};
    for (const { properties } of members) kinds[properties.kind] = (kinds[properties.kind] ?? 0) + 1;
    const mean = (axis) => members.reduce((sum, member) => sum + member.geometry.coordinates[axis], 0) / members.length;
    return { type: "Feature", geometry: { type: "Point", coordinates: [mean(0), mean(1)] }, properties: { cluster: true, count: members.length, kinds }, members };
  }

  function draw(features, { offline = false } = {}) {
    lastDraw = [features, { offline }];
    if (heldForTap(draw, features, { offline })) return;
    const focusedPlace = focusedMarkerPlace();
    shownDevices = new Map(features.filter((feature) => !feature.properties.cluster).map((feature) => [feature.id, feature]));
    const outboxChanged = applyOutboxChanges();
    devicesLayer.clearLayers();
    let devices = 0;
    let clusters = 0;
    // Offline, grouped as the server groups online: the kinds shown only, counted so; a device
    // changed on the phone where it will be once sent, and the contributor's pins not sent
    // yet (online, those at a device's spot: withPinsAtTheirSpot). One that a cluster groups
    // is not drawn apart by drawPending, over the cluster's count: the cluster says it holds
    // changes (a pin not sent yet is still counted apart).
    const groupedBefore = [...changesInClusters].join();
    const pins = unsentPins();
    const shown = offline
      ? groupedAsOnline([...features.map(asOnPhone),
        ...[...pins.values()].map((pin) => pin.feature)].filter((feature) => shownKinds.has(feature.properties.kind)))
      : withPinsAtTheirSpot(features, pins);
    changesInClusters = new Set(shown.flatMap((feature) => feature.members ?? []).map((member) => member.id)
      .filter((id) => changedOnPhone.has(id) || pins.has(id)));
    for (const feature of shown) {
      const props = feature.properties;
      if (!shownKinds.has(props.kind) && !props.cluster) continue;
      if (!props.cluster) {
        if (pins.has(feature.id)) continue; // drawn by drawPending, and counted apart
        devices += 1;
        // The author's own pins the community does not see yet, or was refused: marked so.
        // One the outbox changes is drawn by drawPending instead.
        if (!changedOnPhone.has(feature.id)) addDevice(devicesLayer, feature, REVIEW_CLASSES[props.review_status] || "");
        continue;
      }
      clusters += 1;
      devices += props.count - (feature.members ?? []).filter((member) => pins.has(member.id)).length;
      const [lon, lat] = feature.geometry.coordinates;
      const summary = Object.entries(props.kinds).map(([kind, count]) => kindCount(kind, count)).join(", ");
      const changes = (feature.members ?? []).filter((member) => changesInClusters.has(member.id)).length;
      const title = t("clusterTitle", { count: props.count, summary }) + (changes ? t("clusterChanges", { count: changes }) : "");
      const marker = L.marker([lat, lon], { icon: clusterIcon(props.count, { changes }), title, riseOnHover: true, keyboard: true });
      whenActivated(marker, () => {
        if (!listsGroups()) map.setView([lat, lon], Math.min(map.getZoom() + 2, map.getMaxZoom()));
        else chooseInCluster(lat, lon, props.count, feature.members).catch((error) => { showText(status, loadFailed(error)); });
      });
      devicesLayer.addLayer(marker);
      placeOfMarker.set(marker.getElement(), { latlng: marker.getLatLng(), id: null });
    }
    shownCounts = { offline, devices, clusters };
    sayWhatIsShown();
    // Markers left as they are otherwise: one may have the keyboard's focus. A zoom that
    // groups a changed device in a cluster, or parts it from one, draws the outbox's again.
    if (outboxChanged || [...changesInClusters].join() !== groupedBefore) drawPending();
    refocus(focusedPlace);
  }

  // What the status line says of the map: the devices drawn (kept on the phone, offline), the
  // clusters, and the contributor's pins not sent yet (drawPending), counted apart.
  function sayWhatIsShown() {
    if (!shownCounts) return;
    const { offline, devices, clusters } = shownCounts;
    const bbox = currentBbox();
    const unsent = outboxItems.filter((item) => item.type === "pin" && contains(bbox, item.feature.geometry.coordinates)).length;
    status.textContent = (offline
      ? t("offlineDevices", { count: devices })
      : t("devicesInView", { count: devices })
        + (clusters ? t(listsGroups() ? "clustersHintChoose" : "clustersHint", { count: clusters }) : ""))
      + (unsent ? t("unsentInView", { count: unsent }) : "");
  }

  function currentBbox() {
    const bounds = map.getBounds();
    return [clamp(bounds.getWest(), 180), clamp(bounds.getSouth(), 90), clamp(bounds.getEast(), 180), clamp(bounds.getNorth(), 90)]
      .map((v) => Number(v.toFixed(6)));
  }

  // The view not to keep on the phone (see reload), as currentBbox() joins it.
  let unkeptView = null;

  async function load() {
    if (inFlight) inFlight.abort();
    clearTimeout(retry);
    inFlight = new AbortController();
    // A newer load may start while this one awaits (the network, the phone's store): from
    // then on this one must draw nothing, or older devices would replace the newer ones.
    const { signal } = inFlight;
    if (shownKinds.size === 0) {
      heldRedraws.delete(draw);
      devicesLayer.clearLayers();
      if (changedOnPhone.size) drawPending();
      drawn = null;
      shownCounts = null;
      status.textContent = t("noKind");
      return;
    }
    const bbox = currentBbox();
    // On opening, the devices kept on the phone show while the network answers.
    if (drawn === null) {
      const kept = await cachedDevicesIn(db, bbox);
      if (signal.aborted) return;
      if (kept.length) draw(kept);
    }
    const params = new URLSearchParams({ cluster: "true", zoom: String(map.getZoom()), bbox: bbox.join(","), limit: String(MAX_FEATURES) });
    if (shownKinds.size < KINDS.length) params.set("kind", [...shownKinds].join(","));
    const token = currentToken();
    try {
      const { data } = await request("GET", `devices?${params}`, { signal, headers: { Accept: "application/geo+json" } });
      if (signal.aborted) return;
      retryDelay = RETRY_FIRST_MS;
      showCredits(data.links);
      const devices = data.features.filter((feature) => !feature.properties.cluster);
      // Clusters hide their devices: an area is kept for offline use once seen device by device,
      // unless the session it was read in ended meanwhile (its pins awaiting review among them).
      // Close up, devices of one spot stay grouped at every zoom: the area's devices are then
      // asked one by one for the phone.
      const still = () => currentToken() === token;
      if (unkeptView !== null && bbox.join() !== unkeptView) unkeptView = null; // moved since
      // Kept with every kind, whatever the kinds shown: asked apart when some are hidden.
      if (unkeptView === null) {
        const whole = shownKinds.size === KINDS.length && devices.length === data.features.length;
        const every = whole ? devices : await devicesOneByOne(bbox, signal);
        if (every) await keepArea(db, bbox, every, still);
      }
      if (signal.aborted) return;
      // The same devices as on screen (a small pan): keep the markers as they are.
      const key = JSON.stringify(data.features);
      if (key !== drawn) {
        draw(data.features);
        drawn = key;
      }
      showPlaceInAddress();
    } catch (error) {
      // A newer load took over (after a session ended by the server, one without the token).
      if (error.name === "AbortError" || signal.aborted) return;
      if (error.status) {
        shownCounts = null;
        showText(status, loadFailed(error));
        return;
      }
      const kept = await cachedDevicesIn(db, bbox);
      if (signal.aborted) return;
      draw(kept, { offline: true });
      drawn = null;
      if (navigator.onLine) {
        retry = setTimeout(load, retryDelay);
        retryDelay = Math.min(2 * retryDelay, RETRY_LONGEST_MS);
      }
    }
  }

  // Every device of BBOX unclustered, from a close view (KEEP_ONE_BY_ONE_FROM zoom on); null
  // from farther, or when they do not fit in one answer.
  async function devicesOneByOne(bbox, signal) {
    if (map.getZoom() < KEEP_ONE_BY_ONE_FROM) return null;
    const params = new URLSearchParams({ bbox: bbox.join(","), limit: String(MAX_FEATURES) });
    const { data } = await request("GET", `devices?${params}`, { signal, headers: { Accept: "application/geo+json" } });
    return data.links?.some((link) => link.rel === "next") ? null : data.features;
  }

  function setKindShown(kind, shown) {
    if (shown) shownKinds.add(kind);
    else shownKinds.delete(kind);
    keepHiddenKinds(KINDS.filter((each) => !shownKinds.has(each)));
    drawn = null;
    load();
  }

  // The outbox's pins, and the devices its edits and withdrawals change, marked as not sent.
  function drawPending() {
    if (heldForTap(drawPending)) return;
    const focusedPlace = focusedMarkerPlace();
    pendingLayer.clearLayers();
    for (const { feature, state } of unsentPins().values()) {
      if (!changesInClusters.has(feature.id)) addDevice(pendingLayer, feature, state);
    }
    for (const changed of changedOnPhone.values()) {
      if (changesInClusters.has(changed.feature.id) || !shownKinds.has(changed.feature.properties.kind)) continue;
      addDevice(pendingLayer, changed.feature, changeClass(changed));
    }
    refocus(focusedPlace);
  }

  // The outbox's edits and withdrawals applied to the devices last drawn: whether that
  // changed what drawPending shows of them.
  function applyOutboxChanges() {
    const changed = devicesChangedOnPhone(outboxItems, shownDevices);
    const same = JSON.stringify([...changed]) === JSON.stringify([...changedOnPhone]);
    changedOnPhone = changed;
    return !same;
  }

  // FEATURE as it will be once the outbox's changes of it are sent.
  function asOnPhone(feature) {
    return changedOnPhone.get(feature.id)?.feature ?? feature;
  }

  // The contributor's pins still in the outbox, by id: each one's Feature, and its marker's class.
  function unsentPins() {
    return new Map(outboxItems.filter((item) => item.type === "pin")
      .map((item) => [item.feature.id, { feature: item.feature, state: item.state === "refused" ? "refused" : "pending" }]));
  }

  function showPending(items) {
    // What the last draw may group of the outbox: the devices it changes, and its pins.
    const grouped = () => [...changedOnPhone.keys(), ...unsentPins().keys()].join();
    const before = grouped();
    outboxItems = items;
    applyOutboxChanges();
    // A device whose change was sent or discarded comes back as the server gave it; offline,
    // a pin made, sent or discarded joins or leaves its spot's cluster.
    if (lastDraw && grouped() !== before) draw(...lastDraw);
    drawPending();
    sayWhatIsShown();
  }

  // The devices a pin may duplicate, ringed; the first kept in sight beside the sheet that
  // names them: asked from the outbox later, elsewhere, they were off the screen.
  let stopRevealing = () => {};
  function highlight(points) {
    stopRevealing();
    stopRevealing = () => {};
    highlightLayer.clearLayers();
    for (const [lon, lat] of points) {
      highlightLayer.addLayer(L.circleMarker([lat, lon], { radius: 20, color: "#0b57d0", weight: 3, fill: false, interactive: false, className: "candidate-ring" }));
    }
    if (points.length) stopRevealing = revealBesideSheet(map, L.latLng(points[0][1], points[0][0]));
  }

  // The address follows the map, except in an open sheet's history entry (ui.js,
  // standInHistory): it keeps the address of the entry under it, so that going back past it
  // moves nothing, and the entry gone, the address is the map's again. Signed out, it holds no
  // place until the map moves (see reload): a tab closed then, on a shared phone, reopens at
  // no spot of the account's.
  function showPlaceInAddress() {
    if (window.history.state?.sheet) return;
    const center = map.getCenter();
    const place = unkeptView !== null && currentBbox().join() === unkeptView ? window.location.pathname
      : `#${map.getZoom()}/${center.lat.toFixed(5)}/${center.lng.toFixed(5)}`;
    window.history.replaceState(window.history.state, "", place);
  }
  window.addEventListener("popstate", showPlaceInAddress);

  map.on("moveend", load);
  // Markers the open sheet covers leave the tab order (ui.js), wherever the map puts them.
  map.on("moveend", coverControls);
  new MutationObserver(coverControls).observe(map.getPane("markerPane"), { childList: true });
  // A link to a place (#zoom/lat/lon) followed on an open page moves the map there. The place is
  // read from the event: a load finishing meanwhile may already have rewritten location.hash.
  window.addEventListener("hashchange", (event) => {
    const place = viewFromHash(new URL(event.newURL).hash);
    if (place) map.setView([place.lat, place.lon], place.zoom);
  });
  // FORGOTTEN: the phone has just forgotten what the account saw (signed out): the view shown
  // then is drawn but not kept again, by this load or a later one (back online, another
  // language), which would leave the spot last looked at on the phone; a view moved to
  // afterwards is kept, as for anyone.
  const reload = ({ forgotten = false } = {}) => {
    if (forgotten) unkeptView = currentBbox().join();
    drawn = null;
    return load();
  };
  const isKindShown = (kind) => shownKinds.has(kind);
  return { map, load, setKindShown, isKindShown, showPending, highlight, basemapReady, reload };
}

// Where a form rising from the bottom puts the pin, in the part of the map it leaves in sight:
// low, so that the handle of a cone pointing north (the first one) is in sight too.
const PIN_HEIGHT_IN_SIGHT = 0.7;

// The part of the map (container pixels) that the header and the sheet leave in sight: above
// a sheet rising from the bottom (`rising`), beside a side panel (a phone held sideways, a wide
// screen: the wider side), else the whole map below the header.
export function uncoveredArea(map) {
  const mapBox = map.getContainer().getBoundingClientRect();
  const sheetBox = document.getElementById("sheet").getBoundingClientRect();
  const top = Math.max(mapBox.top, document.querySelector("header")?.getBoundingClientRect().bottom ?? 0);
  const acrossTheMap = sheetBox.width >= mapBox.width * 0.9;
  const bottom = acrossTheMap ? Math.min(mapBox.bottom, sheetBox.top) : mapBox.bottom;
  const [left, right] = acrossTheMap || !sheetBox.width ? [mapBox.left, mapBox.right]
    : sheetBox.left - mapBox.left >= mapBox.right - sheetBox.right
      ? [mapBox.left, Math.min(mapBox.right, sheetBox.left)]
      : [Math.max(mapBox.left, sheetBox.right), mapBox.right];
  return {
    left: left - mapBox.left, right: right - mapBox.left, top: top - mapBox.top, bottom: bottom - mapBox.top,
    rising: acrossTheMap && bottom < mapBox.bottom,
  };
}

// Where a point is put in sight (container pixels): low in the part a sheet rising from the
// bottom leaves, else in the middle of the part left in sight.
export function pointInSight(map) {
  const area = uncoveredArea(map);
  const height = area.rising ? PIN_HEIGHT_IN_SIGHT : 0.5;
  return L.point((area.left + area.right) / 2, area.top + (area.bottom - area.top) * height);
}

export function keepInSight(map, latlng) {
  map.setView(latlng, map.getZoom(), { animate: false });
  const size = map.getSize();
  const point = pointInSight(map);
  map.panBy([size.x / 2 - point.x, size.y / 2 - point.y], { animate: false });
}

// LATLNG kept in sight beside the sheet: once it is drawn, and again whenever it grows (a
// device's history shown, a form to say what is wrong with it), until the returned function
// is called, or the contributor moves the map themselves (a drag, a zoom, the keyboard's
// arrows, + and -): what they look at then is theirs to choose.
export function revealBesideSheet(map, latlng) {
  const observer = new ResizeObserver(() => revealInSight(map, latlng));
  const container = map.getContainer();
  const stop = () => {
    observer.disconnect();
    map.off("dragstart zoomstart", stop);
    container.removeEventListener("keydown", steered);
  };
  const steered = (event) => {
    if (STEERING_KEYS.has(event.key)) stop();
  };
  map.on("dragstart zoomstart", stop);
  container.addEventListener("keydown", steered);
  observer.observe(document.getElementById("sheet")); // observed first once laid out
  return stop;
}

// The keys Leaflet's keyboard handler pans and zooms the focused map with.
const STEERING_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "+", "-", "=", "_"]);

// LATLNG put in sight only if the header or the sheet covers it (a device tapped low on a
// phone, under the sheet its details open in): the map does not move on every tap.
function revealInSight(map, latlng, margin = 24) {
  const area = uncoveredArea(map);
  const point = map.latLngToContainerPoint(latlng);
  const inSight = point.x >= area.left + margin && point.x <= area.right - margin
    && point.y >= area.top + margin && point.y <= area.bottom - margin;
  if (!inSight) keepInSight(map, latlng);
}
