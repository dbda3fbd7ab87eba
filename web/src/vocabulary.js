// The values the server takes (service/vocabulary.py), for forms filled in offline; a test of
// the suite checks that the two agree.
export const KINDS = ["camera", "alpr", "facial_recognition", "microphone", "gunshot_detector", "sensor"];
// The kinds that film: only they have a camera type (the server refuses one for the others).
export const CAMERA_KINDS = new Set(["camera", "alpr", "facial_recognition"]);
export const VOCABULARY = {
  camera_type: ["fixed", "dome", "panning"],
  mount: ["wall", "pole", "ceiling", "street_lamp", "other"],
  operator_type: ["public", "private", "unknown"],
  zone: ["town", "traffic", "parking", "shop", "transit", "building", "other"],
  surveillance: ["public", "outdoor", "indoor"],
};
// The fields that always hold a value (never empty), with the one a device gets without it.
export const DEFAULTS = { operator_type: "unknown" };
// A character that shows (service/vocabulary.py, VISIBLE): free text of spaces and invisible
// characters alone says nothing, and the server refuses it.
export const VISIBLE_PATTERN = "[^\\s\x1c-\x1f\x85\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]";
const VISIBLE = new RegExp(VISIBLE_PATTERN, "u");

// Free text as sent: trimmed, and none when it holds nothing that shows (the server would
// refuse it, once the form is gone, from the outbox).
export function visibleText(text) {
  return VISIBLE.test(text) ? text.trim() : null;
}
