// The service worker: the app shell comes from the cache (so the app opens offline and fast),
// public photos once seen too. When the network returns it sends the outbox, even if the app
// was closed (Background Sync).
import { setToken } from "./api.js";
import { rememberSent, sendOperation } from "./operations.js";
import { createOutbox } from "./queue.js";
import { PHOTO_CACHE, getSetting, openStore } from "./store.js";

/* global SHELL_FILES, SHELL_VERSION */
const SHELL_CACHE = `vigie-shell-${SHELL_VERSION}`;
const PHOTO_RENDITION = /^\/api\/v1\/photos\/[^/]+\/(thumbnail|large)$/;

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

async function cacheFirst(request, cacheName) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && cacheName) (await caches.open(cacheName)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/") event.respondWith(staleWhileRevalidate(event, "/"));
  else if (url.pathname.startsWith("/map/") || url.pathname === "/manifest.webmanifest") event.respondWith(cacheFirst(request, null));
  // A photo fetched with the token is one not yet public: neither kept nor served from the
  // cache, where anyone holding the phone could read it without the token.
  else if (PHOTO_RENDITION.test(url.pathname) && !request.headers.has("Authorization")) event.respondWith(cacheFirst(request, PHOTO_CACHE));
});

self.addEventListener("sync", (event) => {
  if (event.tag !== "vigie-outbox") return;
  event.waitUntil((async () => {
    const db = openStore();
    const signedIn = await getSetting(db, "session");
    setToken(signedIn?.token ?? null);
    const owner = async () => signedIn?.userId ?? null;
    const results = await createOutbox(db, sendOperation, { owner }).flush();
    await rememberSent(db, results);
    if (!results.length) return;
    const count = results.filter(({ result }) => result).length;
    for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "outbox-sent", count });
  })());
});
