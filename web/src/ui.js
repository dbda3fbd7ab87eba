// DOM helpers shared by the panels: elements built from data (text, never HTML), the bottom
// sheet every panel opens in, and labelled form fields.
import { numberText, onLanguageChange, t, valueLabel } from "./i18n.js";

// TEXT as nodes: the server's English words in it (marked by i18n.js) in a <bdi lang="en">.
function textNodes(text) {
  if (!text.includes("\u2068")) return [text];
  return text.split(/\u2068([^\u2069]*)\u2069/).map((part, index) => (index % 2 ? element("bdi", { lang: "en" }, part) : part));
}

// NODE showing TEXT, the server's English words in it marked as element() marks them.
export const showText = (node, text) => node.replaceChildren(...textNodes(text));

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(...(child instanceof Node ? [child] : textNodes(String(child))));
  }
  return node;
}

const sheet = () => document.getElementById("sheet");
let onClose = null;
// Whether leaving the sheet would lose what the contributor did in it (a pin being made).
let unsavedWork = null;
// What had the focus when the sheet opened (a marker, a button): it gets it back on closing,
// so that a keyboard or screen reader user goes on from where they were.
let opener = null;
// How to open the sheet shown again, in another language (what opened it), if it can be.
let reopen = null;
// What the app brought up on its own while the contributor was filling in a form (see
// whenSheetFree), shown once the sheet is closed.
let waiting = null;
// The sheet a place link closed on the way (the review queue, one's contributions): the phone's
// Back, which leaves that place for the sheet's own history entry, opens it again.
let leftForPlace = null;

// Leaving the sheet: asked first when it holds unsaved work. True if it may be left.
function mayLeave() {
  if (sheet().hidden || !unsavedWork?.()) return true;
  return window.confirm(t("discardDraft"));
}

// Controls the sheet covers (the floating pin button on a phone) leave the tab order while it
// covers them: the keyboard would reach them unseen, and one would wipe the sheet's form.
// Markers whose middle it covers leave the tab order too (the map checks again as its markers
// come, go and move), and stay where a pointer reaches what shows of them.
export function coverControls() {
  const area = sheet().hidden ? null : sheet().getBoundingClientRect();
  for (const node of document.querySelectorAll("[data-under-sheet]")) {
    const box = node.getBoundingClientRect();
    node.inert = Boolean(area) && box.left < area.right && area.left < box.right && box.top < area.bottom && area.top < box.bottom;
  }
  for (const marker of document.querySelectorAll(".leaflet-marker-icon[tabindex]")) {
    const box = marker.getBoundingClientRect();
    const [x, y] = [box.left + box.width / 2, box.top + box.height / 2];
    const covered = Boolean(area) && x >= area.left && x <= area.right && y >= area.top && y <= area.bottom;
    if (marker.tabIndex !== (covered ? -1 : 0)) marker.tabIndex = covered ? -1 : 0;
  }
}
window.addEventListener("resize", coverControls);

// Show CONTENT in the bottom sheet (a side panel on wide screens), titled TITLE. UNSAVED:
// whether leaving it would lose what the contributor did (then asked before it goes). AGAIN:
// opens the same sheet afresh, when the language changes. FROM: opens the sheet it was chosen
// in (a device from a cluster's list), which Back goes back to. False if the contributor kept
// the sheet they were in (CLOSED is then called for CONTENT, never shown).
export function openSheet(title, content, { closed = null, unsaved = null, again = null, from = null } = {}) {
  if (!mayLeave()) {
    closed?.();
    return false;
  }
  // The contributor opened something else: what waited stays where it can be found (the outbox).
  waiting = null;
  leftForPlace = null;
  if (onClose) onClose();
  onClose = closed;
  unsavedWork = unsaved;
  reopen = again;
  // Opened from outside the sheet (another marker while one's details show): that opener.
  const focused = document.activeElement;
  if (focused && focused !== document.body && !sheet().contains(focused)) opener = focused;
  else if (sheet().hidden) opener = null;
  const heading = document.getElementById("sheet-title");
  heading.textContent = title;
  document.getElementById("sheet-body").replaceChildren(content);
  const chosenInSheet = Boolean(from) && !sheet().hidden && ownEntry;
  sheet().hidden = false;
  // Each sheet opens at its top: its title and first actions, not where the last one was left
  // (set once shown: a hidden sheet's offset is restored as it shows again).
  sheet().scrollTop = 0;
  standInHistory();
  if (chosenInSheet && !nestedEntry) pushNestedEntry();
  parentSheet = nestedEntry ? from : null;
  bringMapsEndIntoView();
  coverControls();
  heading.focus();
  return true;
}

// A page taller than the screen (large text on a small phone wraps the header to several
// lines) is scrolled to the map's end as a sheet opens that runs past the screen's foot: the
// sheet shows whole, with the strip of map above it, rather than its title row alone. Closed,
// the sheet leaves its history entry, and the browser scrolls the page back with it.
function bringMapsEndIntoView() {
  if (sheet().getBoundingClientRect().bottom > window.innerHeight + 1) {
    document.querySelector("main").scrollIntoView({ block: "end" });
  }
}

