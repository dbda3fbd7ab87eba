// One device: its details and photos, verification level, history, the one-tap answers "still
// there / not found / wrong details" (sent through the outbox), and editing for its author
// while it awaits review (moderators: always).
import { OfflineError, request, showImage } from "./api.js";
import { isModerator, session, showAccount } from "./accounts.js";
import { dayText, errorText, kindLabel, numberText, problemText, t, valueLabel } from "./i18n.js";
import { revealBesideSheet } from "./map.js";
import { deletePhotoButton } from "./photo-deletion.js";
import { startPinning } from "./pinning.js";
import { deviceIdOf } from "./queue.js";
import { visibleText } from "./vocabulary.js";
import { closeSheet, element, field, notice, openSheet } from "./ui.js";

const FIELDS = ["camera_type", "mount", "direction", "angle", "height", "zone", "surveillance",
  "operator", "operator_type", "status", "observed_at", "notes", "source", "accuracy_m", "tags"];
// Fields whose values come from the vocabulary (shown translated), not from contributors.
const VOCABULARY_FIELDS = new Set(["camera_type", "mount", "zone", "surveillance", "operator_type", "status"]);
const VERDICTS = [["still_there", "stillThere"], ["not_found", "notFound"], ["wrong_details", "wrongDetails"]];

const shownNumber = (value) => (typeof value === "number" ? numberText(value) : String(value));

// The fields PROPS sets, as a list of facts (what the public sees of a device: a moderator
// checks every one before approving it); ADD puts more after them.
export function fieldFacts(props) {
  const list = element("dl", { class: "facts" });
  const add = (title, value) => list.append(element("dt", {}, title), element("dd", {}, value));
  for (const name of FIELDS) {
    const value = props[name];
    if (value === null || value === undefined || value === "") continue;
    if (name === "source") add(t(name), element("a", { href: value, rel: "noopener noreferrer nofollow" }, value));
    else if (VOCABULARY_FIELDS.has(name)) add(t(name), valueLabel(value));
    else if (name === "observed_at") add(t(name), dayText(value));
    // Free tags (OpenStreetMap's, or a client's): each key and value as typed, which approval
    // publishes too.
    else if (name === "tags") {
      if (Object.keys(value).length) add(t(name), Object.entries(value).map(([key, text]) => `${key}=${text}`).join("; "));
    }
    else add(t(name), Array.isArray(value) ? value.map(shownNumber).join(", ") : shownNumber(value));
  }
  return { list, add };
}

function facts(feature) {
  const props = feature.properties;
  const { list, add } = fieldFacts(props);
  if (props.verification) add(t("verification"), valueLabel(props.verification));
  if (props.review_status) add(t("reviewStatus"), valueLabel(props.review_status) + (props.review_reason ? ` (${props.review_reason})` : ""));
  if (props.last_confirmed_at) add(t("lastConfirmed"), dayText(props.last_confirmed_at));
  add(t("deviceId"), feature.id);
  return list;
}

// A photo's image at URL (api.js's showImage: with the token unless IS_PUBLIC).
function photoImage(url, { alt, isPublic = false, width, height }) {
  const img = element("img", { alt, width, height });
  showImage(img, url, { isPublic }).catch(() => { img.alt = t("photoOffline", { alt }); });
  // A public photo loads as a plain image, which the service worker keeps once seen: one never
  // seen fails offline, said so rather than left a broken image.
  img.addEventListener("error", () => { if (!navigator.onLine) img.alt = t("photoOffline", { alt }); });
  return img;
}

// A photo not yet public, at the size one can judge it: fetched with the token (a link to it
// would open without the token, and answer 404).
export const largePhoto = (photo, alt) => photoImage(photo.large, { alt, width: photo.width, height: photo.height });

export const photoAlt = (index, kind) => t("photoAlt", { n: index + 1, kind: kindLabel(kind) });

