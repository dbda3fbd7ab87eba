// The outbox against an IndexedDB in memory (fake-indexeddb): order, exactly-once progress,
// refusals kept for the contributor, survival across a closed app.
import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, OfflineError } from "../src/api.js";
import { SessionChanged, createOutbox } from "../src/queue.js";
import { openStore } from "../src/store.js";

let stores = 0;
const freshStore = () => openStore(`outbox-test-${(stores += 1)}`);

// A server stand-in: records what it was sent, answers with what the test scripted.
function fakeServer(answers = {}) {
  const sent = [];
  const send = async (item, progress) => {
    const answer = answers[item.name]?.shift?.() ?? answers[item.name];
    if (typeof answer === "function") return answer(item, progress);
    if (answer instanceof Error) throw answer;
    sent.push({ name: item.name, key: item.key });
    return { id: item.name };
  };
  return { sent, send };
}

test("items go out in the order they were made, once, and leave the outbox", async () => {
  const db = freshStore();
  const server = fakeServer();
  const outbox = createOutbox(db, server.send);
  for (const name of ["a", "b", "c"]) await outbox.add({ type: "pin", name });
  const results = await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["a", "b", "c"]);
  assert.deepEqual(results.map((r) => r.result.id), ["a", "b", "c"]);
  assert.deepEqual(await outbox.all(), []);
  await outbox.flush();
  assert.equal(server.sent.length, 3);
});

test("without a network the pass stops and everything stays pending, in order", async () => {
  const db = freshStore();
  const server = fakeServer({ a: [new OfflineError("down")] });
  const outbox = createOutbox(db, server.send);
  await outbox.add({ type: "pin", name: "a" });
  await outbox.add({ type: "pin", name: "b" });
  assert.deepEqual(await outbox.flush(), []);
  assert.deepEqual((await outbox.all()).map((i) => [i.name, i.state]), [["a", "pending"], ["b", "pending"]]);
  assert.equal(server.sent.length, 0); // b did not overtake a
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["a", "b"]);
});

test("server errors, rate limits, a key still in flight and an ended session are retried later, not refusals", async () => {
  const inFlight = new ApiError(409, { errors: [{ field: "Idempotency-Key" }] });
  for (const error of [new ApiError(503, {}), new ApiError(429, {}), inFlight, new ApiError(401, {})]) {
    const outbox = createOutbox(freshStore(), fakeServer({ a: [error] }).send);
    await outbox.add({ type: "pin", name: "a" });
    await outbox.flush();
    assert.equal((await outbox.all())[0].state, "pending");
  }
});

test("a refusal is kept with its problem for the contributor; later items still go", async () => {
  const db = freshStore();
  const duplicate = new ApiError(409, { title: "Conflict", candidates: [{ id: "x", distance_m: 3 }] });
  const server = fakeServer({ a: [duplicate] });
  const outbox = createOutbox(db, server.send);
  await outbox.add({ type: "pin", name: "a" });
  await outbox.add({ type: "confirm", name: "b" });
  const [refused, sent] = await outbox.flush();
  assert.equal(refused.error, duplicate);
  assert.equal(sent.result.id, "b");
  const [item] = await outbox.all();
  assert.equal(item.state, "refused");
  assert.deepEqual(item.problem, { status: 409, title: "Conflict", candidates: [{ id: "x", distance_m: 3 }] });
  await outbox.flush(); // a refused item is not sent again by itself
  assert.deepEqual(server.sent.map((s) => s.name), ["b"]);

  const firstKey = item.key;
  await outbox.retry(item.seq, { force: true });
  const [retried] = await outbox.all();
  assert.equal(retried.state, "pending");
  assert.equal(retried.force, true);
  assert.notEqual(retried.key, firstKey); // another request needs another Idempotency-Key
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["b", "a"]);
});

