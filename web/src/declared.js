// Declared sites still to check: the sites of official camera lists where contributors have not
// found (all) the declared devices yet (GET /api/v1/declared/sites, docs/declared.md), drawn as
// dashed rings under the devices from street level, each with what the list says.
import L from "leaflet";
import { request } from "./api.js";
import { t } from "./i18n.js";
import { element } from "./ui.js";

const MIN_ZOOM = 14;
const MAX_SITES = 500;
const STATUSES = "unverified,partially_verified";

function siteDetails(props) {
  const found = t("declaredFound", { matched: props.matched, declared: props.declared_count });
  return element("div", { class: "declared-popup" }, [
    element("strong", {}, [t(props.status === "unverified" ? "declaredToCheck" : "declaredPartly")]),
    element("p", {}, [props.address || props.source_id]),
    element("p", {}, [found]),
    element("p", { class: "declared-source" }, [t("declaredIn", { dataset: props.dataset, id: props.source_id })]),
  ]);
}

// HELD_FOR_TAP(redraw, ...args): whether a redraw must wait for a tap under way (map.js): a ring
// drawn again between the press and the release of a tap is a new element, and the tap is lost.
export function createDeclaredLayer(map, { heldForTap }) {
  const layer = L.layerGroup().addTo(map);
  let inFlight = null;
  let drawn = null; // the sites drawn, as their listing gave them

  // Drawn again only when they changed: a ring drawn again closes the popup its tap opened.
  function drawSites(features) {
    const key = JSON.stringify(features);
    if (key === drawn || heldForTap(drawSites, features)) return;
    drawn = key;
    layer.clearLayers();
    for (const feature of features) {
      const [lon, lat] = feature.geometry.coordinates;
      const props = feature.properties;
      const ring = L.circle([lat, lon], {
        radius: props.match_distance_m,
        color: "#7a4f00",
        weight: 2,
        dashArray: "4 4",
        fillOpacity: 0.08,
        className: `declared-site declared-${props.status}`,
      });
      ring.bindPopup(() => siteDetails(props));
      layer.addLayer(ring);
    }
  }

  async function load() {
    if (inFlight) inFlight.abort();
    if (map.getZoom() < MIN_ZOOM) {
      drawSites([]);
      return;
    }
    inFlight = new AbortController();
    const bounds = map.getBounds();
    const bbox = [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
      .map((v) => Number(v.toFixed(6)));
    const params = new URLSearchParams({ status: STATUSES, bbox: bbox.join(","), limit: String(MAX_SITES) });
    try {
      const { data } = await request("GET", `declared/sites?${params}`, { signal: inFlight.signal, headers: { Accept: "application/geo+json" } });
      drawSites(data.features);
    } catch (error) {
      // Offline or refused: the sites to check are a help, not the map; none is drawn.
      if (error.name !== "AbortError") drawSites([]);
    }
  }

  map.on("moveend", load);
  load();
  return { layer, load };
}
