// Sending outbox items: an edit made offline goes out only onto the device as it was seen.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "../src/api.js";
import { sendOperation } from "../src/operations.js";

function serverWith(updatedAt) {
  const calls = [];
  globalThis.fetch = async (url, { method, headers }) => {
    calls.push({ method, url, headers });
    const body = method === "GET"
      ? { id: "d1", properties: { updated_at: updatedAt } }
      : { id: "d1", properties: { operator: "Ville" } };
    return new Response(JSON.stringify(body), { headers: { "Content-Type": "application/geo+json", ETag: '"v7"' } });
  };
  return calls;
}

const offlineEdit = { type: "edit", deviceId: "d1", etag: null, seenUpdatedAt: "2026-12-01T10:00:00Z", key: "k1", patch: { properties: { operator: "Ville" } } };

test("an edit made offline takes the current ETag of a device unchanged since", async () => {
  const calls = serverWith("2026-12-01T10:00:00Z");
  const result = await sendOperation(offlineEdit, async () => null);
  assert.equal(result.properties.operator, "Ville");
  assert.deepEqual(calls.map((c) => c.method), ["GET", "PATCH"]);
  assert.equal(calls[1].headers["If-Match"], '"v7"');
  assert.equal(calls[1].headers["Idempotency-Key"], "k1");
});

test("an edit made offline onto a device changed since is refused, not sent", async () => {
  const calls = serverWith("2026-12-02T08:00:00Z");
  await assert.rejects(sendOperation(offlineEdit, async () => null), (error) => error instanceof ApiError && error.status === 412);
  assert.deepEqual(calls.map((c) => c.method), ["GET"]);
});

test("an edit made online keeps the ETag it was made against", async () => {
  const calls = serverWith("2026-12-02T08:00:00Z");
  await sendOperation({ ...offlineEdit, etag: '"v6"' }, async () => null);
  assert.deepEqual(calls.map((c) => [c.method, c.headers["If-Match"]]), [["PATCH", '"v6"']]);
});
