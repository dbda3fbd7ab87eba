// The web map: devices (and server-side clusters of them) from the GeoJSON listing in
// cluster mode, an icon per kind, view cones, a popup per device and a filter by kind.
import L from "leaflet";

const DEVICES_URL = "/api/v1/devices";
const KINDS_URL = "/api/v1/kinds";
const MAX_FEATURES = 2000;
const CONE_RADIUS_M = 30;
const DEFAULT_VIEW = { lat: 48.8566, lon: 2.3522, zoom: 13 };

// Colour and glyph (an SVG path on a 24-unit square) for each kind of device.
const KIND_STYLES = {
  camera: { color: "#b3261e", path: "M4 8h11l5-3v12l-5-3H4z" },
  alpr: { color: "#6a1b9a", path: "M3 8h18v8H3zM6 11h2v2H6zm4 0h4v2h-4zm6 0h2v2h-2z" },
  facial_recognition: { color: "#ad1457", path: "M12 4a6 7 0 1 0 0 14a6 7 0 1 0 0-14zM9 10h1v1H9zm5 0h1v1h-1zm-4 4h4v1h-4z" },
  microphone: { color: "#1565c0", path: "M10 4h4v9h-4zM7 11h2a3 3 0 0 0 6 0h2a5 5 0 0 1-4 5v3h-2v-3a5 5 0 0 1-4-5z" },
  gunshot_detector: { color: "#e65100", path: "M12 3l2 6h6l-5 4 2 7-5-4-5 4 2-7-5-4h6z" },
  sensor: { color: "#2e7d32", path: "M12 10a2 2 0 1 0 0 4a2 2 0 1 0 0-4zM7 7a7 7 0 0 0 0 10l1.4-1.4a5 5 0 0 1 0-7.2zm10 0-1.4 1.4a5 5 0 0 1 0 7.2L17 17a7 7 0 0 0 0-10z" },
};
const FALLBACK_STYLE = { color: "#455a64", path: "M12 6a6 6 0 1 0 0 12a6 6 0 1 0 0-12z" };

// Properties shown in a device's popup, in this order, with their labels.
const POPUP_FIELDS = [
  ["camera_type", "Camera type"],
  ["mount", "Mount"],
  ["direction", "Direction (°)"],
  ["angle", "Field of view (°)"],
  ["height", "Height (m)"],
  ["zone", "Zone"],
  ["surveillance", "Watches"],
  ["operator", "Operator"],
  ["operator_type", "Operator type"],
  ["status", "Status"],
  ["observed_at", "Observed"],
  ["notes", "Notes"],
  ["source", "Source"],
];

const styleOf = (kind) => KIND_STYLES[kind] || FALLBACK_STYLE;
const label = (kind) => kind.replaceAll("_", " ");

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = String(text);
  return node;
}

function deviceIcon(kind) {
  const { color, path } = styleOf(kind);
  return L.divIcon({
    className: "",
    html: `<span class="pin" style="background:${color}"><svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="${path}"/></svg></span>`,
    iconSize: [26, 26],
    iconAnchor: [13, 13],
    popupAnchor: [0, -12],
  });
}

// 950, 1.2k, 15k: a count that fits in its circle.
function shortCount(count) {
  if (count < 1000) return String(count);
  return `${(count / 1000).toFixed(count < 10000 ? 1 : 0)}k`;
}

