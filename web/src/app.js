// The contributor app: wires the map, the outbox, accounts, pinning, details, moderation and
// sync together, and registers the service worker that keeps the app working offline.
import { onTokenRefused } from "./api.js";
import { endRefusedSession, isModerator, restoreSession, session, onSessionChange, onTokenBack, showAccount, useOutbox, withOwnToken } from "./accounts.js";
import { showDevice } from "./details.js";
import { currentLanguage, errorText, kindLabel, onLanguageChange, problemText, setLanguage, t, translatePage } from "./i18n.js";
import { createMap, kindIcon } from "./map.js";
import { showModerationQueue } from "./moderation.js";
import { forgetWhatWasSent, rememberSent, sendOperation } from "./operations.js";
import { createOutboxView } from "./outbox-view.js";
import { startPinning } from "./pinning.js";
import { createOutbox } from "./queue.js";
import { openStore } from "./store.js";
import { syncCachedAreas } from "./sync.js";
import { element } from "./ui.js";
import { KINDS } from "./vocabulary.js";

const OUTBOX_RETRY_MS = 30_000;
const SYNC_EVERY_MS = 5 * 60_000;

const config = JSON.parse(document.getElementById("vigie-config").textContent);
const db = openStore();
translatePage();
const languageSelect = document.getElementById("language");
languageSelect.value = currentLanguage();
languageSelect.addEventListener("change", () => setLanguage(languageSelect.value));
// The header's menu on a phone (app.css): a disclosure, closed again by Escape (only: a sheet
// open under it stays). Open, it takes a row of the map's height, which Leaflet is told.
const menuButton = document.getElementById("menu-button");
const more = document.getElementById("more");
const openMenu = (open) => {
  menuButton.setAttribute("aria-expanded", String(open));
  more.classList.toggle("open", open);
  mapApi.map.invalidateSize();
};
menuButton.addEventListener("click", () => openMenu(menuButton.getAttribute("aria-expanded") !== "true"));
for (const control of [menuButton, more]) {
  control.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !more.classList.contains("open")) return;
    event.stopPropagation();
    openMenu(false);
    menuButton.focus();
  });
}

const queue = createOutbox(db, withOwnToken(sendOperation), { owner: async () => session()?.userId ?? null, forget: forgetWhatWasSent });
// Every module flushes through this: what the server accepted is drawn at once, and a pin
// refused as a duplicate is put before the contributor (once done with a form being filled in).
const outbox = { ...queue, flush: flushOutbox };
useOutbox(outbox);
let outboxView = null;
const mapApi = createMap({
  basemap: config.basemap,
  db,
  onSelect: (feature, { pending, from }) => showDevice(feature, { mapApi, outbox, db, pending, from }),
});
outboxView = createOutboxView({ outbox, mapApi });

async function flushOutbox() {
  const results = await queue.flush();
  await rememberSent(db, results, session()?.userId ?? null);
  const duplicate = results.find(({ item, error }) => error && outboxView.isDuplicate(item));
  if (duplicate) outboxView.offerDuplicate(duplicate.item);
  // A refused vote has left the outbox (queue.js): its reason is said, wherever it was sent from.
  const refusals = results.filter(({ error }) => error);
  const votes = refusals.filter(({ item }) => item.type === "confirm");
  const refusalTexts = votes.map(({ error }) => t("voteRefused", { detail: errorText(error) }));
  if (refusals.length > votes.length) refusalTexts.push(t("refusedCount", { count: refusals.length - votes.length }));
  const sent = results.filter(({ result }) => result).length;
  // What was sent is said in the same sentence as the refusals, in their colours.
  await showSent(sent, { announced: !refusalTexts.length });
  // "Open the outbox to resolve it" holds while the outbox holds a refused change.
  const toResolve = refusals.length > votes.length;
  if (refusalTexts.length) announce([sent ? t("sentCount", { count: sent }) : "", ...refusalTexts].filter(Boolean).join(" "), "refusal", { toResolve });
  const pending = (await queue.all()).filter((item) => item.state === "pending");
  if (pending.length) {
    // Why it waits, if the server said (a rate limit...), else the network. Said once, not at
    // every retry.
    const held = pending.find((item) => item.problem);
    const text = held ? t("waitingBecause", { detail: problemText(held.problem) }) : t("saved");
    if (said !== text) announce(text);
    await askForBackgroundSync();
  }
  return results;
}

// ANNOUNCED: the announcer says how many were sent (else the caller says it with more).
async function showSent(count, { announced = true } = {}) {
  outboxView.update(await queue.all());
  if (!count) return;
  sentTotal += count;
  if (announced) announce(t("sentCount", { count }));
  await mapApi.reload();
}

// Changes the server accepted since the page opened: what the announcer last said may be old.
let sentTotal = 0;

// How long the announcer shows what it said: it lies over the map's controls on a phone.
const ANNOUNCED_MS = 8000;
let fading = null;
let said = ""; // what was last announced, shown or faded
// What shows, each for ANNOUNCED_MS from when it was said: the last two refusals, and the last
// news. A refusal is neither replaced by news nor replaces it: "Your session has ended" and
// "1 change sent", from one pass through the outbox, are shown together, whichever came first.
let refusals = [];
let news = null;

