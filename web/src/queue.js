// The outbox: every write made on this phone (pins, edits, votes, photos) waits in IndexedDB
// until the server has it, so that nothing is lost to a dead network or a closed app. Items go
// out one at a time in the order they were made. Each carries its Idempotency-Key (and a pin
// its client-made id), so an item sent again after a lost answer takes effect once. A refusal
// (409, 422, 403...) stays in the outbox, marked refused, until the contributor resolves it;
// but for a vote, which leaves it.
// Items belong to the account signed in when they were made: on a phone shared by several
// contributors, another account neither sees nor sends them (they wait for their own).
// A vote made in place of a refused change (`replaces`: a duplicate confirmed instead, an edit
// reported as wrong details) takes its place only once accepted: refused, the change stays.
import { ApiError, OfflineError } from "./api.js";

// Answers that mean "not now" rather than "no": the item stays pending and is sent again later.
const TRANSIENT = new Set([408, 425, 429]);

// Thrown instead of sending an item whose account is no longer the one signed in: it waits,
// as after a 401, for its own to sign in again (accounts.js, withOwnToken).
export class SessionChanged extends Error {
  name = "SessionChanged";
}

export function isTransient(error) {
  if (error instanceof OfflineError || error instanceof SessionChanged) return true;
  if (!(error instanceof ApiError)) return false;
  if (error.status >= 500 || TRANSIENT.has(error.status)) return true;
  // The token expired or was revoked: the item waits for its author to sign in again.
  if (error.status === 401) return true;
  // The first request with this key is still being answered.
  return error.status === 409 && (error.problem.errors || []).some((e) => e.field === "Idempotency-Key");
}

// The device an item is about (a pin's is its own client-made id).
export const deviceIdOf = (item) => (item.type === "pin" ? item.feature?.id : item.deviceId);
// Items with no device (kept by earlier versions) hold back nothing but themselves.
const holdKey = (item) => deviceIdOf(item) ?? item.seq;

