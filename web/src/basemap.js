// The basemap under the devices, as the server configures it: raster tiles from a URL template,
// or the PMTiles archive Vigie serves itself (read with range requests, drawn on canvas). The
// vector renderer is loaded only when that basemap is configured.
import L from "leaflet";

export async function addBasemap(map, { type, url, attribution }) {
  if (type === "pmtiles") {
    // protomaps-leaflet extends the global Leaflet of a classic page.
    globalThis.L = L;
    const { leafletLayer } = await import("protomaps-leaflet");
    return leafletLayer({ url, flavor: "light", attribution, maxZoom: 20 }).addTo(map);
  }
  return L.tileLayer(url, { attribution, maxNativeZoom: 19, maxZoom: 20 }).addTo(map);
}
