// How each kind of outbox item reaches the API. An item with a photo taken offline (a pin, an
// edit, a vote) uploads the photo first and records its id on the item, so that a pass
// interrupted between the two requests does not upload it twice.
import { ApiError, request, uploadPhoto } from "./api.js";
import { putDevice, removeDevice } from "./store.js";
import { DEFAULTS } from "./vocabulary.js";

// Photos that a form was still sending when it was saved, by their upload's Idempotency-Key:
// the outbox waits for the upload under way rather than send the same bytes again from the
// start (on a phone's slow upload, seconds). One that fails is sent again under its key.
// handOverUpload gives back where the form reports how far the upload is.
const uploadsUnderWay = new Map();

export function handOverUpload(key, upload) {
  const done = () => uploadsUnderWay.delete(key);
  uploadsUnderWay.set(key, upload);
  upload.then(done, done);
  return (fraction) => { for (const listener of progressListeners) listener(fraction); };
}

// Told how far a photo handed over is sent (a fraction), to show it with the outbox.
const progressListeners = new Set();
export const onHandedOverProgress = (listener) => progressListeners.add(listener);

// The id of the item's photo, if it has one: the answer of the form's upload handed over
// (under the file's key), else the copy kept on the phone uploaded (under its own key).
async function uploadedPhotoId(item, progress, token) {
  if ((item.photo || item.handedOverKey) && !item.photoId) {
    const key = item.photoKey ?? `${item.key}-photo`;
    const handed = await uploadsUnderWay.get(item.handedOverKey ?? key)?.catch(() => null);
    const id = handed ?? (item.photo ? (await uploadPhoto(item.photo, key, { token })).data.id : null);
    if (id) await progress({ photoId: id, photo: null });
  }
  return item.photoId || null;
}

async function uploadedPhotoIds(item, progress, token) {
  const id = await uploadedPhotoId(item, progress, token);
  return id ? { photo_ids: [id] } : {};
}

async function sendPin(item, progress, token) {
  const body = { ...item.feature, ...(await uploadedPhotoIds(item, progress, token)) };
  const query = item.force ? "?force=true" : "";
  try {
    const { data } = await request("POST", `devices${query}`, { json: body, headers: { "Idempotency-Key": item.key }, token });
    return data;
  } catch (error) {
    // Stored before, its answer lost, then corrected here: the server holds the pin as first
    // sent, under its id, and the correction is an edit of it.
    if (!(error instanceof ApiError && error.status === 409 && error.problem?.yours)) throw error;
    return sendCorrection(item, body, query, token);
  }
}

// The fields of the pin form: one the correction emptied is left out of the pin, and must
// be emptied in the pin stored too (a PATCH keeps what it does not name), to what a pin gets
// without it (null, or its default).
const FORM_FIELDS = ["camera_type", "mount", "direction", "angle", "height", "zone", "surveillance",
  "operator", "operator_type", "notes"];

// The edit that makes the pin stored under BODY's id what BODY says. Its key is the item's own
// (a retry after a lost answer is answered as the first time, whatever the ETag by then).
async function sendCorrection(item, { id, geometry, properties, photo_ids: photoIds }, query, token) {
  const { data: stored, etag } = await request("GET", `devices/${id}`, { token });
  const emptied = FORM_FIELDS.filter((name) => stored.properties[name] != null && properties[name] == null);
  const { data } = await request("PATCH", `devices/${id}${query}`, {
    json: {
      geometry,
      properties: { ...properties, ...Object.fromEntries(emptied.map((name) => [name, DEFAULTS[name] ?? null])) },
      ...(photoIds ? { photo_ids: photoIds } : {}),
    },
    headers: { "If-Match": etag, "Idempotency-Key": `${item.key}-correction` },
    token,
  });
  // The form holds one photo: one the pin was first sent with that the correction does not
  // keep was replaced (or taken away) there, and goes, as the form showed.
  const replaced = (stored.properties.photos ?? []).filter((photo) => !photoIds?.includes(photo.id));
  await Promise.all(replaced.map((photo) => forgetPhoto(photo.id, token)));
  const gone = new Set(replaced.map((photo) => photo.id));
  return { ...data, properties: { ...data.properties, photos: data.properties.photos?.filter((photo) => !gone.has(photo.id)) } };
}

// What an edit made offline is made against: the device's place and what contributors say of
// it, as the contributor saw them. Not its updated_at: the server gives times as days, which
// cannot tell two changes of one day apart. Left out, as they change nothing the edit was
// about: photos, votes and reviews (and the times they stamp), tombstone fields (sync pages
// carry them). observed_at is compared by its day: copies kept before times became days
// still hold the instant.
const NOT_CONTENT = new Set(["photos", "deleted_at", "merged_into", "created_at", "updated_at",
  "last_confirmed_at", "verification", "review_status", "review_reason"]);

// A loose photo of this phone's that nothing will attach any more: deleted from the server
// when it answers (else the server's cleanup of loose photos removes it).
export const forgetPhoto = (id, token) => request("DELETE", `photos/${id}`, { token }).catch(() => null);

// What an outbox item given up may have left on the server. A pin sent before, its answer
// lost, may be stored: withdrawn (while still its author's to withdraw). Its photo goes while
// still loose, unless another item sends it; attached by a write that reached the server, it
// stays with that write.
export async function forgetWhatWasSent(item, { photoStillSent = false } = {}) {
  if (item.type === "pin" && item.attempted && item.state !== "refused") {
    await request("DELETE", `devices/${item.feature.id}`).catch(() => null);
  }
  if (item.photoId && !photoStillSent) await forgetLoosePhoto(item.photoId);
}