test("progress saved before a failure is not redone: a photo is uploaded once", async () => {
  const db = freshStore();
  let uploads = 0;
  const send = async (item, progress) => {
    if (!item.photoId) {
      uploads += 1;
      await progress({ photoId: "photo-1", photo: null });
    }
    if (uploads === 1 && !item.retried) {
      await progress({ retried: true });
      throw new OfflineError("lost after the upload");
    }
    return { id: "device", photo: item.photoId };
  };
  const outbox = createOutbox(db, send);
  await outbox.add({ type: "pin", name: "a", photo: new Blob(["jpeg"]) });
  await outbox.flush();
  const [waiting] = await outbox.all();
  assert.equal(waiting.photoId, "photo-1");
  assert.equal(waiting.photo, null);
  const [{ result }] = await outbox.flush();
  assert.deepEqual(result, { id: "device", photo: "photo-1" });
  assert.equal(uploads, 1);
});

test("passes never overlap: flushing twice at once sends each item once", async () => {
  const server = fakeServer();
  const outbox = createOutbox(freshStore(), server.send);
  await outbox.add({ type: "pin", name: "a" });
  await outbox.add({ type: "pin", name: "b" });
  await Promise.all([outbox.flush(), outbox.flush(), outbox.flush()]);
  assert.deepEqual(server.sent.map((s) => s.name), ["a", "b"]);
});

test("the outbox outlives the app: another instance on the same store sends what was left", async () => {
  const name = `outbox-test-closed-${Date.now()}`;
  const first = createOutbox(openStore(name), fakeServer().send);
  const photo = new Blob(["jpeg bytes"], { type: "image/jpeg" });
  const { key } = await first.add({ type: "pin", name: "a", photo });
  const server = fakeServer();
  const reopened = createOutbox(openStore(name), server.send);
  const [item] = await reopened.all();
  assert.equal(item.key, key);
  await reopened.flush();
  assert.deepEqual(server.sent, [{ name: "a", key }]);
});

test("a discarded item is gone for good", async () => {
  const server = fakeServer();
  const outbox = createOutbox(freshStore(), server.send);
  const item = await outbox.add({ type: "pin", name: "a" });
  await outbox.discard(item.seq);
  await outbox.flush();
  assert.deepEqual(server.sent, []);
});

test("an item's answer reaches whoever awaits it, from the later pass that gets it", async () => {
  const server = fakeServer({ a: [new OfflineError(), undefined], b: [new ApiError(422, { detail: "voted" })] });
  const outbox = createOutbox(freshStore(), server.send);
  const a = await outbox.add({ type: "confirm", name: "a" });
  const b = await outbox.add({ type: "confirm", name: "b" });
  assert.deepEqual(await outbox.flush(), []); // offline: no answer yet
  const answers = Promise.all([outbox.whenAnswered(a.seq), outbox.whenAnswered(b.seq)]);
  await outbox.flush();
  const [recorded, refused] = await answers;
  assert.deepEqual(recorded.result, { id: "a" });
  assert.equal(refused.error.status, 422);
});

test("a correction of an item sent meanwhile saves nothing and says so", async () => {
  const server = fakeServer();
  const outbox = createOutbox(freshStore(), server.send);
  const item = await outbox.add({ type: "pin", name: "a", operator: "first" });
  await outbox.flush();
  assert.equal(await outbox.retry(item.seq, { operator: "second" }), false);
  assert.deepEqual(await outbox.all(), []);
  const kept = await outbox.add({ type: "pin", name: "b" });
  assert.equal(await outbox.retry(kept.seq, { operator: "second" }), true);
  assert.equal((await outbox.all())[0].operator, "second");
});

test("a correction made while its item is on its way stays, to be sent next", async () => {
  let outbox = null;
  const server = fakeServer({
    a: [async (item, progress) => {
      // The contributor saves a correction while the first sending waits for its answer; what
      // this sending goes on to learn (a photo uploaded for it) is not written over it.
      assert.equal(await outbox.retry(item.seq, { operator: "second" }), true);
      await progress({ photoId: "of-the-first" });
      server.sent.push({ name: item.name, operator: item.operator });
      return { id: "a" };
    }],
  });
  outbox = createOutbox(freshStore(), server.send);
  await outbox.add({ type: "pin", name: "a", operator: "first" });
  await outbox.flush();
  const [left] = await outbox.all();
  assert.equal(left.operator, "second");
  assert.equal(left.photoId, undefined);
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.operator ?? s.name), ["first", "a"]);
  assert.deepEqual(await outbox.all(), []);
});

