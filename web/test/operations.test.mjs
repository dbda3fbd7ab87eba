// Sending outbox items: an edit made offline goes out only onto the device as it was seen.
import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, setToken } from "../src/api.js";
import { contentOf, devicesChangedOnPhone, handOverUpload, rememberSent, sendOperation } from "../src/operations.js";
import { openStore } from "../src/store.js";

const seen = {
  id: "d1",
  geometry: { type: "Point", coordinates: [2.35, 48.85] },
  properties: { kind: "camera", operator: null, updated_at: "2026-12-01T00:00:00+00:00", photos: [] },
};

function serverWith(current) {
  const calls = [];
  globalThis.fetch = async (url, { method, headers }) => {
    calls.push({ method, url, headers });
    const body = method === "GET" ? current : { id: "d1", properties: { operator: "Ville" } };
    return new Response(JSON.stringify(body), { headers: { "Content-Type": "application/geo+json", ETag: '"v7"' } });
  };
  return calls;
}

const offlineEdit = { type: "edit", deviceId: "d1", etag: null, seenContent: contentOf(seen), key: "k1", patch: { properties: { operator: "Ville" } } };

test("an edit made offline takes the current ETag of a device unchanged since", async () => {
  // A photo added meanwhile, and the sync feed's tombstone fields, are not changes of it.
  const photographed = { ...seen, properties: { deleted_at: null, ...seen.properties, photos: [{ id: "p" }] } };
  const calls = serverWith(photographed);
  const result = await sendOperation(offlineEdit, async () => null);
  assert.equal(result.properties.operator, "Ville");
  assert.deepEqual(calls.map((c) => c.method), ["GET", "PATCH"]);
  assert.equal(calls[1].headers["If-Match"], '"v7"');
  assert.equal(calls[1].headers["Idempotency-Key"], "k1");
});

test("an offline edit keeps the ETag it was checked against: sent again, it is the same request", async () => {
  // The first PATCH reached the server, its answer was lost: the device now holds the edit,
  // which a second check would take for a change made by someone else.
  const calls = serverWith(seen);
  const item = { ...offlineEdit };
  await assert.rejects(sendOperation(item, async (changes) => {
    Object.assign(item, changes);
    throw new Error("the answer was lost");
  }));
  assert.equal(item.etag, '"v7"');
  calls.length = 0;
  await sendOperation(item, async () => null);
  assert.deepEqual(calls.map((c) => [c.method, c.headers["If-Match"], c.headers["Idempotency-Key"]]), [["PATCH", '"v7"', "k1"]]);
});

test("times, votes and reviews are not changes of what an edit is about", async () => {
  // Kept before times became days (instants), then photographed and confirmed on a later day.
  const kept = { ...seen, properties: { ...seen.properties, updated_at: "2026-12-01T10:31:07.123+00:00", observed_at: "2026-11-30T09:00:00+00:00" } };
  const now = { ...seen, properties: { ...seen.properties, updated_at: "2026-12-03T00:00:00+00:00", observed_at: "2026-11-30T00:00:00+00:00",
    verification: "confirmed", last_confirmed_at: "2026-12-03T00:00:00+00:00", photos: [{ id: "p" }] } };
  const calls = serverWith(now);
  await sendOperation({ ...offlineEdit, seenContent: contentOf(kept) }, async () => null);
  assert.deepEqual(calls.map((c) => c.method), ["GET", "PATCH"]);
});

test("an edit queued by an earlier version of the app is checked by its updated_at's day", async () => {
  const { seenContent, ...queued } = offlineEdit;
  const calls = serverWith(seen);
  await sendOperation({ ...queued, seenUpdatedAt: "2026-12-01T10:31:07.123+00:00" }, async () => null);
  assert.deepEqual(calls.map((c) => c.method), ["GET", "PATCH"]);
  await assert.rejects(sendOperation({ ...queued, seenUpdatedAt: "2026-11-28T10:00:00+00:00" }, async () => null),
    (error) => error instanceof ApiError && error.status === 412);
});

test("an edit made offline onto a pin merged since into another device is refused as merged", async () => {
  // The server answers the merged pin's URL with the kept device (a 308 followed).
  const calls = serverWith({ ...seen, id: "kept" });
  await assert.rejects(sendOperation(offlineEdit, async () => null),
    (error) => error instanceof ApiError && error.status === 410 && error.problem.merged_into === "kept");
  assert.deepEqual(calls.map((c) => c.method), ["GET"]);
});

