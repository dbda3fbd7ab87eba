// The sync feed keeps the devices kept for offline use current, deletions and withdrawals included.
import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { cachedDevicesIn, getSetting, keepArea, openStore, setSetting } from "../src/store.js";
import { setToken } from "../src/api.js";
import { syncCachedAreas, unionBbox } from "../src/sync.js";

const point = (id, lon, lat, properties = {}) => ({
  type: "Feature", id, geometry: { type: "Point", coordinates: [lon, lat] }, properties: { kind: "camera", ...properties },
});

test("pages of the feed are applied in turn, and the cursor is kept for next time", async () => {
  const db = openStore("sync-test");
  await keepArea(db, [2.3, 48.8, 2.4, 48.9], [point("kept", 2.35, 48.85), point("deleted", 2.36, 48.85), point("withdrawn", 2.37, 48.85)]);
  const pages = {
    "": { features: [point("new", 2.31, 48.81), point("kept", 2.352, 48.852, { operator: "Ville" })], next_cursor: "c1", has_more: true },
    c1: {
      features: [
        point("deleted", 2.36, 48.85, { deleted_at: "2026-12-01T10:00:00Z" }),
        { type: "Feature", id: "withdrawn", geometry: null, properties: { deleted_at: "2026-12-01T10:00:00Z", withdrawn: true } },
      ],
      next_cursor: "c2",
      has_more: false,
    },
  };
  const asked = [];
  globalThis.fetch = async (url) => {
    const params = new URL(url, "http://vigie.test").searchParams;
    asked.push(Object.fromEntries(params));
    return new Response(JSON.stringify(pages[params.get("since") || ""]), { headers: { "Content-Type": "application/geo+json" } });
  };
  assert.equal(await syncCachedAreas(db), 4);
  assert.deepEqual(asked.map((a) => [a.since, a.bbox]), [[undefined, "2.3,48.8,2.4,48.9"], ["c1", "2.3,48.8,2.4,48.9"]]);
  const kept = await cachedDevicesIn(db, [2.3, 48.8, 2.4, 48.9]);
  assert.deepEqual(kept.map((f) => f.id).sort(), ["kept", "new"]);
  assert.equal(kept.find((f) => f.id === "kept").properties.operator, "Ville");
  assert.equal(await getSetting(db, "syncCursor"), "c2");
});

test("the feed covers every viewed area at once", () => {
  assert.deepEqual(unionBbox([[2.3, 48.8, 2.4, 48.9], [4.8, 45.7, 4.9, 45.8]]), [2.3, 45.7, 4.9, 48.9]);
});

test("a cursor the server refuses (a restore elsewhere) is dropped and the feed read from the start", async () => {
  const db = openStore("sync-restart-test");
  await keepArea(db, [2.3, 48.8, 2.4, 48.9], [point("kept", 2.35, 48.85)]);
  await setSetting(db, "syncCursor", "from-the-old-server");
  const asked = [];
  globalThis.fetch = async (url) => {
    const since = new URL(url, "http://vigie.test").searchParams.get("since");
    asked.push(since);
    if (since === "from-the-old-server") {
      const problem = { type: "about:blank", title: "Bad Request", status: 400, detail: "sync again from the start." };
      return new Response(JSON.stringify(problem), { status: 400, headers: { "Content-Type": "application/problem+json" } });
    }
    const page = { features: [point("restored", 2.31, 48.81)], next_cursor: "fresh", has_more: false };
    return new Response(JSON.stringify(page), { headers: { "Content-Type": "application/geo+json" } });
  };
  assert.equal(await syncCachedAreas(db), 1);
  assert.deepEqual(asked, ["from-the-old-server", null]);
  assert.equal(await getSetting(db, "syncCursor"), "fresh");
});

test("a pass whose session ends meanwhile (a sign-out) keeps nothing of what it read", async () => {
  const db = openStore("sync-signed-out-test");
  await keepArea(db, [2.3, 48.8, 2.4, 48.9], [point("public", 2.35, 48.85)]);
  setToken("carol's token");
  globalThis.fetch = async () => {
    setToken(null); // signed out while the answer was on its way
    const page = { features: [point("carol's pending pin", 2.31, 48.81, { review_status: "pending" })], next_cursor: "c1", has_more: false };
    return new Response(JSON.stringify(page), { headers: { "Content-Type": "application/geo+json" } });
  };
  assert.equal(await syncCachedAreas(db), 0);
  assert.deepEqual((await cachedDevicesIn(db, [2.3, 48.8, 2.4, 48.9])).map((f) => f.id), ["public"]);
  assert.equal(await getSetting(db, "syncCursor"), undefined);
});

test("an area read in a session that ended meanwhile is not kept", async () => {
  const db = openStore("keep-signed-out-test");
  await keepArea(db, [2.3, 48.8, 2.4, 48.9], [point("pending", 2.35, 48.85)], () => false);
  assert.deepEqual(await cachedDevicesIn(db, [2.3, 48.8, 2.4, 48.9]), []);
  assert.equal(await getSetting(db, "areas"), undefined);
});
