// Keeps the devices stored for offline use current: the sync feed (GET /sync) brings every
// device created, changed, deleted or withdrawn in the viewed areas since the last cursor.
import { ApiError, currentToken, request } from "./api.js";
import { getSetting, putDevice, removeDevice, setSetting } from "./store.js";

const PAGE = 500;

// The smallest box around every viewed area.
export function unionBbox(areas) {
  return [
    Math.min(...areas.map((a) => a[0])), Math.min(...areas.map((a) => a[1])),
    Math.max(...areas.map((a) => a[2])), Math.max(...areas.map((a) => a[3])),
  ];
}

export async function applyChange(db, feature) {
  if (feature.properties?.deleted_at || feature.properties?.withdrawn || !feature.geometry) await removeDevice(db, feature.id);
  else await putDevice(db, feature);
}

// A pass stops writing once the session it started with is over: a sign-out meanwhile has
// emptied the store, and what this pass read (an account's pins awaiting review) would go
// back into it for the next person holding the phone.
export async function syncCachedAreas(db) {
  const token = currentToken();
  const areas = await getSetting(db, "areas");
  if (!areas?.length) return 0;
  const bbox = unionBbox(areas).join(",");
  let since = await getSetting(db, "syncCursor");
  let changes = 0;
  for (;;) {
    const params = new URLSearchParams({ bbox, limit: String(PAGE), ...(since ? { since } : {}) });
    let data;
    try {
      ({ data } = await request("GET", `sync?${params}`));
    } catch (error) {
      // A cursor the server no longer knows (the database was restored elsewhere): start over.
      if (!(since && error instanceof ApiError && error.status === 400)) throw error;
      since = null;
      await setSetting(db, "syncCursor", null);
      continue;
    }
    for (const feature of data.features) {
      if (currentToken() !== token) return changes;
      await applyChange(db, feature);
      changes += 1;
    }
    since = data.next_cursor;
    if (currentToken() !== token) return changes;
    await setSetting(db, "syncCursor", since);
    if (!data.has_more) return changes;
  }
}
