// A session the server ended: the phone stops using it at once, before forgetting what it kept.
import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { test } from "node:test";

// The page modules accounts.js imports, outside a page.
globalThis.localStorage = { getItem: () => "en", setItem: () => {} };
globalThis.window = Object.assign(new EventTarget(), { history: { state: null } });
globalThis.document = Object.assign(new EventTarget(), { getElementById: () => new EventTarget(), querySelectorAll: () => [] });
const { currentToken } = await import("../src/api.js");
const { endRefusedSession, restoreSession, session, withOwnToken } = await import("../src/accounts.js");
const { SessionChanged } = await import("../src/queue.js");
const { openStore, setSetting } = await import("../src/store.js");

test("an outbox item goes with its own account's token, and not once another session began", async () => {
  const db = openStore("accounts-own-token");
  await setSetting(db, "session", { token: "t2", tokenId: "2", username: "ivy", role: "contributor", userId: "u2" });
  await restoreSession(db);
  const sent = [];
  const send = withOwnToken(async (item, _progress, token) => sent.push([item.name, token]));
  await send({ name: "ivys", owner: "u2" });
  await send({ name: "older", owner: null }); // made before items had an owner
  assert.throws(() => send({ name: "hanks", owner: "u1" }), SessionChanged);
  await setSetting(db, "session", { token: "t3", tokenId: "3", username: "jo", role: "contributor", userId: "u3" });
  await restoreSession(db); // ivy's session over, jo's begun
  assert.throws(() => send({ name: "ivys-next", owner: "u2" }), SessionChanged);
  assert.deepEqual(sent, [["ivys", "t2"], ["older", "t2"]]);
});

test("a refused token ends the session at once: no request or outbox pass goes on with it", async () => {
  const db = openStore("accounts-test");
  await setSetting(db, "session", { token: "t1", tokenId: "1", username: "hank", role: "contributor", userId: "u1" });
  await restoreSession(db);
  assert.equal(session().userId, "u1");
  const ending = endRefusedSession(db, "t1");
  // Before the stored session is deleted: the outbox's owner and the token are gone already.
  assert.deepEqual([session(), currentToken()], [null, null]);
  assert.equal(await ending, true);
  assert.equal(await endRefusedSession(db, "t1"), false); // said once
});
