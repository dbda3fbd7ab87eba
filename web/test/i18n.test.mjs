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
  assert.equal(problemText(problem), "Valeur refusée (« Direction (°) », « Hauteur (m) »).");
  assert.equal(problemText({ type: `${TYPE}conflict`, status: 409, errors: [{ field: "username" }] }), "Ce pseudonyme est déjà pris.");
  assert.equal(problemText({ status: 502 }), "Refusé par le serveur (erreur 502).");
});

test("an error without a problem keeps its message; English keeps the server's words", () => {
  assert.equal(errorText(new Error("offline")), "offline");
  const refusal = Object.assign(new Error("Too large."), { status: 413, problem: { type: `${TYPE}payload-too-large` } });
  assert.equal(errorText(refusal), "Fichier trop lourd.");
  setLanguage("en");
  assert.equal(errorText(refusal), "Too large.");
  assert.equal(problemText({ type: `${TYPE}gone`, status: 410, detail: "Device 1 was deleted." }), "Device 1 was deleted.");
});