test("an edit made offline onto a device changed since is refused, not sent", async () => {
  // Changed the same day: its updated_at (a day) is the same, its content is not.
  for (const changed of [
    { ...seen, properties: { ...seen.properties, operator: "RATP" } },
    { ...seen, geometry: { type: "Point", coordinates: [2.36, 48.85] } },
  ]) {
    const calls = serverWith(changed);
    await assert.rejects(sendOperation(offlineEdit, async () => null), (error) => error instanceof ApiError && error.status === 412);
    assert.deepEqual(calls.map((c) => c.method), ["GET"]);
  }
});

test("an edit made online keeps the ETag it was made against", async () => {
  const calls = serverWith(seen);
  await sendOperation({ ...offlineEdit, etag: '"v6"' }, async () => null);
  assert.deepEqual(calls.map((c) => [c.method, c.headers["If-Match"]]), [["PATCH", '"v6"']]);
});

test("a vote brings the photo of the pin it stands for, uploaded first when kept offline", async () => {
  const calls = [];
  globalThis.fetch = async (url, { method, headers, body }) => {
    calls.push({ method, url, headers, body });
    const answer = url.endsWith("/photos") ? { id: "photo-1" } : { id: "vote-1" };
    return new Response(JSON.stringify(answer), { status: 201, headers: { "Content-Type": "application/json" } });
  };
  const progress = [];
  const vote = { type: "confirm", deviceId: "d1", verdict: "still_there", key: "k2", photo: new Blob(["jpeg"], { type: "image/jpeg" }), photoId: null };
  await sendOperation(vote, async (made) => { progress.push(made); Object.assign(vote, made); });
  assert.deepEqual(calls.map((c) => [c.method, c.url]), [["POST", "/api/v1/photos"], ["POST", "/api/v1/devices/d1/confirmations"]]);
  assert.deepEqual(progress, [{ photoId: "photo-1", photo: null }]);
  assert.deepEqual(JSON.parse(calls[1].body), { verdict: "still_there", photo_id: "photo-1" });
  // Sent again after a lost answer: the photo is not uploaded twice.
  await sendOperation(vote, async () => null);
  assert.deepEqual(calls.slice(2).map((c) => c.url), ["/api/v1/devices/d1/confirmations"]);
});

test("the outbox's edits and withdrawals show each device as it will be once sent", () => {
  const shown = new Map([["d1", seen], ["d2", { ...seen, id: "d2" }]]);
  const moved = { type: "Point", coordinates: [2.36, 48.86] };
  const items = [
    { type: "pin", feature: { id: "p1" } },
    { type: "edit", deviceId: "d1", kind: "camera", state: "pending", patch: { type: "Feature", geometry: moved, properties: { operator: "Ville" } } },
    { type: "confirm", deviceId: "d2", verdict: "still_there" },
    { type: "edit", deviceId: "d1", kind: "camera", state: "refused", patch: { type: "Feature", properties: { notes: "Two lenses" } } },
    { type: "withdraw", deviceId: "d2", kind: "camera", state: "pending" },
    { type: "edit", deviceId: "elsewhere", kind: "microphone", state: "pending", patch: { type: "Feature", geometry: moved, properties: {} } },
    { type: "edit", deviceId: "unseen", kind: "camera", state: "pending", patch: { type: "Feature", properties: { notes: "x" } } },
  ];
  const changed = devicesChangedOnPhone(items, shown);
  assert.deepEqual([...changed.keys()], ["d1", "d2", "elsewhere"]);
  const edited = changed.get("d1");
  assert.deepEqual(edited.feature.geometry, moved);
  assert.equal(edited.feature.properties.operator, "Ville");
  assert.equal(edited.feature.properties.notes, "Two lenses");
  assert.equal(edited.feature.properties.kind, "camera");
  assert.deepEqual([edited.change, edited.refused], ["edit", true]);
  assert.deepEqual([changed.get("d2").change, changed.get("d2").refused], ["withdraw", false]);
  assert.deepEqual(changed.get("d2").feature.geometry, seen.geometry);
  assert.equal(changed.get("elsewhere").feature.properties.kind, "microphone");
  // What the map holds is left as it was.
  assert.equal(seen.properties.operator, null);
});