// The thumbnails of a device's PHOTOS, given its KIND and REVIEW_STATUS, each a link to the
// large photo; the large photo of a device not yet public is shown below them instead. With
// DELETION ({ deleted }), each has a button that deletes it, saying below them how that went;
// DELETED(photo) runs once one is gone.
export function photoStrip(photos, kind, reviewStatus, deletion = null) {
  const isPublic = reviewStatus === "approved";
  const large = element("div", { class: "review-photos" });
  const said = element("div", { "aria-live": "polite" });
  const thumbnails = (photos || []).map((photo, index) => {
    const alt = photoAlt(index, kind);
    const link = element("a", { href: photo.large, target: "_blank", rel: "noopener" },
      photoImage(photo.thumbnail, { alt, isPublic, width: 96, height: 96 }));
    if (!isPublic && session()) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        large.replaceChildren(largePhoto(photo, alt));
      });
    }
    if (!deletion) return link;
    const shown = element("figure", { class: "deletable-photo" }, link);
    shown.append(deletePhotoButton(photo, t("deletePhoto", { n: index + 1 }), {
      message: said,
      done: () => {
        shown.remove();
        large.replaceChildren();
        said.replaceChildren(notice(t("photoDeleted")));
        deletion.deleted(photo);
      },
    }));
    return shown;
  });
  return element("div", {}, element("div", { class: "photos" }, ...thumbnails), large, said);
}

// Fields of a revision named as the sheet names them (the others by their own label).
const HISTORY_FIELDS = { geometry: "position", review_status: "reviewStatus", verification: "verification", last_confirmed_at: "lastConfirmed" };

// A value of a change as a line of history shows it: a day for a time, the vocabulary's words,
// "—" for none; null for what a line cannot hold (a position, a list, a long text).
function shownValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return numberText(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value !== "string" || value.length > 40) return null;
  return /^\d{4}-\d{2}-\d{2}T/.test(value) ? dayText(value) : valueLabel(value);
}

// One change of a revision: the field, and from what to what when a line can say it (not for
// a pin's creation, whose every field came from nothing).
function changeText(name, change, action) {
  const label = t(HISTORY_FIELDS[name] || name);
  const [before, after] = Array.isArray(change) ? change.map(shownValue) : [null, null];
  return action === "create" || before === null || after === null ? label : `${label} ${before} → ${after}`;
}

const isEmpty = (value) => value === null || value === "" || (typeof value === "object" && Object.keys(value).length === 0);

// The merges into this device not undone since, told to moderators with the duplicate each took
// in (`other`): theirs to undo when wrong. A duplicate's own merge revision is its tombstone's.
function undoableMerges(revisions) {
  const latest = new Map(revisions.filter((revision) => revision.other).map((revision) => [revision.other, revision]));
  return new Set([...latest.values()].filter((revision) => revision.action === "merge" && !("merged_into" in (revision.changes || {}))));
}

// A line of history: the day, the action and who made it, what changed; for moderators, the
// other device of a merge or of its undoing.
function revisionText(revision) {
  // A creation names the fields it gave a value (tags left empty are none).
  const given = ([, change]) => revision.action !== "create" || !Array.isArray(change) || !isEmpty(change[1]);
  const changes = Object.entries(revision.changes || {}).filter(given).map(([name, change]) => changeText(name, change, revision.action));
  if (revision.other) changes.unshift(t("otherDevice", { id: revision.other.slice(0, 8) }));
  return t("labelled", {
    label: `${dayText(revision.created_at)} — ${valueLabel(revision.action)}${revision.author ? ` — ${revision.author}` : ""}`,
    value: changes.join(", "),
  });
}

