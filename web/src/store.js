// What the app keeps on the phone, in IndexedDB: settings (the session, the sync cursor), the
// outbox of writes not sent yet, and the devices of recently viewed areas for offline use.
import { openDB } from "idb";

// Devices kept for offline use: those of the areas most recently viewed, up to this many.
export const MAX_CACHED_DEVICES = 5000;
const MAX_AREAS = 20;
// The service worker's caches of photos seen and of the basemap's parts read (sw.js).
export const PHOTO_CACHE = "vigie-photos";
export const BASEMAP_CACHE = "vigie-basemap";

export function openStore(name = "vigie") {
  return openDB(name, 1, {
    upgrade(db) {
      db.createObjectStore("settings");
      db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      db.createObjectStore("devices", { keyPath: "id" }).createIndex("seen", "seen");
    },
  });
}

export const getSetting = async (db, key) => (await db).get("settings", key);
export const setSetting = async (db, key, value) => (await db).put("settings", value, key);
export const deleteSetting = async (db, key) => (await db).delete("settings", key);

// Keep the devices of a viewed area, and remember the area for the sync feed; nothing more
// once STILL() (the session they were read in goes on) turns false.
export async function keepArea(db, bbox, features, still = () => true) {
  const store = await db;
  const seen = Date.now();
  if (!still()) return;
  const tx = store.transaction("devices", "readwrite");
  for (const feature of features) tx.store.put({ id: feature.id, seen, feature });
  await tx.done;
  const areas = (await getSetting(db, "areas")) || [];
  if (!still()) return;
  const others = areas.filter((area) => area.join() !== bbox.join());
  await setSetting(db, "areas", [bbox, ...others].slice(0, MAX_AREAS));
  await forgetOldestDevices(store);
}

async function forgetOldestDevices(store) {
  let excess = (await store.count("devices")) - MAX_CACHED_DEVICES;
  if (excess <= 0) return;
  const tx = store.transaction("devices", "readwrite");
  for (let cursor = await tx.store.index("seen").openCursor(); cursor && excess > 0; cursor = await cursor.continue()) {
    cursor.delete();
    excess -= 1;
  }
  await tx.done;
}

export async function putDevice(db, feature) {
  await (await db).put("devices", { id: feature.id, seen: Date.now(), feature });
}

export async function removeDevice(db, id) {
  await (await db).delete("devices", id);
}

export const contains = ([west, south, east, north], [lon, lat]) =>
  lon >= west && lon <= east && lat >= south && lat <= north;

export async function cachedDevicesIn(db, bbox) {
  const rows = await (await db).getAll("devices");
  return rows.map((row) => row.feature).filter((feature) => contains(bbox, feature.geometry.coordinates));
}

// What the phone kept for the account signing out: the devices it saw (its own pins awaiting
// review among them, which no one else may see), the areas they came from and the sync feed's
// place in them (and the list of pins earlier versions kept), the photos seen (earlier
// versions kept those fetched with the token too), and the basemap of the places looked at. The next account starts afresh; the outbox
// keeps the account's unsent items for its return (queue.js).
export async function forgetAccountData(db) {
  const store = await db;
  await store.clear("devices");
  for (const key of ["myPins", "areas", "syncCursor"]) await store.delete("settings", key);
  await globalThis.caches?.delete(PHOTO_CACHE);
  await globalThis.caches?.delete(BASEMAP_CACHE);
}
