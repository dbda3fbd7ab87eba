// The server's refusals, worded in French by the page (the server's words are English).
import assert from "node:assert/strict";
import { test } from "node:test";

globalThis.localStorage = { getItem: () => "fr", setItem: () => {} };
const { errorText, problemText, setLanguage } = await import("../src/i18n.js");
globalThis.document = { documentElement: {}, querySelectorAll: () => [] };
const TYPE = "https://vigie.invalid/problems/";

test("a refusal names the refused fields by the app's labels", () => {
  const problem = {
    type: `${TYPE}validation-failed`, status: 422, detail: "Must be between 0 and 359.",
    errors: [{ field: "properties.direction" }, { field: "properties.height" }, { field: "properties.direction" }],
  };
  assert.equal(
    problemText(problem),
    "Valeur refusée (« Direction (°) », « Hauteur (m) »). Le serveur précise (en anglais) : « \u2068Must be between 0 and 359.\u2069 »",
  );
  assert.equal(problemText({ type: `${TYPE}conflict`, status: 409, errors: [{ field: "username" }] }), "Ce pseudonyme est déjà pris. S'il est le vôtre, connectez-vous avec son mot de passe.");
  // A proxy's page, or a server down: no problem of the service's, in the page's language.
  // Not "tried again": said by a form (sent again by hand) as by the outbox ("not sent yet").
  assert.equal(problemText({ status: 502 }), "le serveur ne répond pas (erreur 502)");
  assert.equal(problemText({ status: 400 }), "Refusé par le serveur (erreur 400).");
  // The service's own 5xx: an error on its side, which the outbox sends again, no refusal.
  const failed = { type: "about:blank", title: "Internal Server Error", status: 500 };
  assert.equal(problemText(failed), "Erreur du serveur (erreur 500).");
});

