// How each kind of outbox item reaches the API. A pin with a photo taken offline uploads the
// photo first and records its id on the item, so that a pass interrupted between the two
// requests does not upload it twice.
import { request, uploadPhoto } from "./api.js";

async function sendPin(item, progress) {
  if (item.photo && !item.photoId) {
    const { data } = await uploadPhoto(item.photo, `${item.key}-photo`);
    await progress({ photoId: data.id, photo: null });
  }
  const body = { ...item.feature, ...(item.photoId ? { photo_ids: [item.photoId] } : {}) };
  const query = item.force ? "?force=true" : "";
  const { data } = await request("POST", `devices${query}`, { json: body, headers: { "Idempotency-Key": item.key } });
  return data;
}

async function sendEdit(item) {
  const { data } = await request("PATCH", `devices/${item.deviceId}`, {
    json: item.patch,
    headers: { "If-Match": item.etag, "Idempotency-Key": item.key },
  });
  return data;
}

async function sendConfirmation(item) {
  const { data } = await request("POST", `devices/${item.deviceId}/confirmations`, {
    json: { verdict: item.verdict },
    headers: { "Idempotency-Key": item.key },
  });
  return data;
}

const SENDERS = { pin: sendPin, edit: sendEdit, confirm: sendConfirmation };

export const sendOperation = (item, progress) => SENDERS[item.type](item, progress);
