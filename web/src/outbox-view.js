// The outbox as the contributor sees it: a counter of changes waiting or refused, the list of
// them, and how to resolve a refusal. A pin (or an edit moving a device) refused as a likely
// duplicate (409) shows the candidates on the map with their photos: confirm one of them
// instead, or insist.
import { request } from "./api.js";
import { deviceIdOf } from "./queue.js";
import { onHandedOverProgress } from "./operations.js";
import { kindLabel, numberText, positionText, problemText, t, timeText, valueLabel } from "./i18n.js";
import { discardButton, photoStrip, queuedPinActions } from "./details.js";
import { closeSheet, element, notice, openSheet, whenSheetFree } from "./ui.js";

// The device a change is about, by its kind (kept with the change; an id means nothing to a
// contributor), or the start of its id for changes kept before kinds were.
const deviceOf = (item) => {
  return item.kind ? kindLabel(item.kind) : item.deviceId.slice(0, 8);
};

const describe = (item) => {
  const labelled = (label, value) => t("labelled", { label: t(label), value });
  if (item.type === "pin") return labelled("pinDevice", kindLabel(item.feature.properties.kind));
  if (item.type === "edit") return labelled("edit", deviceOf(item));
  if (item.type === "withdraw") return labelled("withdraw", deviceOf(item));
  return labelled("verification", `${valueLabel(item.verdict)} — ${deviceOf(item)}`);
};

// What an edit changed, as the form labels it: shown when it is refused, so that nothing the
// contributor typed is lost from sight (and sent as the comment of a vote instead).
const MAX_COMMENT_CHARS = 1000;
function changesText(patch) {
  const number = (value) => (typeof value === "number" ? numberText(value) : value);
  const shown = (value) => (Array.isArray(value) ? value.map(number).join(", ") : value === null ? "—" : typeof value === "number" ? numberText(value) : valueLabel(value));
  const changes = Object.entries(patch.properties || {}).map(([name, value]) => t("labelled", { label: t(name), value: shown(value) }));
  if (patch.geometry) {
    changes.push(t("labelled", { label: t("position"), value: positionText(patch.geometry.coordinates, 6) }));
  }
  return changes.join(t("listSeparator")).slice(0, MAX_COMMENT_CHARS);
}

// Refusals that sending the same change again cannot overcome: not valid as sent (400, 422; a
// photo too large or not an image, 413, 415: corrected, or sent without it), not allowed
// (403), the device gone (404, 410), or changed meanwhile (412: applied over the new version).
const FINAL_REFUSALS = new Set([400, 403, 404, 410, 412, 413, 415, 422]);

const isDuplicate = (item) => item.state === "refused" && item.problem?.status === 409 && item.problem.candidates?.length;

// Refusals of a photo (too large, not an image the server takes, damaged).
const PHOTO_REFUSALS = new Set([413, 415, 422]);