// SAID: what to show above the history (an undoing's outcome). Its button (just before BOX)
// then says the history shows, however it was asked (the button, or an undoing's sheet).
async function history(feature, box, context, said = null) {
  const { data } = await request("GET", `devices/${feature.id}/history`);
  const undoable = undoableMerges(data.revisions);
  box.replaceChildren(...(said ? [said] : []), element("ol", { class: "history" }, ...data.revisions.map((revision) => element("li", {},
    revisionText(revision),
    undoable.has(revision) ? undoMergeButton(revision.other, feature, box, context) : null))));
  const toggle = box.previousElementSibling;
  if (toggle?.classList.contains("history-toggle")) historyShown(toggle, true);
}

function historyShown(button, shown) {
  button.setAttribute("aria-expanded", String(shown));
  button.textContent = t(shown ? "hideHistory" : "showHistory");
}

// Brings the duplicate OTHER back, with the votes and photos the merge moved, naming the device
// it was merged into (a history read before another moderator undid it undoes nothing else).
// The device is shown again as it now is, its history read again, and the map shows both.
function undoMergeButton(other, feature, box, context) {
  return element("button", {
    type: "button",
    class: "secondary",
    onclick: async () => {
      if (!window.confirm(t("unmergeConfirm", { id: other.slice(0, 8) }))) return;
      try {
        await request("POST", `devices/${other}/unmerge`, { json: { merged_into: feature.id } });
      } catch (error) {
        // Decided meanwhile, most likely: the history as it now stands, and why.
        await history(feature, box, context, notice(errorText(error), "error"));
        return;
      }
      const { data } = await request("GET", `devices/${feature.id}`);
      showDevice(data, context);
      const fresh = document.querySelector("#sheet .device-details .history-box");
      const said = notice(t("unmerged", { id: other.slice(0, 8) }));
      await history(data, fresh, context, said);
      said.scrollIntoView({ block: "nearest" });
      await context.mapApi.reload();
    },
  }, t("unmerge", { id: other.slice(0, 8) }));
}

// What the outbox keeps of device ID, not sent yet or refused (and why), with what can be done
// before it goes: a pin corrected (a kind or place got wrong in the street) or discarded, an
// edit or a withdrawal discarded. The latest such item, when several wait.
const WAITING = { pin: "pendingPin", edit: "pendingEdit", withdraw: "pendingWithdraw" };

async function showQueued(feature, { mapApi, outbox, message }) {
  const item = (await outbox.all()).filter((queued) => WAITING[queued.type] && deviceIdOf(queued) === feature.id).at(-1);
  if (!item) return;
  const state = item.state === "refused"
    ? notice(t("refusedBecause", { detail: problemText(item.problem) }), "error")
    : notice(t(WAITING[item.type]));
  const discard = discardButton(item, { outbox, after: closeSheet });
  // An edit not sent yet is corrected as a pin is (one change, with the fields of both), and
  // its device still withdrawn by its author: before, only Discard was offered, and a second
  // change meant typing the first again.
  const actions = item.type === "pin" ? queuedPinActions(item, { mapApi, outbox })
    : item.type === "edit" && !UNCORRECTABLE.has(item.problem?.status) ? [
      element("button", { type: "button", onclick: () => startPinning({ mapApi, outbox, device: feature, etag: item.etag, queuedEdit: item }) }, t("correctChange")),
      ...(withdrawnByAuthor(feature) ? [withdrawButton(feature, outbox)] : []),
      discard,
    ] : [discard];
  message.replaceChildren(state, element("p", { class: "actions" }, ...actions));
}

// Refusals a corrected edit would meet again: not allowed, the device gone, or changed
// meanwhile (the outbox applies it over the new version).
const UNCORRECTABLE = new Set([403, 404, 410, 412]);

// A pin awaiting review is its author's to withdraw; moderators edit it, not withdraw it as
// one's own.
const withdrawnByAuthor = (feature) => feature.properties.review_status === "pending" && !isModerator();

function withdrawButton(feature, outbox) {
  return element("button", {
    type: "button",
    class: "secondary",
    onclick: async () => {
      if (!window.confirm(t("withdrawConfirm"))) return;
      await outbox.add({ type: "withdraw", deviceId: feature.id, kind: feature.properties.kind });
      closeSheet();
      await outbox.flush();
    },
  }, t("withdraw"));
}

