// The one way the app talks to the Vigie API (openapi/openapi.json): JSON in and out, the
// bearer token when signed in, problem+json errors turned into ApiError, and a lost network
// turned into OfflineError so that callers can queue the write instead.
export const API = "/api/v1";

let bearer = null;
export const setToken = (token) => { bearer = token; };
// While the token is being revoked, requests go without it (one that the revocation overtook
// would be refused, a 401 for a session ended). What is read meanwhile belongs to no session:
// neither to the one after the sign-out nor, should the revocation fail, to this one, which
// it lacks the pins awaiting review of (a sync cursor moved past them would lose them).
let withheld = false;
export const withholdToken = (on) => { withheld = on; };
const sentToken = () => (withheld ? null : bearer);
// The session requests are made for now: what was read for another (another account's, before
// signing out) is not this session's to keep, nor is what is read while the token is withheld,
// for no session (a value equal to nothing, the token then withheld or restored included).
export const currentToken = () => (withheld ? Symbol("token withheld") : bearer);

// Told the token a request carried when the server no longer knows it (expired, revoked).
const tokenRefusedListeners = [];
export const onTokenRefused = (listener) => tokenRefusedListeners.push(listener);

// Reads that see this device's own writes: a write's answer carries the WAL position past its
// commit, and every later request sends back the newest one received, so that a read replica
// serves it only once it has replayed that far (docs/replicas.md). Kept across reloads.
export const WAL_HEADER = "Vigie-WAL-Position";
const WAL_KEY = "vigie.walPosition";
const storage = globalThis.localStorage;
let walPosition = storage?.getItem(WAL_KEY) || null;

// An LSN ("16/B374D848") as a number that orders positions.
const lsn = (text) => {
  const [high, low] = text.split("/");
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
};

export function rememberPosition(position) {
  if (!/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(position || "")) return;
  if (walPosition && lsn(walPosition) >= lsn(position)) return;
  walPosition = position;
  storage?.setItem(WAL_KEY, position);
}

export const positionHeaders = () => (walPosition ? { [WAL_HEADER]: walPosition } : {});

// RETRY_AFTER: the answer's Retry-After (seconds or a date), as milliseconds to wait, or null.
// TOKEN_REFUSED: a 401 to a token sent (its session is over), not to a request without one.
export class ApiError extends Error {
  constructor(status, problem, retryAfter = null, { tokenRefused = false } = {}) {
    super(problem?.detail || problem?.title || `the server answered ${status}`);
    this.status = status;
    this.tokenRefused = tokenRefused;
    this.problem = problem || {};
    const seconds = Number(retryAfter);
    const wait = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    this.retryAfterMs = retryAfter && wait > 0 ? wait : null;
  }
}

export class OfflineError extends Error {
  name = "OfflineError";
}

// A request that gets no answer (or, sending or receiving, no progress) for this long is taken
// for a lost network: a half-open connection (a cell handover, a captive portal) would
// otherwise hold the outbox, whose passes wait for each other, for the system's TCP timeout.
export const STALL_MS = 45_000;

// A signal that aborts with SIGNAL, or after STALL_MS of silence (stalled() starts it again):
// timers of the page's own, which a test's clock can move on.
function stallGuard(signal) {
  const controller = new AbortController();
  let timer;
  const stalled = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new DOMException("no answer", "TimeoutError")), STALL_MS);
  };
  if (signal?.aborted) controller.abort(signal.reason);
  signal?.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  stalled();
  return { signal: controller.signal, stalled, done: () => clearTimeout(timer) };
}

