// The one way the app talks to the Vigie API (openapi/openapi.json): JSON in and out, the
// bearer token when signed in, problem+json errors turned into ApiError, and a lost network
// turned into OfflineError so that callers can queue the write instead.
export const API = "/api/v1";

let bearer = null;
export const setToken = (token) => { bearer = token; };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the server answered ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export class OfflineError extends Error {}

export async function request(method, path, { json, body, headers = {}, signal } = {}) {
  const sent = { ...headers };
  if (bearer) sent.Authorization = `Bearer ${bearer}`;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, { method, headers: sent, body, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new OfflineError(error.message);
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data, etag: response.headers.get("ETag") };
}

// Show an image of the API in IMG: photos of pins not yet public are served to their author
// and moderators only, so a signed-in contributor fetches them with the token.
export async function showImage(img, url) {
  if (!bearer) {
    img.src = url;
    return;
  }
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${bearer}` } });
    if (response.ok) img.src = URL.createObjectURL(await response.blob());
  } catch {
    img.alt += " (offline)";
  }
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

export function uploadPhoto(blob, idempotencyKey) {
  const { body, contentType } = multipartPhoto(blob, `vigie-${idempotencyKey}`);
  return request("POST", "photos", { body, headers: { "Content-Type": contentType, "Idempotency-Key": idempotencyKey } });
}