// The phone's Back button closes the sheet (asked first when it holds unsaved work) rather
// than leave the app, and what was typed with it: an open sheet stands as an entry of the
// page's history, pushed with the address it opened at (the map leaves that address alone
// while the sheet shows, so that leaving the entry moves nothing). A sheet closed otherwise
// (its close button, Escape, Save) goes back past its entry, so that the next Back leaves the
// app as it should; a sheet opened before that going back has landed waits for it to push its
// own. A sheet a place link closed keeps its entry, under the place's: Back opens it again.
let ownEntry = false;
let leavingEntry = false;
// A sheet opened from another (a device chosen in a cluster's list) stands as a second entry
// over that one's: Back opens PARENT_SHEET again, and a close goes back past both entries.
let nestedEntry = false;
let parentSheet = null;

function pushNestedEntry() {
  window.history.pushState({ sheet: true }, "", window.location.href);
  nestedEntry = true;
}

function standInHistory() {
  if (leavingEntry) return; // pushed once the entry being left is gone (popstate)
  if (!window.history.state?.sheet) window.history.pushState({ sheet: true }, "", window.location.href);
  ownEntry = true;
}

function leaveOwnEntry() {
  if (!ownEntry) return;
  ownEntry = false;
  leavingEntry = true;
  window.history.go(nestedEntry ? -2 : -1);
  nestedEntry = false;
}

// A sheet's entry shown again without its sheet (a reload, or Back from another page) is the
// map's entry again. Not gone back past: that would load the page a second time, racing what
// the first load does (a token found revoked, said ended, then no longer said).
if (window.history.state?.sheet) window.history.replaceState(null, "", window.location.href);

window.addEventListener("popstate", (event) => {
  if (leavingEntry) {
    leavingEntry = false;
    if (!sheet().hidden) standInHistory();
    return;
  }
  ownEntry = Boolean(event.state?.sheet);
  if (nestedEntry && !sheet().hidden && event.state?.sheet) {
    nestedEntry = false;
    const back = parentSheet;
    parentSheet = null;
    if (back) back();
    else if (!closeSheet()) pushNestedEntry(); // kept: Back comes here again
    return;
  }
  if (sheet().hidden && event.state?.sheet && leftForPlace) {
    const again = leftForPlace;
    leftForPlace = null;
    again();
    return;
  }
  if (sheet().hidden && event.state?.sheet) {
    // A sheet's entry with no sheet to open again (another sheet was opened at the place, or
    // Forward): passed by, to the map's entry under it, at the same address.
    ownEntry = false;
    window.history.back();
    return;
  }
  if (sheet().hidden || event.state?.sheet) return;
  if (!closeSheet()) standInHistory(); // kept: Back closes it next time too
});

// Reloading or closing the page asks first too, when the sheet holds unsaved work.
window.addEventListener("beforeunload", (event) => {
  if (!sheet().hidden && unsavedWork?.()) event.preventDefault();
});

// STAND_IN(element): what now stands for an element drawn again since (a marker), or null.
let standIn = null;
export const setStandIn = (find) => { standIn = find; };

// Close the sheet (asked first if it holds unsaved work); false if the contributor kept it.
export function closeSheet() {
  if (!mayLeave()) return false;
  unsavedWork = null;
  reopen = null;
  parentSheet = null;
  // On the body: a control of the sheet lost it on being disabled or removed (Save).
  const active = document.activeElement;
  const hadFocus = !active || active === document.body || sheet().contains(active);
  sheet().hidden = true;
  leaveOwnEntry();
  coverControls();
  document.getElementById("sheet-body").replaceChildren();
  if (onClose) onClose();
  onClose = null;
  const back = opener;
  opener = null;
  // A marker redrawn meanwhile: the one now at its place; a button hidden since: the map.
  if (hadFocus) {
    back?.focus();
    if (document.activeElement !== back) ((back && standIn?.(back)) || document.getElementById("map")).focus();
  }
  const next = waiting;
  waiting = null;
  next?.();
  return true;
}

export const sheetIsOpen = () => !sheet().hidden;

// A link to a place (#zoom/lat/lon, which the map follows) from a GeoJSON position, with
// ATTRIBUTES of its own; the sheet it stands in closes on the way, and Back opens it again.
export const placeLink = ([lon, lat], text, attributes = {}) =>
  element("a", { href: `#19/${lat.toFixed(6)}/${lon.toFixed(6)}`, onclick: leaveForPlace, ...attributes }, text);

function leaveForPlace(event) {
  const again = reopen;
  const [entry, nested] = [ownEntry, nestedEntry];
  const place = event.currentTarget.getAttribute("href");
  ownEntry = false; // the link's place goes on top of it
  nestedEntry = false;
  if (!closeSheet()) {
    [ownEntry, nestedEntry] = [entry, nested];
    return;
  }
  // Opened again where the contributor was: on the link they followed (the queue's item they
  // were checking), not at the sheet's top.
  leftForPlace = again && (async () => {
    await again();
    sheet().querySelector(`a[href="${CSS.escape(place)}"]`)?.focus();
  });
}

