// Accounts: register with a pseudonym, sign in, sign out (the token is revoked on the server)
// here or everywhere, change the password, and "my contributions" with their review status. The token stays on this phone, in IndexedDB.
import { API, ApiError, OfflineError, request, setToken, showImage, withholdToken } from "./api.js";
import { dayText, errorText, kindLabel, t, valueLabel } from "./i18n.js";
import { deletePhotoButton } from "./photo-deletion.js";
import { SessionChanged, isTransient } from "./queue.js";
import { deleteSetting, forgetAccountData, getSetting, setSetting } from "./store.js";
import { element, field, markInvalid, namedControls, notice, openSheet, placeLink, refuse } from "./ui.js";

let current = null;
// The server ended the session (its token expired or was revoked): said until signing in again.
let ended = false;
const listeners = [];

export const session = () => current;
export const isModerator = () => ["moderator", "admin"].includes(current?.role);
export const onSessionChange = (listener) => listeners.push(listener);
// The token goes on again after a sign-out that failed (a server error, no network).
const tokenBackListeners = [];
export const onTokenBack = (listener) => tokenBackListeners.push(listener);

// FORGOTTEN: the phone has just forgotten what the account saw (a sign-out, a session ended).
function changed(next, { forgotten = false } = {}) {
  current = next;
  setToken(next?.token ?? null);
  for (const listener of listeners) listener(next, { forgotten });
}

export async function restoreSession(db) {
  changed((await getSetting(db, "session")) || null);
}

// One request: the answer that gives the token names its account. A second one (GET /me)
// could fail once the token was made, which then stayed valid on the server, held by no one.
async function signIn(db, username, password) {
  const { data: token } = await request("POST", "auth/tokens", { json: { username, password, name: "Vigie app" } });
  const next = { token: token.token, tokenId: token.id, username: token.user.username, role: token.user.role, userId: token.user.id };
  await setSetting(db, "session", next);
  ended = false;
  changed(next);
}

// The phone forgets the session and what it kept for the account; the outbox keeps the
// account's unsent items, sent once it signs in again (queue.js).
async function forgetSession(db) {
  // The session goes first: a sync pass or a load still running with it keeps nothing more,
  // and an outbox pass sends none of the account's items without it (queue.js).
  current = null;
  setToken(null);
  unansweredPasswordChange = null;
  await deleteSetting(db, "session");
  await forgetAccountData(db);
  changed(null, { forgotten: true });
}

// SEND(item, progress, token) given the token of the item's own account, read in the same
// instant as the check that this account is still the one signed in: an outbox pass that a
// sign-out, a 401 or another account's sign-in overtook sends none of the items left, neither
// without a token nor with another account's (operations.js). An item made before items had
// an owner goes with the session's token.
export const withOwnToken = (send) => (item, progress) => {
  if (item.owner != null && item.owner !== current?.userId) throw new SessionChanged();
  return send(item, progress, current?.token ?? null);
};

// The server no longer knows TOKEN (expired, revoked on another phone): if it is the
// session's, the session is over, as if signed out here. True if it ended the session.
export async function endRefusedSession(db, token) {
  if (ended || current?.token !== token) return false;
  ended = true;
  await forgetSession(db);
  return true;
}

// The outbox (queue.js), given by app.js: what signing out discards goes through its Discard.
let outbox = null;
export const useOutbox = (queue) => {
  outbox = queue;
  // A change gone from the outbox (sent) while the contributions show: they are read again.
  let before = Infinity;
  queue.onChange((items) => {
    if (items.length < before && shownContributions?.isConnected) fillContributions(shownContributions);
    before = items.length;
  });
};

// Given up through the outbox's Discard: gone from the phone (its list told), then what each
// may have left on the server (a pin stored, its answer lost; a photo) taken back, while the
// token still can. Those sent meanwhile, no longer in the outbox, are left alone (queue.js).
async function discardChanges(items) {
  for (const { seq } of items) await outbox.discard(seq);
}

// EVERYWHERE: every token of the account is revoked, on every phone and computer.
async function signOut(db, { everywhere = false } = {}) {
  if (!current) return; // ended meanwhile (its token refused): nothing is left to revoke
  const { token, tokenId } = current;
  withholdToken(true);
  try {
    await request("DELETE", everywhere ? "auth/tokens" : `auth/tokens/${tokenId}`, { token });
  } catch (error) {
    // 401: the token had already expired or been revoked; nothing is left to revoke.
    if (!(error instanceof ApiError && error.status === 401)) {
      // Still signed in: what the map read meanwhile lacks the account's pins awaiting
      // review, so it reads again with the token.
      withholdToken(false);
      for (const listener of tokenBackListeners) listener();
      throw error;
    }
  } finally {
    withholdToken(false);
  }
  await forgetSession(db);
}