async function forgetLoosePhoto(id) {
  try {
    const { data } = await request("GET", `photos/${id}`);
    if (data.device_id === null) await forgetPhoto(id);
  } catch {
    // Offline, or gone already: the server's cleanup of loose photos sees to it.
  }
}

export function contentOf(feature) {
  const properties = Object.entries(feature.properties)
    .filter(([name]) => !NOT_CONTENT.has(name))
    .map(([name, value]) => [name, name === "observed_at" && value ? value.slice(0, 10) : value])
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([feature.geometry?.coordinates ?? null, properties]);
}

// The devices that the outbox's edits and withdrawals change once sent, each as it will then
// be: id -> { feature, change: "edit" or "withdraw", refused }. SHOWN maps ids to the devices'
// features as the map last had them; an edit of a device not among them is known only by
// where it moves it. Items come in the order they were made: later edits apply over earlier
// ones, and a withdrawal is what the device comes to.
export function devicesChangedOnPhone(items, shown) {
  const changed = new Map();
  for (const item of items) {
    if (item.type !== "edit" && item.type !== "withdraw") continue;
    const earlier = changed.get(item.deviceId);
    const before = earlier?.feature ?? shown.get(item.deviceId);
    const geometry = item.patch?.geometry ?? before?.geometry;
    if (!geometry) continue;
    const properties = { kind: item.kind, ...before?.properties, ...item.patch?.properties };
    changed.set(item.deviceId, {
      feature: { ...before, type: "Feature", id: item.deviceId, geometry, properties },
      change: earlier?.change === "withdraw" ? "withdraw" : item.type,
      refused: earlier?.refused || item.state === "refused",
    });
  }
  return changed;
}

// An edit queued before edits carried seenContent: its updated_at, as a day.
const seenAsBefore = (item, current) => item.seenContent === undefined
  && item.seenUpdatedAt?.slice(0, 10) === current.properties.updated_at?.slice(0, 10);

// An edit made offline has no ETag: the device's current one is used only if the device is
// still as the contributor saw it; otherwise the edit comes back to them, as a 412 would.
async function currentEtag(item, token) {
  const { data, etag } = await request("GET", `devices/${item.deviceId}`, { token });
  // Merged meanwhile into the device pinned before it: the server sent that one (308). Not a
  // change of this device to apply the edit over, but its end, as a write to it would say.
  if (data.id !== item.deviceId) {
    throw new ApiError(410, { type: "gone", status: 410, title: "Gone", detail: `Device ${item.deviceId} was merged into ${data.id}.`, merged_into: data.id });
  }
  if (contentOf(data) !== item.seenContent && !seenAsBefore(item, data)) {
    throw new ApiError(412, { type: "precondition-failed", status: 412, title: "Changed meanwhile", detail: "The device changed since you edited it: check it, then edit it again." });
  }
  return etag;
}

async function sendEdit(item, progress, token) {
  // Kept on the item: should the answer be lost, the edit goes again under the same key and
  // ETag (the server answers it as the first time), not against its own result, which would
  // look changed meanwhile.
  let { etag } = item;
  if (!etag) {
    etag = await currentEtag(item, token);
    await progress({ etag });
  }
  // Insisted on, after a refusal as a likely duplicate (moved onto a device of its kind).
  const query = item.force ? "?force=true" : "";
  const { data } = await request("PATCH", `devices/${item.deviceId}${query}`, {
    json: { ...item.patch, ...(await uploadedPhotoIds(item, progress, token)) },
    headers: { "If-Match": etag, "Idempotency-Key": item.key },
    token,
  });
  return data;
}

// A vote, with the photo of the pin it stands for (a duplicate confirmed instead) as evidence,
// and a comment (an edit that could no longer be made, reported as wrong details instead).
async function sendConfirmation(item, progress, token) {
  const photoId = await uploadedPhotoId(item, progress, token);
  const { data } = await request("POST", `devices/${item.deviceId}/confirmations`, {
    json: { verdict: item.verdict, ...(item.comment ? { comment: item.comment } : {}), ...(photoId ? { photo_id: photoId } : {}) },
    headers: { "Idempotency-Key": item.key },
    token,
  });
  return data;
}

// A contributor's own pin withdrawn while it awaits review (a tombstone stays on the server).
async function sendWithdrawal(item, _progress, token) {
  await request("DELETE", `devices/${item.deviceId}`, { headers: { "Idempotency-Key": item.key }, token });
  return { id: item.deviceId };
}

const SENDERS = { pin: sendPin, edit: sendEdit, confirm: sendConfirmation, withdraw: sendWithdrawal };

// TOKEN: the item's own account's, read once as it starts: every request of the item (a photo,
// then the pin...) goes with it, whatever session begins or ends meanwhile (a 401 then, not
// another account's pin). Left out: the session's of each request's instant.
export const sendOperation = (item, progress, token) => SENDERS[item.type](item, progress, token);

// What the server accepted, kept on the phone: pins, drawn at once (offline too), and pins
// withdrawn, no longer drawn. Called by whichever sent them, page or service worker. OWNER:
// the account signed in now; an item of another (signed out meanwhile) is not kept, as what
// it read would stay on the phone for the next person holding it (a pin awaiting review).
export async function rememberSent(db, results, owner) {
  for (const { item, result } of results) {
    if (item.owner != null && item.owner !== owner) continue;
    if (result && item.type === "pin") await putDevice(db, result);
    if (result && item.type === "withdraw") await removeDevice(db, item.deviceId);
  }
}