// TONE: "refusal" shows it in the colours of an error, not of a change sent. TO_RESOLVE: it
// asks to resolve a refusal in the outbox, and goes once none is left there.
function announce(text, tone = "news", { toResolve = false } = {}) {
  said = text;
  const shown = { text, until: Date.now() + ANNOUNCED_MS, toResolve };
  if (tone === "refusal") refusals = [...refusals.filter((r) => r.text !== text), shown].slice(-2);
  else news = shown;
  // Emptied first: the same words said again ("1 change(s) sent.") are a change screen
  // readers read out.
  document.getElementById("announcer").textContent = "";
  clearTimeout(fading);
  fading = setTimeout(showAnnounced, 100);
}

// Signed in again: a refusal of the session before ("Your session has ended") no longer holds.
function forgetRefusals() {
  refusals = [];
  showAnnounced();
}

// The refused changes resolved (confirmed instead, corrected, discarded): nothing is left to
// open the outbox for.
queue.onChange((items) => {
  if (items.some((item) => item.state === "refused") || !refusals.some((r) => r.toResolve)) return;
  refusals = refusals.filter((r) => !r.toResolve);
  showAnnounced();
});

function showAnnounced() {
  const now = Date.now();
  refusals = refusals.filter((r) => r.until > now);
  if (news && news.until <= now) news = null;
  const parts = [...refusals, ...(news && news.text ? [news] : [])];
  const announcer = document.getElementById("announcer");
  announcer.dataset.sentTotal = String(sentTotal);
  announcer.dataset.tone = refusals.length ? "refusal" : "news";
  announcer.textContent = parts.map((part) => part.text).join(" ");
  clearTimeout(fading);
  if (parts.length) fading = setTimeout(showAnnounced, Math.min(...parts.map((part) => part.until)) - now);
}

// The service worker sends the outbox when the network returns, even with the app closed.
async function askForBackgroundSync() {
  const registration = await navigator.serviceWorker?.ready;
  await registration?.sync?.register("vigie-outbox").catch(() => null);
}

function buildKindFilter() {
  const container = document.getElementById("kinds");
  container.replaceChildren(...KINDS.map((kind) => {
    const box = element("input", { type: "checkbox", id: `kind-${kind}`, name: "kind", value: kind });
    box.checked = mapApi.isKindShown(kind); // as kept from before, or a language change
    box.addEventListener("change", () => {
      mapApi.setKindShown(kind, box.checked);
      sayKindsShown();
    });
    const icon = element("span", { "aria-hidden": "true", class: "swatch" });
    icon.innerHTML = kindIcon(kind); // a constant of map.js, not data
    return element("label", { for: box.id }, box, icon, kindLabel(kind));
  }));
  sayKindsShown();
}

// The filters' summary says how many kinds show when some are hidden: they stay hidden past a
// reload (map.js), and a street would otherwise look emptier than it is.
function sayKindsShown() {
  const shown = KINDS.filter((kind) => mapApi.isKindShown(kind)).length;
  document.querySelector("#filters summary").textContent = shown < KINDS.length ? t("filtersSome", { shown, all: KINDS.length }) : t("filters");
}

function showSessionControls() {
  let moderation = document.getElementById("moderation-button");
  if (isModerator() && !moderation) {
    moderation = element("button", { type: "button", id: "moderation-button", "data-i18n": "moderation" }, t("moderation"));
    moderation.addEventListener("click", () => showModerationQueue(() => mapApi.reload()));
    document.getElementById("account-button").before(moderation);
  } else if (!isModerator() && moderation) {
    moderation.remove();
  }
}

// Back online: the map shows the server's devices again, not only those kept on the phone
// (which it said it was showing), and what waited is sent.
async function whenOnline() {
  await mapApi.reload(); // at once, not after a photo waiting in the outbox is sent
  await flushOutbox().catch(() => null);
  await syncCachedAreas(db).catch(() => null);
}

document.getElementById("account-button").addEventListener("click", () => showAccount(db));
document.getElementById("pin-button").addEventListener("click", () => (session() ? startPinning({ mapApi, outbox }) : showAccount(db)));
// Another account: its own outbox (queue.js), sent now, and what it may see.
onSessionChange((next, { forgotten }) => {
  if (next) forgetRefusals();
  showSessionControls();
  mapApi.reload({ forgotten });
  outbox.all().then(outboxView.update);
  if (next && navigator.onLine) flushOutbox().catch(() => null);
});
// The token expired or was revoked: signed out, the map shows what anyone may see.
onTokenRefused(async (token) => {
  if (await endRefusedSession(db, token)) announce(t("sessionEnded"), "refusal");
});
onTokenBack(() => mapApi.reload());
onLanguageChange(() => { buildKindFilter(); mapApi.reload(); outbox.all().then(outboxView.update); });
window.addEventListener("online", whenOnline);
// The service worker went through the outbox (Background Sync): show what it sent or was refused.
navigator.serviceWorker?.addEventListener("message", (event) => {
  if (event.data?.type === "outbox-sent") showSent(event.data.count);
});
setInterval(() => { if (navigator.onLine) flushOutbox().catch(() => null); }, OUTBOX_RETRY_MS);
setInterval(() => { if (navigator.onLine) syncCachedAreas(db).catch(() => null); }, SYNC_EVERY_MS);

buildKindFilter();
await restoreSession(db); // draws the devices the session may see
outboxView.update(await queue.all());
if (navigator.onLine) whenOnline();
navigator.serviceWorker?.register("/sw.js", { scope: "/" });