// The button that discards ITEM from the outbox once the contributor confirms; AFTER runs then.
export function discardButton(item, { outbox, after }) {
  return element("button", {
    type: "button",
    class: "secondary",
    onclick: async () => {
      if (!window.confirm(t("discardConfirm"))) return;
      await outbox.discard(item.seq);
      after();
      outbox.flush(); // what waited behind it goes now
    },
  }, t("discard"));
}

// The buttons that correct or discard ITEM, a pin in the outbox; AFTER runs once it is discarded.
export function queuedPinActions(item, { mapApi, outbox, after = closeSheet }) {
  return [
    element("button", { type: "button", onclick: () => startPinning({ mapApi, outbox, queued: item }) }, t("correctPin")),
    discardButton(item, { outbox, after }),
  ];
}

export function showDevice(feature, context) {
  const { mapApi, outbox, db, pending = false } = context;
  const props = feature.properties;
  // Focusable: it takes the focus from a vote's button, disabled as the vote is sent.
  const message = element("div", { "aria-live": "polite", tabindex: "-1" });
  let shownFacts = facts(feature);
  // The server shows a pin awaiting review, or rejected, to its author and moderators only:
  // one seen here is this contributor's own, on whichever phone it was made (not theirs to
  // vote on). Theirs to edit or withdraw while it awaits review; once rejected, to pin again.
  // Its photos are the author's own (no one else can add one to a pin they cannot see): theirs
  // to delete, as any photo is a moderator's.
  const own = props.review_status === "pending";
  const rejected = props.review_status === "rejected";
  const deletion = !pending && session() && (own || rejected || isModerator()) ? {
    deleted: (photo) => {
      props.photos = props.photos.filter((kept) => kept.id !== photo.id);
      mapApi.reload();
    },
  } : null;
  const body = element("div", { class: "stack device-details" }, shownFacts, photoStrip(props.photos, props.kind, props.review_status, deletion), message);
  // The device stays in sight beside its details, not under them, as the sheet grows with
  // what is added below and later (revealBesideSheet).
  const [lon, lat] = feature.geometry.coordinates;
  let stopRevealing = null;
  const closed = () => stopRevealing?.();
  // Kept in the sheet it was in (a pin being placed, its form not to be lost): nothing moves.
  const from = context.from; // the cluster's list it was chosen in, which Back opens again
  if (!openSheet(kindLabel(props.kind), body, { again: () => showDevice(feature, context), closed, from })) return;
  stopRevealing = revealBesideSheet(mapApi.map, [lat, lon]);
  if (pending) {
    showQueued(feature, { mapApi, outbox, message });
    return;
  }
  const verdicts = (own || rejected) && !isModerator() ? [] : VERDICTS;
  if (rejected && !isModerator()) message.replaceChildren(notice(t("pinAgainIfThere")));
  // One answer a device: a second tap while the first is sent, or after, would only be
  // refused (one vote a month). A refused one gives the buttons back.
  const answerButtons = [];
  const offerAnswers = (offered) => answerButtons.forEach((button) => { button.disabled = !offered; });
  async function vote(verdict, comment = "") {
    const focused = answerButtons.includes(document.activeElement);
    offerAnswers(false);
    if (focused) message.focus(); // not lost to the page: the answer shows there
    const item = await outbox.add({ type: "confirm", deviceId: feature.id, kind: feature.properties.kind, verdict, ...(comment ? { comment } : {}) });
    message.replaceChildren(notice(t("voteKept")));
    // Told once the server has answered: recorded, or refused and why; by this pass, or by a
    // later one once the network is back.
    const answer = (await outbox.flush()).find((result) => result.item.seq === item.seq);
    if (answer) showAnswer(answer, comment);
    else outbox.whenAnswered(item.seq).then((later) => showAnswer(later, comment));
  }
  function showAnswer(answer, comment) {
    if (answer.result) {
      message.replaceChildren(notice(t("voteQueued")));
      // The device's level after this vote, shown at once.
      Object.assign(props, { verification: answer.result.verification, last_confirmed_at: answer.result.last_confirmed_at });
      const fresh = facts(feature);
      shownFacts.replaceWith(fresh);
      shownFacts = fresh;
    }
    // A refused vote has left the outbox (queue.js). The announcer says why (app.js): shown
    // here, not said a second time.
    // What the contributor wrote stays in its form, to send later or copy elsewhere.
    else if (answer.error) {
      offerAnswers(true);
      message.replaceChildren(notice(t("voteRefused", { detail: errorText(answer.error) }), "error", false));
      if (comment) message.append(whatIsWrongForm(comment).form);
    }
  }
  // Wrong details: what is wrong, said in a few words, is what moderators act on.
  function whatIsWrongForm(text = "") {
    // Required: a vote saying nothing of what is wrong is refused (it would count as a sighting).
    const comment = field(t("whatIsWrong"), "textarea", { name: "comment", maxlength: 1000, rows: 3, required: true });
    comment.control.value = text;
    const send = element("button", { type: "submit" }, t("sendVote"));
    answerButtons.push(send); // one answer: disabled while it is sent, as the others
    const form = element("form", { class: "stack" }, comment.node, element("p", { class: "actions" }, send));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const said = visibleText(comment.control.value);
      // Spaces and invisible characters alone pass the browser's check, not the server's:
      // emptied, the field says it is required (ui.js words the browser's message).
      if (said === null) {
        comment.control.value = "";
        return comment.control.reportValidity();
      }
      if (!send.disabled) vote("wrong_details", said);
    });
    return { form, comment };
  }
  function askWhatIsWrong() {
    const { form, comment } = whatIsWrongForm();
    message.replaceChildren(form);
    comment.control.focus();
  }
  answerButtons.push(...verdicts.map(([verdict, label]) => element("button", {
    type: "button",
    onclick: () => {
      if (!session()) return showAccount(db);
      return verdict === "wrong_details" ? askWhatIsWrong() : vote(verdict);
    },
  }, t(label))));
  // The answers, named as a group; Edit and Withdraw apart, which are no answers (one's own
  // pin has no answers at all).
  const votes = answerButtons.length ? element("div", { class: "actions", role: "group", "aria-label": t("verification") }, ...answerButtons) : "";
  const changes = element("div", { class: "actions" });
  const historyBox = element("div", { class: "history-box" });
  // A disclosure: shown, the history is hidden by the same button, which says so.
  const historyButton = element("button", { type: "button", class: "secondary history-toggle", "aria-expanded": "false" }, t("showHistory"));
  historyButton.addEventListener("click", () => {
    if (historyButton.getAttribute("aria-expanded") === "true") {
      historyBox.replaceChildren();
      return historyShown(historyButton, false);
    }
    return history(feature, historyBox, context).catch((error) => historyBox.replaceChildren(notice(errorText(error), "error")));
  });
  body.append(votes, changes, element("h3", {}, t("history")), historyButton, historyBox);
  if (!session() || !(own || isModerator())) return;
  const edit = element("button", { type: "button", class: "secondary" }, t("edit"));
  edit.addEventListener("click", async () => {
    try {
      const { data, etag } = await request("GET", `devices/${feature.id}`);
      await startPinning({ mapApi, outbox, device: data, etag });
    } catch (error) {
      if (!(error instanceof OfflineError)) return message.replaceChildren(notice(errorText(error), "error"));
      return startPinning({ mapApi, outbox, device: feature, etag: null });
    }
  });
  changes.append(edit);
  if (withdrawnByAuthor(feature)) changes.append(withdrawButton(feature, outbox));
}
