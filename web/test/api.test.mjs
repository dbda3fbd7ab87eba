// A write's WAL position is sent back with later requests: the newest one, kept across reloads.
import assert from "node:assert/strict";
import { test } from "node:test";

const stored = new Map();
globalThis.localStorage = {
  getItem: (key) => stored.get(key) ?? null,
  setItem: (key, value) => stored.set(key, value),
};
const { positionHeaders, rememberPosition, request } = await import("../src/api.js");

test("the newest position of a write is sent back with every request", async () => {
  assert.deepEqual(positionHeaders(), {});
  const sent = [];
  globalThis.fetch = async (url, options) => {
    sent.push(options.headers);
    const headers = new Headers({ "Content-Type": "application/json" });
    if (options.method === "POST") headers.set("Vigie-WAL-Position", "1/A0");
    return new Response("{}", { status: options.method === "POST" ? 201 : 200, headers });
  };
  await request("GET", "devices");
  await request("POST", "devices", { json: {} });
  await request("GET", "devices");
  assert.equal(sent[0]["Vigie-WAL-Position"], undefined);
  assert.equal(sent[2]["Vigie-WAL-Position"], "1/A0");
  rememberPosition("0/FFFFFFFF"); // older: kept is the newest
  rememberPosition("not a position");
  assert.deepEqual(positionHeaders(), { "Vigie-WAL-Position": "1/A0" });
  rememberPosition("1/B0");
  assert.equal(stored.get("vigie.walPosition"), "1/B0");
});

test("a request that gets no answer is given up as a lost network; the caller's abort stays an abort", async (context) => {
  const { OfflineError, STALL_MS } = await import("../src/api.js");
  context.mock.timers.enable({ apis: ["setTimeout"] });
  // A connection that never answers, as fetch() sees one: only its signal ends it.
  globalThis.fetch = (url, { signal }) => new Promise((resolve, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  const silent = request("POST", "devices", { json: {} });
  context.mock.timers.tick(STALL_MS);
  await assert.rejects(silent, OfflineError);
  const caller = new AbortController();
  const abandoned = request("GET", "devices", { signal: caller.signal });
  caller.abort();
  await assert.rejects(abandoned, { name: "AbortError" });
});