test("the refusals of a form, a photo and a second vote say why in French", () => {
  const weak = {
    type: `${TYPE}invalid-input`, status: 422, detail: "password: This password is too easy to guess.",
    errors: [{ field: "password", location: "json" }],
  };
  assert.match(problemText(weak), /^Mot de passe refusé : 10 caractères au moins/);
  assert.doesNotMatch(problemText(weak), /anglais/);  // said in French: no English added
  const other = { type: `${TYPE}invalid-input`, status: 400, detail: "bbox: Not a box.", errors: [{ field: "bbox" }] };
  assert.equal(problemText(other), "Valeur refusée (« bbox »). Le serveur précise (en anglais) : « \u2068bbox: Not a box.\u2069 »");
  // Its own words as it wrote them, whatever they hold ($& is no pattern here).
  assert.match(problemText({ ...other, detail: "Costs $& more." }), /« \u2068Costs \$& more\.\u2069 »$/);
  assert.match(problemText({ type: `${TYPE}unprocessable-image`, status: 422, detail: "cannot identify", errors: [{ field: "file" }] }), /^Cette photo n'a pas pu être lue/);
  const second = { type: `${TYPE}conflict`, status: 409, detail: "You already voted", errors: [{ field: "verdict" }], voted_on: "2026-12-06", vote_again_on: "2027-01-05" };
  assert.equal(problemText(second), "Vous avez déjà donné votre avis sur ce dispositif le 6 décembre 2026 : vous pourrez le refaire à partir du 5 janvier 2027.");
});

test("an error without a problem keeps its message; English keeps the server's words", () => {
  assert.equal(errorText(new Error("offline")), "offline");
  const refusal = Object.assign(new Error("Too large."), { status: 413, problem: { type: `${TYPE}payload-too-large` } });
  assert.equal(errorText(refusal), "Fichier trop lourd.");
  setLanguage("en");
  assert.equal(errorText(refusal), "Too large.");
  assert.equal(problemText({ type: `${TYPE}gone`, status: 410, detail: "Device 1 was deleted." }), "Device 1 was deleted.");
  // Gone into another device: said as merged, not as deleted, in each language.
  const merged = { type: `${TYPE}gone`, status: 410, detail: "Device 1 was deleted.", merged_into: "2" };
  assert.equal(problemText(merged), "This device was merged into another (the same one, pinned twice): change that one instead.");
  setLanguage("fr");
  assert.match(problemText(merged), /^Ce dispositif a été fusionné avec un autre/);
  setLanguage("en");
  // A field's refusal under the form's label, not the API's name of the field.
  const weak = { type: `${TYPE}invalid-input`, status: 422, detail: "password: Too easy to guess.", errors: [{ field: "password", message: "Too easy to guess." }] };
  assert.equal(problemText(weak), "Password (10 characters or more): Too easy to guess.");
  // A field no form labels (a moderator's decision): the server's words as they are.
  const decision = { type: `${TYPE}invalid-input`, status: 400, detail: "decision: Not one of approve, reject.", errors: [{ field: "decision", message: "Not one of approve, reject." }] };
  assert.equal(problemText(decision, "decision: Not one of approve, reject."), "decision: Not one of approve, reject.");
  // A second vote: its days as English writes them, not as the API does.
  const again = { type: `${TYPE}conflict`, status: 409, detail: "You already voted on this device on 2026-12-06.", errors: [{ field: "verdict" }], voted_on: "2026-12-06", vote_again_on: "2027-01-05" };
  assert.match(problemText(again), /^You already voted on this device on (6 December 2026|December 6, 2026): you may vote on it again from (5 January 2027|January 5, 2027)\.$/);
});

test("a count is said in the form its number takes in each language", async () => {
  const { t } = await import("../src/i18n.js");
  setLanguage("en");
  assert.equal(t("pending", { count: 1 }), "1 change waiting to be sent");
  assert.equal(t("pending", { count: 2 }), "2 changes waiting to be sent");
  assert.equal(t("devicesInView", { count: 0 }), "0 devices in view");
  assert.equal(t("clustersHint", { count: 1 }), " (1 cluster; select it to zoom in)");
  setLanguage("fr");
  // French counts zero in the singular.
  assert.equal(t("devicesInView", { count: 0 }), "0 dispositif visible");
  assert.equal(t("devicesInView", { count: 3 }), "3 dispositifs visibles");
  assert.equal(t("refused", { count: 1 }), "1 modification refusée : ouvrir pour la résoudre");
  assert.equal(t("sentCount", { count: 12 }), "12 modifications envoyées.");
  // A string that counts nothing is as written.
  assert.equal(t("removeDirection", { n: 2 }), "Retirer la direction 2");
});

test("days, kinds counted and a duplicate's refusal are said in the page's language", async () => {
  const { dayText, kindCount, problemText } = await import("../src/i18n.js");
  const duplicate = {
    type: `${TYPE}conflict`, status: 409, detail: "1 device of the same kind within 15 m: check it, then send again with force=true",
    errors: [{ field: "geometry" }], candidates: [{ id: "x" }],
  };
  setLanguage("fr");
  assert.equal(dayText("2026-12-06T00:00:00+00:00"), "6 décembre 2026");
  assert.equal(dayText("2026-11-01"), "1er novembre 2026");
  assert.equal(dayText("2026-11-11"), "11 novembre 2026");
  assert.equal(kindCount("camera", 2), "2 caméras");
  assert.equal(kindCount("microphone", 1), "1 micro");
  assert.equal(problemText(duplicate), "Un dispositif du même type est déjà signalé tout près : voyez « Déjà signalé ? ».");
  setLanguage("en");
  assert.equal(dayText("2026-11-01"), "November 1, 2026");
  assert.equal(kindCount("alpr", 3), "3 licence-plate readers");
  assert.doesNotMatch(problemText(duplicate), /force=true/);
  // Any other refusal keeps the server's words, or the message given for it.
  assert.equal(problemText({ type: `${TYPE}gone`, status: 410 }, "Device 1 was deleted."), "Device 1 was deleted.");
});

test("a limit reached says which one, in the server's words", () => {
  setLanguage("fr");
  const limit = { type: `${TYPE}too-many-requests`, status: 429, detail: "New accounts may pin 20 devices an hour." };
  assert.equal(
    problemText(limit),
    "Trop de demandes : patientez un moment avant de réessayer. Le serveur précise (en anglais) : « \u2068New accounts may pin 20 devices an hour.\u2069 »",
  );
  // The photos' own limit says what to do in French already.
  const photos = { ...limit, detail: "Too many loose photos.", errors: [{ field: "file" }] };
  assert.doesNotMatch(problemText(photos), /anglais/);
});

test("a time of day is written as the phone's variant of the language writes it", async () => {
  const { timeText } = await import("../src/i18n.js");
  const at = new Date(2026, 11, 7, 19, 29);
  setLanguage("en");
  for (const [languages, written] of [[["en-GB", "fr-FR"], "19:29"], [["en-US"], "07:29 PM"], [["de-DE"], "07:29 PM"]]) {
    Object.defineProperty(globalThis, "navigator", { value: { languages }, configurable: true });
    assert.equal(timeText(at), written, languages.join());
  }
  setLanguage("fr");
  assert.equal(timeText(at), "19:29");
});