function clusterIcon(count) {
  const size = Math.round(22 + 6 * Math.log10(count));
  return L.divIcon({
    className: "",
    html: `<span class="cluster" style="width:${size}px;height:${size}px">${shortCount(count)}</span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

// A view cone: the sector seen from the device, CONE_RADIUS_M long, `angle` degrees wide.
function viewCone(lat, lon, direction, angle, color) {
  const metresPerDegree = 111320;
  const points = [[lat, lon]];
  const steps = Math.max(4, Math.round(angle / 10));
  for (let i = 0; i <= steps; i += 1) {
    const bearing = ((direction - angle / 2 + (angle * i) / steps) * Math.PI) / 180;
    points.push([
      lat + (CONE_RADIUS_M * Math.cos(bearing)) / metresPerDegree,
      lon + (CONE_RADIUS_M * Math.sin(bearing)) / (metresPerDegree * Math.cos((lat * Math.PI) / 180)),
    ]);
  }
  return L.polygon(points, {
    color, weight: 1, fillOpacity: 0.2, interactive: false, className: "view-cone",
  });
}

function devicePopup(feature) {
  const props = feature.properties;
  const box = element("div", { class: "device-popup" });
  box.append(element("h2", {}, label(props.kind)));
  const list = element("dl");
  for (const [name, title] of POPUP_FIELDS) {
    const value = props[name];
    if (value === null || value === undefined || value === "") continue;
    list.append(element("dt", {}, title));
    const cell = element("dd");
    if (name === "source") {
      cell.append(element("a", { href: value, rel: "noopener noreferrer nofollow" }, value));
    } else {
      cell.textContent = Array.isArray(value) ? value.join(", ") : String(value);
    }
    list.append(cell);
  }
  list.append(element("dt", {}, "Id"), element("dd", {}, feature.id));
  box.append(list);
  const photos = Array.isArray(props.photos) ? props.photos : [];
  if (photos.length) {
    const strip = element("div", { class: "photos" });
    photos.forEach((photo, index) => {
      const link = element("a", { href: photo.large, target: "_blank", rel: "noopener" });
      const alt = `Photo ${index + 1} of this ${label(props.kind)}`;
      link.append(element("img", { src: photo.thumbnail, alt, width: 72, height: 72, loading: "lazy" }));
      strip.append(link);
    });
    box.append(strip);
  }
  return box;
}

function clusterSummary(props) {
  return Object.entries(props.kinds)
    .map(([kind, count]) => `${count} ${label(kind)}`)
    .join(", ");
}

function viewFromHash(hash) {
  const [zoom, lat, lon] = hash.slice(1).split("/").map(Number);
  if ([zoom, lat, lon].every(Number.isFinite)) return { zoom, lat, lon };
  return DEFAULT_VIEW;
}

const view = viewFromHash(window.location.hash);
const map = L.map("map", { minZoom: 2, maxZoom: 20, zoomControl: true, keyboard: true })
  .setView([view.lat, view.lon], view.zoom);
L.control.scale({ imperial: false }).addTo(map);
map.attributionControl.addAttribution("Devices © Vigie contributors");
const devicesLayer = L.layerGroup().addTo(map);
const status = document.getElementById("status");
const shownKinds = new Set();
const kindBoxes = {};
let openDeviceId = null;
let drawnFeatures = null;
let inFlight = null;

function draw(collection) {
  // Moving the map (a popup panning into view, too) redraws it: the open popup stays open.
  const reopen = openDeviceId;
  devicesLayer.clearLayers();
  let devices = 0;
  let clusters = 0;
  for (const feature of collection.features) {
    const [lon, lat] = feature.geometry.coordinates;
    const props = feature.properties;
    if (props.cluster) {
      clusters += 1;
      devices += props.count;
      const title = `Cluster of ${props.count} devices: ${clusterSummary(props)}`;
      const marker = L.marker([lat, lon], { icon: clusterIcon(props.count), title, riseOnHover: true });
      marker.on("click", () => {
        if (map.getZoom() < map.getMaxZoom()) map.setView([lat, lon], Math.min(map.getZoom() + 2, map.getMaxZoom()));
        else marker.bindPopup(title).openPopup();
      });
      devicesLayer.addLayer(marker);
      continue;
    }
    devices += 1;
    const { color } = styleOf(props.kind);
    if (Array.isArray(props.direction) && props.angle) {
      for (const direction of props.direction) devicesLayer.addLayer(viewCone(lat, lon, direction, props.angle, color));
    }
    const marker = L.marker([lat, lon], { icon: deviceIcon(props.kind), title: label(props.kind), riseOnHover: true });
    marker.bindPopup(() => devicePopup(feature), { maxWidth: 320 });
    marker.on("popupopen", () => { openDeviceId = feature.id; });
    marker.on("popupclose", () => { if (openDeviceId === feature.id) openDeviceId = null; });
    devicesLayer.addLayer(marker);
    if (feature.id === reopen) marker.openPopup();
  }
  status.textContent = `${devices} device${devices === 1 ? "" : "s"} in view` +
    (clusters ? ` (${clusters} cluster${clusters === 1 ? "" : "s"}; click one to zoom in)` : "");
}

async function load() {
  if (inFlight) inFlight.abort();
  inFlight = new AbortController();
  const bounds = map.getBounds();
  const clamp = (value, limit) => Math.max(-limit, Math.min(limit, value));
  const bbox = [
    clamp(bounds.getWest(), 180), clamp(bounds.getSouth(), 90),
    clamp(bounds.getEast(), 180), clamp(bounds.getNorth(), 90),
  ].map((v) => v.toFixed(6)).join(",");
  const params = new URLSearchParams({ cluster: "true", zoom: String(map.getZoom()), bbox, limit: String(MAX_FEATURES) });
  if (shownKinds.size === 0) {
    devicesLayer.clearLayers();
    drawnFeatures = null;
    status.textContent = "No kind selected: tick at least one kind to see devices.";
    return;
  }
  if (shownKinds.size < Object.keys(kindBoxes).length) params.set("kind", [...shownKinds].join(","));
  try {
    const response = await fetch(`${DEVICES_URL}?${params}`, { signal: inFlight.signal, headers: { Accept: "application/geo+json" } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const collection = await response.json();
    // The same devices as on screen (a small pan): keep the markers, and an open popup, as is.
    const features = JSON.stringify(collection.features);
    if (features !== drawnFeatures) {
      draw(collection);
      drawnFeatures = features;
    }
    window.history.replaceState(null, "", `#${map.getZoom()}/${map.getCenter().lat.toFixed(5)}/${map.getCenter().lng.toFixed(5)}`);
  } catch (error) {
    if (error.name === "AbortError") return;
    status.textContent = `Devices could not be loaded: ${error.message}.`;
  }
}

async function buildKindFilter() {
  const container = document.getElementById("kinds");
  const response = await fetch(KINDS_URL);
  const { kinds } = await response.json();
  for (const kind of kinds) {
    const id = `kind-${kind.name}`;
    const box = element("input", { type: "checkbox", id, name: "kind", value: kind.name });
    box.checked = true;
    shownKinds.add(kind.name);
    box.addEventListener("change", () => {
      if (box.checked) shownKinds.add(kind.name);
      else shownKinds.delete(kind.name);
      load();
    });
    kindBoxes[kind.name] = box;
    const swatch = element("span", { class: "pin", style: `background:${styleOf(kind.name).color};width:14px;height:14px`, "aria-hidden": "true" });
    const text = element("label", { for: id, title: kind.description });
    text.append(box, swatch, document.createTextNode(label(kind.name)));
    container.append(text);
  }
}

map.on("moveend", load);
// A link to a place (#zoom/lat/lon) followed on an open page moves the map there. The place is
// read from the event: a load finishing meanwhile may already have rewritten location.hash.
window.addEventListener("hashchange", (event) => {
  const place = viewFromHash(new URL(event.newURL).hash);
  map.setView([place.lat, place.lon], place.zoom);
});
buildKindFilter().then(load, (error) => {
  status.textContent = `The kinds of device could not be loaded: ${error.message}.`;
});