export function createOutboxView({ outbox, mapApi }) {
  const button = document.getElementById("outbox-button");

  async function resolveDuplicate(item) {
    const { candidates } = item.problem;
    const places = await Promise.all(candidates.map((candidate) => request("GET", `devices/${candidate.id}`)
      .then(({ data }) => data.geometry.coordinates, () => null)));
    mapApi.highlight(places.filter(Boolean));
    // The pin's photo goes with the vote, as evidence (uploaded first if kept on the phone);
    // the pin leaves the outbox once the vote is accepted (queue.js), not before.
    // A pin's kind, or an edit's (moved onto a device of its kind, or given that kind).
    const kind = item.type === "pin" ? item.feature.properties.kind : (item.patch.properties.kind ?? item.kind);
    // Once: a double tap would queue a second vote, refused.
    let confirming = false;
    const confirmIt = (candidate) => async () => {
      if (confirming) return;
      confirming = true;
      await outbox.add({ type: "confirm", deviceId: candidate.id, kind, verdict: "still_there", photo: item.photo, photoId: item.photoId, replaces: item.seq });
      closeSheet();
      await outbox.flush();
    };
    const discardIt = async () => {
      if (!window.confirm(t("discardConfirm"))) return;
      await outbox.discard(item.seq);
      closeSheet();
    };
    const insist = element("button", { type: "button" }, t(item.type === "pin" ? "insist" : "insistEdit"));
    insist.addEventListener("click", async () => {
      await outbox.retry(item.seq, { force: true });
      closeSheet();
      await outbox.flush();
    });
    openSheet(t("duplicateTitle"), element("div", { class: "stack duplicates" },
      element("ul", { class: "candidates", "aria-label": t("candidates") }, ...candidates.map((candidate) => element("li", {},
        element("p", {}, t("duplicateText", { distance: Math.round(candidate.distance_m) })),
        element("p", {}, `${kindLabel(candidate.kind)} — ${valueLabel(candidate.review_status)} — ${candidate.id.slice(0, 8)}`),
        photoStrip(candidate.photos, candidate.kind, candidate.review_status),
        // One's own pin is nothing to confirm (one source still): the new one may go instead.
        candidate.yours
          ? element("div", {}, notice(t("yoursAlready")), element("button", { type: "button", onclick: discardIt }, t(item.type === "pin" ? "discardNewPin" : "discardChange")))
          : element("button", { type: "button", onclick: confirmIt(candidate) }, t("confirmInstead"))))),
      insist), { closed: () => mapApi.highlight([]), again: () => resolveDuplicate(item) });
  }

  // A pin just refused as a likely duplicate, put before the contributor once the sheet is
  // free (read again then: it may have been resolved from the outbox meanwhile).
  function offerDuplicate(item) {
    whenSheetFree(async () => {
      const current = (await outbox.all()).find((other) => other.seq === item.seq);
      if (current && isDuplicate(current)) await resolveDuplicate(current);
    });
  }

  function itemRow(item, items) {
    const row = element("li", { class: `outbox-item ${item.state}` }, element("p", {}, describe(item)));
    if (item.state !== "refused") {
      // Not sent yet for a reason the server gave (a rate limit...): it is sent again later,
      // not before the time it said.
      if (item.problem) {
        const after = item.notBefore ? ` ${t("sentFrom", { time: timeText(new Date(item.notBefore)) })}` : "";
        row.append(notice(t("waitingBecause", { detail: problemText(item.problem) }) + after));
      }
      // Until it goes, a pin may be corrected, and anything discarded.
      row.append(...actions(item, item.type === "pin"));
      return row;
    }
    row.append(notice(t("refusedBecause", { detail: problemText(item.problem) }), "error"));
    // A vote sent in its place leaves it once accepted; refused, it stays here.
    if (items.some((other) => other.replaces === item.seq)) {
      row.append(notice(t("replacedByVote")));
      return row;
    }
    const sendAgain = (changes = {}) => async () => { await outbox.retry(item.seq, changes); await outbox.flush(); showList(); };
    if (isDuplicate(item)) {
      row.append(element("button", { type: "button", onclick: () => resolveDuplicate(item) }, t("duplicateTitle")));
    } else if (!FINAL_REFUSALS.has(item.problem?.status)) {
      row.append(element("button", { type: "button", onclick: sendAgain() }, t("retry")));
    }
    // Refused at its photo (not an image the server takes, too large): the rest can still go,
    // if there is a rest (an edit that only added the photo can only be discarded).
    const rest = item.type !== "edit" || item.patch.geometry || Object.keys(item.patch.properties).length;
    if (item.photo && !item.photoId && PHOTO_REFUSALS.has(item.problem?.status) && rest) {
      row.append(element("button", { type: "button", onclick: sendAgain({ photo: null }) }, t("sendWithoutPhoto")));
    }
    // An edit, or a pin whose correction became an edit of the pin stored (its first answer
    // lost: operations.js, sendCorrection).
    const details = { edit: item.patch, pin: item.feature }[item.type];
    if (details) {
      const changes = changesText(details);
      if (changes && item.type === "edit") row.append(element("p", { class: "changes" }, t("yourChanges", { changes })));
      // No longer the author's to edit (approved meanwhile, or published at once): what they
      // saw goes to the community as a vote on the details, with their text and photo.
      if (item.problem?.status === 403) {
        const kind = item.kind ?? item.feature.properties.kind;
        row.append(element("button", {
          type: "button",
          onclick: async () => {
            await outbox.add({ type: "confirm", deviceId: deviceIdOf(item), kind, verdict: "wrong_details", comment: changes, photo: item.photo, photoId: item.photoId, replaces: item.seq });
            await outbox.flush();
            showList();
          },
        }, t("reportWrongDetails")));
      }
    }
    // An edit of a device changed meanwhile: applied over the new version if the contributor says so.
    if (item.type === "edit" && item.problem?.status === 412) {
      row.append(element("button", {
        type: "button",
        onclick: async () => {
          const { etag } = await request("GET", `devices/${item.deviceId}`);
          await sendAgain({ etag })();
        },
      }, t("applyOverNewVersion")));
    }
    // A refused pin (not a likely duplicate) may be corrected and sent again.
    row.append(...actions(item, item.type === "pin" && !isDuplicate(item)));
    return row;
  }

  // Discard ITEM, and correct it first if CORRECTABLE (a pin); the list is shown again after.
  function actions(item, correctable) {
    const context = { mapApi, outbox, after: showList };
    return correctable ? queuedPinActions(item, context) : [discardButton(item, context)];
  }

  // The list while it shows: drawn again as a pass sends or refuses its items, so that it never
  // offers to correct or discard a change already sent.
  let list = null;

  async function showList() {
    const items = await outbox.all();
    if (!items.length) return closeSheet(); // everything sent or discarded: nothing to show
    const shown = element("ul", { class: "outbox" }, ...items.map((item) => itemRow(item, items)));
    if (openSheet(t("outbox"), shown, { again: showList, closed: () => { list = null; } })) list = shown;
  }

  function redrawList(items) {
    if (!list?.isConnected) return;
    if (!items.length) return closeSheet();
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren(...items.map((item) => itemRow(item, items)));
    if (hadFocus) document.getElementById("sheet-title").focus(); // its button may be gone
  }

  function update(items) {
    redrawList(items);
    const refused = items.filter((item) => item.state === "refused").length;
    const pending = items.length - refused;
    // Hidden once everything is sent: a keyboard or screen reader focused on it goes on from
    // the map, not from the top of the page.
    const hadFocus = document.activeElement === button;
    button.hidden = items.length === 0;
    if (hadFocus && button.hidden) document.getElementById("map").focus();
    counted = [pending ? t("pending", { count: pending }) : "", refused ? t("refused", { count: refused }) : ""].filter(Boolean).join(" · ");
    button.textContent = counted;
    button.classList.toggle("has-refused", refused > 0);
    mapApi.showPending(items);
  }

  // A photo the form was sending when it was saved: how far it is, beside the count.
  let counted = "";
  onHandedOverProgress((fraction) => {
    if (button.hidden) return;
    button.textContent = `${counted} · ${t("photoSent", { percent: Math.round(fraction * 100) })}`;
  });

  button.addEventListener("click", showList);
  outbox.onChange(update);
  return { update, offerDuplicate, isDuplicate };
}