// A registration refused because the name is taken.
const nameTaken = (error) => error?.status === 409 && Boolean(error.problem?.errors?.some((e) => e.field === "username"));

function credentialsForm(db, kind) {
  // A new pseudonym's rule is said before it is refused (é is a letter to anyone).
  const username = field(t(kind === "register" ? "newUsername" : "username"), "input", { name: "username", autocomplete: "username", required: true, minlength: 3, maxlength: 32 });
  const password = field(t("password"), "input", {
    name: "password", type: "password", required: true, minlength: 10,
    autocomplete: kind === "register" ? "new-password" : "current-password",
  });
  const message = element("div", { "aria-live": "polite" });
  const unanswered = new Set(); // names this form asked to register, with no answer back
  const form = element("form", { class: "stack", "aria-label": t(kind) },
    element("h3", {}, t(kind)), username.node, password.node,
    element("button", { type: "submit" }, t(kind)), message);
  // Once at a time: a double tap sent a second registration, refused as a name taken.
  const submit = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    try {
      const [name, secret] = [username.control.value, password.control.value];
      if (kind === "register") {
        // Made already, the answer to a try from this form lost on a flaky network: this name
        // and password sign in to it. Only then: a name taken by someone else stays refused,
        // with no sign-in tried (each wrong one would count against its owner's limit).
        await request("POST", "auth/register", { json: { username: name, password: secret } }).catch((error) => {
          if (isTransient(error)) unanswered.add(name);
          if (!(nameTaken(error) && unanswered.has(name))) throw error;
          return signIn(db, name, secret).catch(() => { throw error; });
        });
      }
      if (!session()) await signIn(db, name, secret);
      showAccount(db);
    } catch (error) {
      refuse(form, message, errorText(error), namedControls(form, error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// One key for the same change of the same account until it is answered, whichever form sends
// it (the Account sheet is drawn anew when reopened or translated): sent again after its answer
// was lost, the change is told it was made, not that the current password is wrong.
let unansweredPasswordChange = null;

function passwordChangeKey(change) {
  const same = unansweredPasswordChange?.userId === current?.userId
    && JSON.stringify(unansweredPasswordChange.change) === JSON.stringify(change);
  if (!same) unansweredPasswordChange = { userId: current?.userId, change, key: crypto.randomUUID() };
  return unansweredPasswordChange.key;
}

// A new password: the server revokes every other token of the account (this one stays).
function passwordForm() {
  const current = field(t("current_password"), "input", {
    name: "current_password", type: "password", required: true, autocomplete: "current-password",
  });
  const next = field(t("new_password"), "input", {
    name: "new_password", type: "password", required: true, minlength: 10, autocomplete: "new-password",
  });
  const message = element("div", { "aria-live": "polite" });
  const form = element("form", { class: "stack", "aria-label": t("changePassword") },
    element("h3", {}, t("changePassword")), current.node, next.node,
    element("button", { type: "submit" }, t("changePassword")), message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const change = { current_password: current.control.value, new_password: next.control.value };
    const key = passwordChangeKey(change);
    try {
      await request("PUT", "me/password", { json: change, headers: { "Idempotency-Key": key } });
      unansweredPasswordChange = null;
      form.reset();
      markInvalid(form);
      message.replaceChildren(notice(t("passwordChanged")));
    } catch (error) {
      if (!isTransient(error)) unansweredPasswordChange = null;
      refuse(form, message, errorText(error), namedControls(form, error));
    }
  });
  return form;
}

// The list of the account's contributions the sheet shows, if any.
let shownContributions = null;

async function contributions() {
  shownContributions = element("ul", { class: "contributions" });
  await fillContributions(shownContributions);
  return shownContributions;
}

async function fillContributions(list) {
  const items = [];
  try {
    const { data } = await request("GET", "me/export");
    for (const feature of data.devices) {
      const props = feature.properties;
      if (props.merged_into) {  // a duplicate, merged by a moderator into the device kept
        items.push(element("li", {}, `${kindLabel(props.kind)} — ${t("mergedInto", { id: props.merged_into.slice(0, 8) })}`));
        continue;
      }
      if (props.deleted_at) {  // withdrawn by its author (or deleted): no review awaits it
        items.push(element("li", {}, `${kindLabel(props.kind)} — ${t("withdrawn")}`));
        continue;
      }
      // Its kind leads to it on the map; the day it was pinned tells it from the others.
      items.push(element("li", {}, placeLink(feature.geometry.coordinates, kindLabel(props.kind)),
        ` — ${t("pinnedOn", { day: dayText(props.created_at) })}`,
        ` — ${t("labelled", { label: t("reviewStatus"), value: valueLabel(props.review_status) })}`,
        props.review_reason ? ` (${props.review_reason})` : ""));
    }
    if (!data.devices.length) items.push(element("li", {}, t("noContributions")));
    if (data.photos.length) items.push(element("li", {}, element("h4", {}, t("yourPhotos")), yourPhotos(data.photos)));
  } catch (error) {
    items.push(element("li", {}, errorText(error)));
  }
  list.replaceChildren(...items);
}

// The photos the account uploaded, each with the day, a link to its pin on the map, and the
// button that deletes it: a face or a plate caught by mistake, on a pin a moderator approved
// since (which its author no longer edits) or added to another's device, is still the
// contributor's to take back, once they have seen which pin it went with.
function yourPhotos(photos) {
  const said = element("div", { "aria-live": "polite" });
  const list = element("ul", { class: "photos your-photos" }, ...photos.map((photo, index) => {
    const alt = t("yourPhotoAlt", { n: index + 1, day: dayText(photo.created_at) });
    const img = element("img", { alt, width: 96, height: 96 });
    showImage(img, `${API}/photos/${photo.id}/thumbnail`).catch(() => { img.alt = t("photoOffline", { alt }); });
    // Its pin, where the map shows it to the contributor (the export says: not a withdrawn one).
    const kind = photo.pin && kindLabel(photo.pin.kind);
    const caption = element("figcaption", {},
      photo.pin ? placeLink(photo.pin.coordinates, kind, { "aria-label": t("photoPin", { n: index + 1, kind }) }) : "");
    const item = element("li", {}, element("figure", {}, img, caption,
      deletePhotoButton(photo, t("deletePhoto", { n: index + 1 }), {
        message: said,
        done: () => {
          item.remove();
          said.replaceChildren(notice(t("photoDeleted")));
        },
      })));
    return item;
  }));
  return element("div", {}, list, said);
}

// SAID: what the sheet says first when signed out (else why to sign in).
export async function showAccount(db, { said = null } = {}) {
  if (!current) {
    const why = said ? notice(said) : ended ? notice(t("sessionEnded"), "error") : notice(t("signInToPin"));
    openSheet(t("account"), element("div", { class: "stack" }, why, credentialsForm(db, "signIn"), credentialsForm(db, "register")),
      { again: () => showAccount(db) });
    return;
  }
  const message = element("div", { "aria-live": "polite" });
  const signOutButton = element("button", { type: "button" }, t("signOut"));
  const everywhereButton = element("button", { type: "button" }, t("signOutEverywhere"));
  // DISCARD: the account's changes not sent yet go too (else they wait on the phone, hidden
  // from other accounts, for it to sign in again).
  const leave = (everywhere, discard = []) => async () => {
    // Discarded first, while the token still works: the discard stands whatever the sign-out
    // then meets (no network, a server error, a token refused).
    await discardChanges(discard);
    try {
      await signOut(db, { everywhere });
    } catch (error) {
      // Without the network the tokens cannot be revoked: the contributor stays signed in,
      // unless they choose to leave this phone only.
      if (!(error instanceof OfflineError)) return message.replaceChildren(notice(errorText(error), "error"));
      const hereOnly = element("button", { type: "button", class: "secondary" }, t("signOutHereOnly"));
      hereOnly.addEventListener("click", async () => {
        await forgetSession(db);
        showAccount(db, { said: t("signedOutHereOnly") });
      });
      return message.replaceChildren(notice(t("signOutOffline")), element("p", { class: "actions" }, hereOnly));
    }
    showAccount(db, { said: everywhere ? t("signedOutEverywhere") : null });
  };
  for (const [button, everywhere] of [[signOutButton, false], [everywhereButton, true]]) {
    button.addEventListener("click", async () => {
      const unsent = (await (await db).getAll("outbox")).filter((item) => item.owner === current.userId);
      if (!unsent.length) return leave(everywhere)();
      // Said before it is too late: a shared phone keeps them, readable to whoever holds it.
      const keep = element("button", { type: "button", onclick: leave(everywhere) }, t("keepUnsent"));
      const drop = element("button", { type: "button", class: "secondary", onclick: leave(everywhere, unsent) }, t("discardUnsent"));
      // Those refused do not go by themselves at the next sign-in: they wait to be resolved.
      const refused = unsent.filter((item) => item.state === "refused").length;
      const warning = [[unsent.length - refused, "unsentAtSignOut"], [refused, "refusedAtSignOut"]]
        .filter(([count]) => count).map(([count, key]) => t(key, { count })).join(" ");
      message.replaceChildren(notice(warning), element("p", { class: "actions" }, keep, drop));
    });
  }
  const box = element("div", { class: "stack" },
    element("p", {}, t("signedInAs", { username: current.username, role: valueLabel(current.role) })),
    signOutButton, everywhereButton, message, passwordForm(), element("h3", {}, t("myContributions")));
  openSheet(t("account"), box, { again: () => showAccount(db) });
  box.append(await contributions());
}