test("a photo the form was still sending when saved is waited for, not sent again", async () => {
  const calls = [];
  globalThis.fetch = async (url, { method, headers, body }) => {
    calls.push({ method, url, key: headers["Idempotency-Key"], body });
    const answer = url.endsWith("/photos") ? { id: "p2" } : { id: "d9", properties: {} };
    return new Response(JSON.stringify(answer), { status: 201, headers: { "Content-Type": "application/geo+json" } });
  };
  const pin = (photoKey) => ({
    type: "pin", key: `pin-${photoKey}`, photo: new Blob(["jpeg"]), photoKey,
    feature: { type: "Feature", id: "d9", geometry: seen.geometry, properties: { kind: "camera" } },
  });
  const send = async (item) => {
    const changes = [];
    await sendOperation(item, async (change) => { changes.push(change); Object.assign(item, change); });
    return changes;
  };
  handOverUpload("photo-1", Promise.resolve("p1"));
  assert.deepEqual(await send(pin("photo-1")), [{ photoId: "p1", photo: null }]);
  assert.deepEqual(calls.map(({ method, url }) => `${method} ${url}`), ["POST /api/v1/devices"]);
  assert.deepEqual(JSON.parse(calls[0].body).photo_ids, ["p1"]);
  // Cut off (the network went): sent again, under the same key, so that a first upload that
  // did reach the server is not stored twice.
  calls.length = 0;
  handOverUpload("photo-2", new Promise((resolve, reject) => setTimeout(() => reject(new Error("network error")), 20)));
  assert.deepEqual(await send(pin("photo-2")), [{ photoId: "p2", photo: null }]);
  assert.deepEqual(calls.map(({ method, url, key }) => `${method} ${url} ${key}`), ["POST /api/v1/photos photo-2", "POST /api/v1/devices pin-photo-2"]);
});

test("every request of an item goes with the token it started with, whoever signs in meanwhile", async () => {
  const calls = [];
  let uploaded;
  globalThis.fetch = async (url, { method, headers }) => {
    calls.push(`${method} ${url} ${headers.Authorization ?? "none"}`);
    if (url.endsWith("/photos")) await new Promise((resolve) => { uploaded = resolve; });
    const answer = url.endsWith("/photos") ? { id: "p3" } : { id: "d10", properties: {} };
    return new Response(JSON.stringify(answer), { status: 201, headers: { "Content-Type": "application/geo+json" } });
  };
  setToken("hanks");
  const item = {
    type: "pin", key: "pin-10", photo: new Blob(["jpeg"]),
    feature: { type: "Feature", id: "d10", geometry: seen.geometry, properties: { kind: "camera" } },
  };
  const sending = sendOperation(item, async (change) => Object.assign(item, change), "hanks");
  await new Promise((resolve) => setTimeout(resolve, 10));
  setToken("ivys"); // hank signed out, ivy signed in, while the photo was going
  uploaded();
  await sending;
  assert.deepEqual(calls, ["POST /api/v1/photos Bearer hanks", "POST /api/v1/devices Bearer hanks"]);
  setToken(null);
});

test("an edit, a vote and a withdrawal go with their own token too, request after request", async () => {
  const items = [
    { ...offlineEdit, key: "e1", photo: new Blob(["jpeg"]) },
    { type: "confirm", deviceId: "d1", verdict: "still_there", key: "v1", photo: new Blob(["jpeg"]) },
    { type: "withdraw", deviceId: "d1", key: "w1" },
  ];
  for (const item of items) {
    const tokens = [];
    globalThis.fetch = async (url, { method, headers }) => {
      tokens.push(headers.Authorization);
      const body = url.endsWith("/photos") ? { id: "p4" } : method === "GET" ? seen : { id: "d1", properties: {} };
      return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/geo+json", ETag: '"v7"' } });
    };
    setToken("ivys"); // another account signed in since the item began with hank's token
    await sendOperation(item, async (change) => Object.assign(item, change), "hanks");
    assert.equal(tokens.length, { edit: 3, confirm: 2, withdraw: 1 }[item.type]);
    assert.deepEqual(new Set(tokens), new Set(["Bearer hanks"]), item.type);
  }
  setToken(null);
});

test("a pin sent for an account signed out meanwhile is not kept on the phone", async () => {
  const db = openStore("remember-test");
  const kept = async (id) => (await (await db).get("devices", id))?.id;
  const pin = (id, owner) => ({ item: { type: "pin", owner }, result: { type: "Feature", id, geometry: seen.geometry, properties: { kind: "camera" } } });
  await rememberSent(db, [pin("hanks", "hank"), pin("old", null)], null);
  assert.equal(await kept("hanks"), undefined);
  assert.equal(await kept("old"), "old"); // made before items had an owner
  await rememberSent(db, [pin("hanks", "hank")], "hank");
  assert.equal(await kept("hanks"), "hanks");
});