// SHOW (which opens the sheet) now, or once the contributor is done with the form the sheet
// holds (a pin being made, signing in): what the app brings up on its own, such as a refusal
// met by a pass in the background, must not wipe what they are typing.
export function whenSheetFree(show) {
  if (sheetIsOpen() && document.getElementById("sheet-body").querySelector("form")) waiting = show;
  else show();
}

// Whether the sheet holds something the contributor typed (signing in, a new password).
const typedIn = () => [...document.getElementById("sheet-body").querySelectorAll("input, textarea")]
  .some((control) => !["checkbox", "radio", "hidden"].includes(control.type) && control.value !== "");

// The language changed: the sheet shown opens again in it, unless that would lose what the
// contributor did in it (a form keeps its language until it is left). Where they were stays:
// the focus on the language menu, and what the sheet goes back to when it closes.
onLanguageChange(() => {
  if (sheet().hidden || !reopen || unsavedWork?.() || typedIn()) return;
  const [focused, back] = [document.activeElement, opener];
  reopen();
  opener = back;
  focused?.focus();
});

document.getElementById("sheet-close").addEventListener("click", closeSheet);
document.addEventListener("keydown", (event) => { if (event.key === "Escape" && sheetIsOpen()) closeSheet(); });

// The browser's own refusals of a field (a number past its maximum...) come in the browser's
// language, which may not be the page's: the page words them, as each field is checked.
const VALIDITY_MESSAGES = [["valueMissing", "fieldRequired"], ["rangeOverflow", "atMost"], ["rangeUnderflow", "atLeast"],
  ["tooShort", "atLeastCharacters"], ["tooLong", "atMostCharacters"]];
document.addEventListener("invalid", (event) => {
  const control = event.target;
  // The browser stops this sending: the server's refusal of the one before no longer stands
  // (a name said taken, where the one now typed is too short).
  if (control.form) {
    markInvalid(control.form);
    for (const refusal of control.form.querySelectorAll("[id^='refusal-']")) refusal.remove();
  }
  control.setCustomValidity("");
  if (control.validity.valid) return;
  const key = VALIDITY_MESSAGES.find(([state]) => control.validity[state])?.[1] ?? "badValue";
  const number = (value) => numberText(Number(value));
  control.setCustomValidity(t(key, { max: number(control.max), min: number(control.min), count: control.minLength > 0 && control.validity.tooShort ? control.minLength : control.maxLength }));
}, true);
// Those words stand for the browser's own, never in their place: gone as the field is typed in,
// and before each check (a value set by the page, a compass's direction, is checked afresh).
document.addEventListener("input", (event) => event.target.setCustomValidity?.(""), true);
document.addEventListener("click", (event) => {
  const form = event.target.closest?.("button, input")?.form;
  if (form && event.target.closest("button, input").type === "submit") {
    for (const control of form.elements) control.setCustomValidity?.("");
  }
}, true);

let fieldCount = 0;

// A labelled input, select or textarea; CONTROL's attributes; OPTIONS [value, label] for a select.
export function field(labelText, tag, attributes = {}, options = []) {
  fieldCount += 1;
  const id = attributes.id || `field-${fieldCount}`;
  const control = element(tag, { ...attributes, id },
    ...options.map(([value, text]) => element("option", { value }, text)));
  return { control, node: element("p", { class: "field" }, element("label", { for: id }, labelText), control) };
}

// A select of VALUES labelled by field name, with an empty first choice.
// BLANK: "—" may be chosen (the field may be left empty).
export function choice(name, values, current = "", { blank = true } = {}) {
  const options = values.map((v) => [v, valueLabel(v)]);
  const { control, node } = field(t(name), "select", { name }, blank ? [["", "—"], ...options] : options);
  control.value = current ?? "";
  return { control, node };
}

let refusals = 0;

// A refusal of what a form holds, said in BOX (a live region) and tied to the CONTROLS it is
// about (aria-invalid, aria-describedby: read with their labels), the first of which takes the
// focus; with none, the message takes it (WCAG 3.3.1). Marks left in ROOT by an earlier one go.
export function refuse(root, box, text, controls = []) {
  refusals += 1;
  const shown = element("p", { class: "notice error", id: `refusal-${refusals}`, tabindex: "-1" }, text);
  box.replaceChildren(shown);
  markInvalid(root, controls, shown.id);
  (controls[0] ?? shown).focus();
}

export function markInvalid(root, controls = [], describedBy = null) {
  for (const control of root.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    control.removeAttribute("aria-describedby");
  }
  for (const control of controls) {
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", describedBy);
  }
}

// The controls of FORM that the server's refusal ERROR names (its problem's errors' fields).
export const namedControls = (form, error) => (error?.problem?.errors ?? [])
  .map(({ field: name }) => name && form.elements.namedItem(name))
  .filter((control) => control instanceof Element);

// SAID: whether a screen reader reads it out when it appears (false: the announcer says it).
export const notice = (text, kind = "info", said = true) => element("p", { class: `notice ${kind}`, role: said && (kind === "error" ? "alert" : "status") }, text);
