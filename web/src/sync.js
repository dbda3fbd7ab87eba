// Keeps the devices stored for offline use current: the sync feed (GET /sync) brings every
// device created, changed, deleted or withdrawn in the viewed areas since the last cursor.
import { ApiError, request } from "./api.js";
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

export async function syncCachedAreas(db) {
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
    for (const feature of data.features) await applyChange(db, feature);
    changes += data.features.length;
    since = data.next_cursor;
    await setSetting(db, "syncCursor", since);
    if (!data.has_more) return changes;
  }
}