test("a discarded item is handed over to be taken back from the server, told whether its photo is still sent", async () => {
  const forgotten = [];
  const forget = async (item, { photoStillSent }) => forgotten.push([item.name, photoStillSent]);
  const outbox = createOutbox(freshStore(), fakeServer().send, { forget });
  const pin = await outbox.add({ type: "pin", name: "a", photoId: "p1" });
  const vote = await outbox.add({ type: "confirm", name: "b", photoId: "p2" });
  await outbox.add({ type: "confirm", name: "c", photoId: "p2", replaces: vote.seq });
  const plain = await outbox.add({ type: "pin", name: "d" });
  for (const item of [pin, vote, plain]) await outbox.discard(item.seq);
  assert.deepEqual(forgotten, [["a", false], ["b", true], ["d", false]]);
});

test("an item is marked as attempted before it is first sent, its answer possibly lost", async () => {
  const db = freshStore();
  let seenAttempted = null;
  const outbox = createOutbox(db, async (item) => { seenAttempted = (await (await db).get("outbox", item.seq)).attempted; throw new OfflineError("down"); });
  const item = await outbox.add({ type: "pin", name: "a" });
  assert.equal(item.attempted, undefined);
  await outbox.flush();
  assert.equal(seenAttempted, true);
});

test("an account neither sees nor sends the items another account made on the phone", async () => {
  const db = freshStore();
  const server = fakeServer();
  let who = "hank";
  const outbox = createOutbox(db, server.send, { owner: async () => who });
  await outbox.add({ type: "pin", name: "hanks-pin" });
  who = null; // hank signed out
  assert.deepEqual(await outbox.all(), []);
  who = "ivy";
  await outbox.add({ type: "pin", name: "ivys-pin" });
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["ivys-pin"]);
  assert.deepEqual(await outbox.all(), []);
  who = "hank"; // back: his pin goes out under his account
  assert.deepEqual((await outbox.all()).map((item) => item.name), ["hanks-pin"]);
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["ivys-pin", "hanks-pin"]);
});

test("an item saved after its account's session ended stays that account's", async () => {
  const db = freshStore();
  const server = fakeServer();
  let who = null; // the session ended while hank was filling in the form
  const outbox = createOutbox(db, server.send, { owner: async () => who });
  await outbox.add({ type: "pin", owner: "hank", name: "hanks-pin" });
  who = "ivy";
  assert.deepEqual(await outbox.all(), []);
  await outbox.flush();
  assert.deepEqual(server.sent, []);
  who = "hank";
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["hanks-pin"]);
});

test("a session ended during a pass sends none of the account's items left, without it", async () => {
  const db = freshStore();
  let who = "hank";
  // Answered, and meanwhile another request was told the token is revoked.
  const server = fakeServer({ first: () => { who = null; return { id: "first" }; } });
  const outbox = createOutbox(db, server.send, { owner: async () => who });
  for (const name of ["first", "second"]) await outbox.add({ type: "pin", name });
  await outbox.flush();
  assert.deepEqual(server.sent, []); // "first" answered by the stand-in itself
  who = "hank";
  assert.deepEqual((await outbox.all()).map((item) => [item.name, item.state]), [["second", "pending"]]);
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["second"]);
});

test("an ended session is not an item's reason to wait: its earlier reason goes too", async () => {
  const revoked = new ApiError(401, { detail: "Your token is revoked." }, null, { tokenRefused: true });
  for (const ended of [revoked, new SessionChanged()]) {
    const db = freshStore();
    const limited = new ApiError(429, { detail: "Too many pins." });
    const server = fakeServer({ a: [limited, ended] });
    const outbox = createOutbox(db, server.send);
    await outbox.add({ type: "pin", name: "a" });
    await outbox.flush();
    assert.equal((await outbox.all())[0].problem.detail, "Too many pins.");
    await outbox.add({ type: "pin", name: "b" });
    await outbox.flush();
    assert.deepEqual((await outbox.all()).map((i) => [i.name, i.state, i.problem]), [["a", "pending", null], ["b", "pending", null]]);
    assert.deepEqual(server.sent, []); // the pass stopped there
  }
});

