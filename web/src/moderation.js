// Moderators: the queue of pins awaiting review, each with its photos and duplicate
// candidates; approve, reject with a reason shown to the author, or merge into a candidate.
// Then the photos new contributors added to public pins: approve (listed with the pin from
// then on) or reject (deleted). Decisions need the network: they are sent at once, not queued.
import { request } from "./api.js";
import { fieldFacts, largePhoto, photoAlt, photoStrip } from "./details.js";
import { dayText, errorText, kindLabel, positionText, t } from "./i18n.js";
import { element, field, notice, openSheet, placeLink, refuse } from "./ui.js";

// A control of a queue item named with the item (its title): a screen reader's list of the
// sheet's buttons and links tells "Approve" of one pin from another's. The visible words come
// first (WCAG 2.5.3).
const ofItem = (text, title) => ({ "aria-label": `${text} — ${title}` });

// Photos not yet public, at the size a moderator can judge them; with ACT (a decision's),
// each can be deleted (a face or a plate on a pin worth approving), its button named with
// the item's TITLE.
const reviewPhotos = (photos, kind, act = null, title = "") => element("div", { class: "review-photos" },
  ...photos.map((photo, index) => {
    const shown = largePhoto(photo, photoAlt(index, kind));
    if (!act) return shown;
    const remove = act(() => request("DELETE", `photos/${photo.id}`), t("deletePhotoConfirm"));
    const text = t("deletePhoto", { n: index + 1 });
    return element("figure", {}, shown, element("button", { type: "button", class: "secondary", onclick: remove, ...ofItem(text, title) }, text));
  }));

// What a decision on an item decided, merged or deleted meanwhile is refused with.
const STALE = new Set([404, 409, 410, 412]);

// SEND: a decision's request; the queue is read again after it (which says so, the focus on
// its title: the buttons that had it are gone), or the refusal shown in MESSAGE. QUESTION, when
// given, is asked first: a decision is not undone from the queue (a merge only from the kept
// device's history), and its buttons sit side by side.
const acting = (message, refresh) => (send, question = null) => async () => {
  if (question && !window.confirm(question)) return;
  try {
    await send();
    await refresh({ decided: true });
  } catch (error) {
    // Decided meanwhile (by another moderator, in another tab): the queue is read again, as it
    // now stands, rather than the server's words about ETags.
    if (STALE.has(error?.status)) await refresh({ stale: true });
    else message.replaceChildren(notice(errorText(error), "error"));
  }
};

// Who made the pin or photo, and which day: what a moderator weighs it by.
const madeBy = (name, day) => t(name ? "madeBy" : "madeByGone", { name, day: dayText(day) });

function queueItem({ device, author, duplicate_candidates: candidates }, refresh) {
  const props = device.properties;
  const message = element("div", { "aria-live": "polite" });
  const act = acting(message, refresh);
  const title = `${kindLabel(props.kind)} — ${positionText(device.geometry.coordinates)}`;
  const heading = element("h3", { id: `item-${device.id}` }, title);
  const reason = field(t("reason"), "input", { name: "reason", maxlength: 1000, "aria-describedby": heading.id });
  const reject = element("button", { type: "button", class: "secondary", ...ofItem(t("reject"), title) }, t("reject"));
  reject.addEventListener("click", () => {
    if (!reason.control.value.trim()) {
      refuse(item, message, t("reasonNeeded"), [reason.control]);
      return null;
    }
    const json = { decision: "reject", reason: reason.control.value.trim() };
    return act(() => request("POST", `devices/${device.id}/review`, { json }))();
  });
  const item = element("li", { class: "queue-item", "data-device": device.id },
    heading,
    element("p", {}, madeBy(author, props.created_at)),
    // Where it stands, to check it against the map.
    element("p", {}, placeLink(device.geometry.coordinates, t("showOnMap"), ofItem(t("showOnMap"), title))),
    // Every field that approval publishes, as the device's details show them.
    fieldFacts(props).list,
    reviewPhotos(props.photos, props.kind, act, title),
    candidates.length ? element("div", {}, element("h4", {}, t("candidates")), ...candidates.map((candidate) => element("div", { class: "candidate" },
      element("p", {}, `${kindLabel(candidate.kind)} — ${Math.round(candidate.distance_m)} m — ${candidate.id}`),
      photoStrip(candidate.photos, candidate.kind, candidate.review_status),
      element("button", {
        type: "button",
        class: "secondary",
        onclick: act(() => request("POST", `devices/${candidate.id}/merge`, { json: { other: device.id } }),
          t("mergeConfirm", { id: candidate.id.slice(0, 8) })),
      }, t("mergeInto", { id: candidate.id.slice(0, 8) }))))) : null,
    element("p", { class: "actions" }, element("button", {
      type: "button",
      onclick: act(() => request("POST", `devices/${device.id}/review`, { json: { decision: "approve" } }), t("approveConfirm")),
      ...ofItem(t("approve"), title),
    }, t("approve"))),
    reason.node, reject, message);
  return item;
}

function photoItem(photo, refresh) {
  const message = element("div", { "aria-live": "polite" });
  const act = acting(message, refresh);
  const decide = (decision, question) => act(() => request("POST", `photos/${photo.id}/review`, { json: { decision } }), question);
  const title = `${kindLabel(photo.kind)} — ${positionText(photo.coordinates)}`;
  return element("li", { class: "queue-item", "data-photo": photo.id },
    element("h3", {}, title),
    element("p", {}, madeBy(photo.uploaded_by, photo.created_at)),
    // The device it was added to, on the map: what the photo should show.
    element("p", {}, placeLink(photo.coordinates, t("showOnMap"), ofItem(t("showOnMap"), title))),
    reviewPhotos([photo], photo.kind),
    element("p", { class: "actions" },
      element("button", { type: "button", onclick: decide("approve", t("approvePhotoConfirm")), ...ofItem(t("approvePhoto"), title) }, t("approvePhoto")),
      element("button", { type: "button", class: "secondary", onclick: decide("reject", t("rejectPhotoConfirm")), ...ofItem(t("rejectPhoto"), title) }, t("rejectPhoto"))),
    message);
}

export async function showModerationQueue(onDecision) {
  const list = element("ul", { class: "queue" });
  const photos = element("ul", { class: "queue", "aria-label": t("photosToReview") });
  const said = element("p", { role: "status" });
  const refresh = async ({ decided = false, stale = false } = {}) => {
    const { data } = await request("GET", "moderation/queue");
    list.replaceChildren(...data.items.map((item) => queueItem(item, refresh)));
    if (!data.items.length) list.append(element("li", {}, t("queueEmpty")));
    photos.replaceChildren(...data.photos.map((photo) => photoItem(photo, refresh)));
    if (!data.photos.length) photos.append(element("li", {}, t("photoQueueEmpty")));
    if (decided || stale) {
      said.textContent = t(stale ? "decidedMeanwhile" : "decisionRecorded");
      document.getElementById("sheet-title").focus();
    }
    onDecision();
  };
  openSheet(t("moderation"), element("div", {}, said, list, element("h3", {}, t("photosToReview")), photos),
    { again: () => showModerationQueue(onDecision) });
  try {
    await refresh();
  } catch (error) {
    list.replaceChildren(element("li", {}, notice(errorText(error), "error")));
  }
}