// FETCH's answer, sent by XMLHttpRequest: fetch() cannot report how much of a body has been
// sent, which a contributor on a slow network waits for (a photo of several megabytes).
// ON_UPLOAD_PROGRESS(fraction sent, 0 to 1). A lost network rejects as fetch() does.
// ON_PROGRESS() is told of every bytes sent or received.
function fetchReportingUpload(url, { method, headers, body, signal, onProgress }, onUploadProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.responseType = "blob";
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      onProgress();
      if (event.lengthComputable) onUploadProgress(event.loaded / event.total);
    });
    xhr.addEventListener("progress", onProgress);
    xhr.addEventListener("load", () => {
      try {
        const answer = new Headers();
        for (const line of xhr.getAllResponseHeaders().trim().split(/\r?\n/)) {
          const colon = line.indexOf(":");
          if (colon > 0) answer.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        }
        const empty = [204, 205, 304].includes(xhr.status);
        resolve(new Response(empty ? null : xhr.response, { status: xhr.status, headers: answer }));
      } catch (error) {
        reject(error); // a status no Response can carry (a proxy's 600): as a lost network
      }
    });
    xhr.addEventListener("error", () => reject(new TypeError("network error")));
    const aborted = () => signal.reason ?? new DOMException("aborted", "AbortError");
    xhr.addEventListener("abort", () => reject(aborted()));
    if (signal?.aborted) return reject(aborted());
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

// TOKEN: the one to send (null: none), when not the session's of this instant (an outbox item
// goes with its own account's, operations.js).
export async function request(method, path, { json, body, headers = {}, signal, onUploadProgress, token = sentToken() } = {}) {
  const sent = { ...positionHeaders(), ...headers };
  if (token) sent.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  let data = null;
  const guard = stallGuard(signal);
  try {
    const url = path.startsWith("/") ? path : `${API}/${path}`;
    const options = { method, headers: sent, body, signal: guard.signal };
    // The service worker has no XMLHttpRequest: it sends without reporting progress.
    response = onUploadProgress && globalThis.XMLHttpRequest
      ? await fetchReportingUpload(url, { ...options, onProgress: guard.stalled }, onUploadProgress)
      : await fetch(url, options);
    guard.stalled(); // the answer began: its body gets as long again
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) data = await response.json();
  } catch (error) {
    if (error.name === "AbortError") throw error; // the caller's
    throw new OfflineError(error.message);
  } finally {
    guard.done();
  }
  rememberPosition(response.headers.get(WAL_HEADER));
  const tokenRefused = response.status === 401 && Boolean(token);
  if (tokenRefused) for (const listener of tokenRefusedListeners) listener(token);
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("Retry-After"), { tokenRefused });
  return { status: response.status, data, etag: response.headers.get("ETag") };
}

// Show an image of the API in IMG. Public photos load as plain images, which the service
// worker keeps for offline use. Photos not yet public are served to their author and
// moderators only, so a signed-in contributor fetches them with the token, and stores them
// nowhere (neither the browser's cache nor the service worker's): on a shared phone, the next
// person would be served them without it. Without a network: OfflineError.
export async function showImage(img, url, { isPublic = false } = {}) {
  const token = sentToken();
  if (!token || isPublic) {
    img.src = url;
    return;
  }
  let response;
  try {
    response = await fetch(url, { cache: "no-store", headers: { ...positionHeaders(), Authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new OfflineError(error.message);
  }
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
}

// A multipart body with a boundary of our choosing: a retried upload is then byte for byte the
// first one, which the server's Idempotency-Key check requires.
export function multipartPhoto(blob, boundary) {
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo"\r\n` +
    `Content-Type: ${blob.type || "application/octet-stream"}\r\n\r\n`;
  return {
    body: new Blob([head, blob, `\r\n--${boundary}--\r\n`]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

// ON_PROGRESS(fraction sent), when given: see fetchReportingUpload. SIGNAL gives it up. TOKEN:
// as request's.
export function uploadPhoto(blob, idempotencyKey, { onProgress, signal, token } = {}) {
  const { body, contentType } = multipartPhoto(blob, `vigie-${idempotencyKey}`);
  const headers = { "Content-Type": contentType, "Idempotency-Key": idempotencyKey };
  return request("POST", "photos", { body, headers, signal, token, onUploadProgress: onProgress });
}