test("an item sent without a token, refused for it, says so", async () => {
  const outbox = createOutbox(freshStore(), fakeServer({ a: [new ApiError(401, { detail: "Log in first." })] }).send);
  await outbox.add({ type: "withdraw", name: "a" });
  await outbox.flush();
  const [item] = await outbox.all();
  assert.deepEqual([item.state, item.problem.detail], ["pending", "Log in first."]);
});

test("a refused vote leaves the outbox, its refusal in the results", async () => {
  const outbox = createOutbox(freshStore(), fakeServer({ a: [new ApiError(409, { detail: "You already voted" })] }).send);
  await outbox.add({ type: "confirm", name: "a" });
  const [{ error }] = await outbox.flush();
  assert.equal(error.message, "You already voted");
  assert.deepEqual(await outbox.all(), []);
});

test("without a network, the server's earlier reason for waiting no longer stands", async () => {
  const server = fakeServer({ a: [new ApiError(500, { title: "Internal Server Error" }), new OfflineError("down")] });
  const outbox = createOutbox(freshStore(), server.send);
  await outbox.add({ type: "pin", name: "a" });
  await outbox.flush();
  assert.equal((await outbox.all())[0].problem.status, 500);
  await outbox.flush();
  const [item] = await outbox.all();
  assert.equal(item.state, "pending");
  assert.equal(item.problem, null);
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["a"]);
});

test("a rate-limited item keeps the server's reason and waits as long as it said", async () => {
  const limited = new ApiError(429, { detail: "New accounts may pin 20 devices an hour" }, "3600");
  const server = fakeServer({ a: [limited] });
  const outbox = createOutbox(freshStore(), server.send);
  await outbox.add({ type: "pin", name: "a" });
  await outbox.flush();
  const [item] = await outbox.all();
  assert.equal(item.state, "pending");
  assert.equal(item.problem.detail, "New accounts may pin 20 devices an hour");
  assert.ok(item.notBefore > Date.now() + 3500_000);
  await outbox.flush(); // too early: not sent
  assert.equal(server.sent.length, 0);
});

test("a vote made in place of a refused change takes its place only once accepted", async () => {
  const duplicate = new ApiError(409, { title: "Conflict", candidates: [{ id: "x", distance_m: 1 }] });
  const alreadyVoted = new ApiError(409, { title: "Conflict", errors: [{ field: "verdict" }] });
  const server = fakeServer({ pin: [duplicate], vote: [alreadyVoted] });
  const outbox = createOutbox(freshStore(), server.send);
  const pin = await outbox.add({ type: "pin", name: "pin", feature: { id: "p1" } });
  await outbox.flush();
  await outbox.add({ type: "confirm", name: "vote", deviceId: "x", replaces: pin.seq });
  const [refused] = await outbox.flush();
  assert.equal(refused.error, alreadyVoted);
  assert.deepEqual((await outbox.all()).map((i) => [i.name, i.state]), [["pin", "refused"]]);
  await outbox.add({ type: "confirm", name: "vote", deviceId: "x", replaces: pin.seq });
  const [accepted] = await outbox.flush();
  assert.equal(accepted.result.id, "vote");
  assert.deepEqual(await outbox.all(), []);
});

test("a change held back by a rate limit holds its device's later changes, not the others'", async () => {
  const limited = new ApiError(429, { title: "Too Many Requests" }, "3600");
  const server = fakeServer({ pin: [limited] });
  const outbox = createOutbox(freshStore(), server.send);
  await outbox.add({ type: "pin", name: "pin", feature: { id: "p1" } });
  await outbox.add({ type: "edit", name: "edit of the pin", deviceId: "p1" });
  await outbox.add({ type: "edit", name: "edit of another", deviceId: "d2" });
  await outbox.flush();
  assert.deepEqual(server.sent.map((s) => s.name), ["edit of another"]);
  const waiting = await outbox.all();
  assert.deepEqual(waiting.map((i) => [i.name, i.state]), [["pin", "pending"], ["edit of the pin", "pending"]]);
  assert.ok(waiting[0].notBefore > Date.now() + 3_000_000);
  await outbox.flush(); // not before the time the server said, nor what waits behind it
  assert.deepEqual(server.sent.map((s) => s.name), ["edit of another"]);
});
