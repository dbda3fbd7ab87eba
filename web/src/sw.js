// The service worker: the app shell comes from the cache (so the app opens offline and fast),
// public photos once seen too (offline only), and the basemap once read (the parts of the PMTiles archive, or
// the tiles of a raster basemap from another host), so that a pin made offline goes on the
// streets already seen. When the network returns it sends the outbox, even if the app was
// closed (Background Sync).
import { setToken } from "./api.js";
import { rememberSent, sendOperation } from "./operations.js";
import { createOutbox } from "./queue.js";
import { BASEMAP_CACHE, PHOTO_CACHE, getSetting, openStore } from "./store.js";

/* global SHELL_FILES, SHELL_VERSION */
const SHELL_CACHE = `vigie-shell-${SHELL_VERSION}`;
const PHOTO_RENDITION = /^\/api\/v1\/photos\/[^/]+\/(thumbnail|large)$/;
const BASEMAP = "/basemap.pmtiles";
const BASEMAP_VERSION = `${BASEMAP}?version`; // the ETag of the archive whose parts are kept
// Parts of the basemap kept (the PMTiles header, directories, the tiles of the areas seen); the
// oldest go beyond.
const BASEMAP_PARTS_KEPT = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("vigie-shell-") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// The page from the cache at once when there is one, refreshed in the background for the next
// visit (new settings then apply on the visit after). A page of a newer version names bundles
// this worker does not hold: kept here, the app would not start offline should the network
// have cut the new worker's install; that worker keeps its own page.
async function staleWhileRevalidate(event, url) {
  const cached = await caches.match(url);
  const fresh = fetch(event.request).then(async (response) => {
    if (response.ok && (await namesOnlyShellFiles(response))) {
      await (await caches.open(SHELL_CACHE)).put(url, response.clone());
    }
    return response;
  });
  if (!cached) return fresh;
  event.waitUntil(fresh.catch(() => null));
  return cached;
}

async function namesOnlyShellFiles(page) {
  const names = (await page.clone().text()).match(/\/map\/[\w.-]+\.(?:js|css)/g) || [];
  return names.every((name) => SHELL_FILES.includes(name));
}

// The shell's files (kept at install), from the cache.
async function fromShell(request) {
  return (await caches.match(request)) || fetch(request);
}

// A public photo: asked again each time (a 304 while it stands), so that one a moderator
// deleted (a face, a window) no longer shows, and leaves the cache; offline, as last seen.
async function publicPhoto(request) {
  const cache = await caches.open(PHOTO_CACHE);
  let response;
  try {
    response = await fetch(request, { cache: "no-cache" });
  } catch (error) {
    const kept = await cache.match(request);
    if (!kept) throw error;
    return kept;
  }
  if (response.ok) await cache.put(request, response.clone());
  else if (response.status === 404 || response.status === 410) await cache.delete(request);
  return response;
}

// A range of the PMTiles basemap, from the network while there is one, else as last read.
// The Cache API keeps no partial answer (206): each range is kept as a whole answer under a
// URL naming it, and given back as the 206 it was. A new archive (another ETag) replaces
// every range kept of the old one, which it would not match.
async function basemapRange(request) {
  const range = request.headers.get("Range");
  if (!range) return fetch(request);
  const key = `${BASEMAP}?range=${encodeURIComponent(range)}`;
  const cache = await caches.open(BASEMAP_CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const kept = await cache.match(key);
    if (!kept) throw error;
    return new Response(await kept.arrayBuffer(), { status: 206, headers: kept.headers });
  }
  if (response.status === 206) {
    const etag = response.headers.get("ETag") || "";
    const kept = await cache.match(BASEMAP_VERSION);
    if (!kept || (await kept.text()) !== etag) {
      for (const old of await cache.keys()) await cache.delete(old);
      await cache.put(BASEMAP_VERSION, new Response(etag));
    }
    const headers = {};
    for (const name of ["Content-Type", "Content-Range", "ETag"]) if (response.headers.has(name)) headers[name] = response.headers.get(name);
    await keepBasemapPart(cache, key, new Response(await response.clone().arrayBuffer(), { headers }));
  }
  return response;
}

// Hosts of raster tiles that refused CORS: their tiles are fetched as the page asked, not kept.
const CORS_REFUSED = new Set();

// A tile of a raster basemap from another host (OpenStreetMap's by default), from the network
// while there is one, else as last fetched. It is asked for with CORS so that it can be kept
// (an opaque answer would count megabytes against the phone's storage quota); when that
// fails, the page's own request tells a host refusing CORS (whose tiles are then not kept)
// from no network (the tile kept is given).
async function rasterTile(request) {
  const { origin } = new URL(request.url);
  const cache = await caches.open(BASEMAP_CACHE);
  if (!CORS_REFUSED.has(origin)) {
    try {
      const response = await fetch(request.url, { mode: "cors", credentials: "omit" });
      if (response.ok) await keepBasemapPart(cache, request.url, response.clone());
      return response;
    } catch {
      // No network, or no CORS: the request below tells which.
    }
  }
  try {
    const response = await fetch(request);
    CORS_REFUSED.add(origin);
    return response;
  } catch (error) {
    const kept = await cache.match(request.url);
    if (!kept) throw error;
    return kept;
  }
}

let basemapPartsPut = 0;

async function keepBasemapPart(cache, key, response) {
  await cache.put(key, response);
  basemapPartsPut += 1;
  if (basemapPartsPut % 100 === 0) await trimBasemapCache(cache);
}

// The oldest parts beyond BASEMAP_PARTS_KEPT go (the cache lists its keys in the order put).
async function trimBasemapCache(cache) {
  const parts = (await cache.keys()).filter((part) => !part.url.endsWith(BASEMAP_VERSION));
  for (const old of parts.slice(0, Math.max(0, parts.length - BASEMAP_PARTS_KEPT))) await cache.delete(old);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET") return;
  if (url.origin !== self.location.origin) {
    // The only images the app reads from another host are the raster basemap's tiles.
    if (request.destination === "image") event.respondWith(rasterTile(request));
    return;
  }
  if (request.mode === "navigate" && url.pathname === "/") event.respondWith(staleWhileRevalidate(event, "/"));
  else if (url.pathname.startsWith("/map/") || url.pathname === "/manifest.webmanifest") event.respondWith(fromShell(request));
  else if (url.pathname === BASEMAP) event.respondWith(basemapRange(request));
  // A photo fetched with the token is one not yet public: neither kept nor served from the
  // cache, where anyone holding the phone could read it without the token.
  else if (PHOTO_RENDITION.test(url.pathname) && !request.headers.has("Authorization")) event.respondWith(publicPhoto(request));
});

self.addEventListener("sync", (event) => {
  if (event.tag !== "vigie-outbox") return;
  event.waitUntil((async () => {
    const db = openStore();
    const signedIn = await getSetting(db, "session");
    setToken(signedIn?.token ?? null);
    const owner = async () => signedIn?.userId ?? null;
    // Every item with the token of the session the pass began with (operations.js).
    const send = (item, progress) => sendOperation(item, progress, signedIn?.token ?? null);
    const results = await createOutbox(db, send, { owner }).flush();
    // Kept only if the session is still the one the items were sent for (none signed out).
    await rememberSent(db, results, (await getSetting(db, "session"))?.userId ?? null);
    if (!results.length) return;
    const count = results.filter(({ result }) => result).length;
    for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "outbox-sent", count });
  })());
});