// FORGET(item, { photoStillSent }): takes back from the server what an item given up may have
// left there (app.js: operations.js's forgetWhatWasSent).
export function createOutbox(db, send, { randomUUID = () => crypto.randomUUID(), owner = async () => null, forget = async () => {} } = {}) {
  const listeners = new Set();
  const awaited = new Map(); // seq -> what whenAnswered resolves with that item's answer
  let passes = Promise.resolve();

  const notify = async () => {
    const items = await all();
    for (const listener of listeners) listener(items);
  };

  // The items of the account signed in (and those made before items had an owner).
  async function all() {
    const who = await owner();
    return (await (await db).getAll("outbox")).filter((item) => item.owner == null || item.owner === who);
  }

  // What a pass learns of the request it sent (its progress, the server's reason to wait, a
  // refusal), kept in ITEM, and stored unless the contributor corrected the item meanwhile
  // (retry: a new key): what the pass learnt is of a request the correction replaces.
  async function update(item, fields) {
    Object.assign(item, fields);
    const tx = (await db).transaction("outbox", "readwrite");
    if ((await tx.store.get(item.seq))?.key === item.key) await tx.store.put(item);
    await tx.done;
  }

  async function add(operation) {
    // OPERATION may name its owner (the account that filled a form), else the one signed in.
    const item = { ...operation, key: randomUUID(), owner: operation.owner ?? await owner(), state: "pending", problem: null, created_at: new Date().toISOString() };
    item.seq = await (await db).add("outbox", item);
    await notify();
    return item;
  }

  async function sendPending() {
    const results = [];
    // Devices with a change held back by a rate limit: their later changes wait behind it, in
    // order; changes of other devices go on.
    const held = new Set();
    const who = await owner();
    for (const queued of await all()) {
      // A session ended or begun meanwhile (a 401 to another request, a sign-out): what is
      // left is another account's, or waits for its own to sign in again.
      if ((await owner()) !== who) break;
      // Read again: the contributor may have discarded or resolved it meanwhile.
      const item = await (await db).get("outbox", queued.seq);
      if (!item || item.state !== "pending") continue;
      if (held.has(holdKey(item))) continue;
      // Not before the time the server said (Retry-After).
      if (item.notBefore > Date.now()) {
        held.add(holdKey(item));
        continue;
      }
      try {
        // Sent at least once from now on: its answer may be lost, what it wrote kept.
        if (!item.attempted) await update(item, { attempted: true });
        const result = await send(item, async (progress) => update(item, progress));
        await removeSent(item);
        if (item.replaces != null) await (await db).delete("outbox", item.replaces);
        results.push({ item, result });
      } catch (error) {
        if (isTransient(error)) {
          // Still pending, with the server's reason (a rate limit...) for the contributor. An
          // ended session (its token refused) is no reason of the item's: the app says it, and
          // the item waits for its author to sign in again.
          if (error instanceof ApiError && !error.tokenRefused) {
            const notBefore = error.retryAfterMs ? Date.now() + error.retryAfterMs : null;
            await update(item, { problem: { status: error.status, ...error.problem }, notBefore });
            await notify();
          } else if (item.problem) {
            // No network or no session now: what the server said before (a 500...) is no
            // longer the reason.
            await update(item, { problem: null, notBefore: null });
            await notify();
          }
          // A rate limit holds this device's changes; no network or a server down, all of them.
          if (error.status === 429) {
            held.add(holdKey(item));
            continue;
          }
          break;
        }
        if (!(error instanceof ApiError)) throw error;
        // A refused vote cannot succeed when sent again (a second vote within 30 days...): it
        // leaves the outbox, its refusal in the results.
        if (item.type === "confirm") await (await db).delete("outbox", item.seq);
        else await update(item, { state: "refused", problem: { status: error.status, ...error.problem } });
        results.push({ item, error });
      }
      await notify();
    }
    return results;
  }

  // One pass at a time, each after the previous one (an item added during a pass is sent by
  // the next), across the tabs and the service worker too when the browser can lock.
  function flush() {
    const locks = globalThis.navigator?.locks;
    const pass = () => (locks ? locks.request("vigie-outbox", sendPending) : sendPending());
    const next = passes.catch(() => null).then(pass).then((results) => {
      for (const answer of results) {
        awaited.get(answer.item.seq)?.(answer);
        awaited.delete(answer.item.seq);
      }
      return results;
    });
    passes = next;
    return next;
  }

  // The answer (result or error, as flush gives them) that a later pass of this page gets for
  // the item SEQ: a vote made offline says it was recorded once the network is back.
  const whenAnswered = (seq) => new Promise((resolve) => { awaited.set(seq, resolve); });

  // ITEM, answered, leaves the outbox; unless the contributor corrected it while it was on its
  // way (retry: a new key), in which case the correction is still to send.
  async function removeSent(item) {
    const tx = (await db).transaction("outbox", "readwrite");
    if ((await tx.store.get(item.seq))?.key === item.key) await tx.store.delete(item.seq);
    await tx.done;
  }

  // Send an item again with the contributor's changes (a correction, a refusal overcome): a new
  // request, so a new key. False, saving nothing, when the item left the outbox meanwhile (sent
  // by a pass, or discarded): the caller decides what the changes become.
  async function retry(seq, changes = {}) {
    const tx = (await db).transaction("outbox", "readwrite");
    const item = await tx.store.get(seq);
    if (item) await tx.store.put({ ...item, ...changes, key: randomUUID(), state: "pending", problem: null });
    await tx.done;
    await notify();
    return Boolean(item);
  }

  // Given up by the contributor: gone from the phone, then given to FORGET, told whether
  // another item still sends its photo.
  async function discard(seq) {
    const item = await (await db).get("outbox", seq);
    await (await db).delete("outbox", seq);
    await notify();
    if (!item) return;
    const photoStillSent = Boolean(item.photoId) && (await all()).some((other) => other.photoId === item.photoId);
    await forget(item, { photoStillSent });
  }

  const onChange = (listener) => { listeners.add(listener); };

  return { add, all, flush, retry, discard, onChange, whenAnswered };
}
