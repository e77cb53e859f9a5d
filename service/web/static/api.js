// The JSON API with the key the user typed in; refusals become ApiError with
// the RFC 9457 problem's title and detail.

const KEY = "tocsin.apiKey";

export const credentials = {
  get() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key.trim()); },
  clear() { sessionStorage.removeItem(KEY); },
  // tocsin_<id>_<secret>: the id is safe to show, the secret is not.
  label() {
    const key = this.get() || "";
    const parts = key.split("_");
    return parts.length >= 3 ? `key ${parts[1]}` : "key";
  },
};

export class ApiError extends Error {
  constructor(status, title, detail, errors = []) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
  }
}

export function authHeaders() {
  const key = credentials.get();
  return key ? {Authorization: `Bearer ${key}`} : {};
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const title = body && typeof body.title === "string" ? body.title : `HTTP ${response.status}`;
  const detail = body && typeof body.detail === "string" ? body.detail : response.statusText;
  const errors = body && Array.isArray(body.errors) ? body.errors : [];
  return new ApiError(response.status, title, detail, errors);
}

export async function request(path, {method = "GET", body, signal} = {}) {
  const headers = {Accept: "application/json", ...authHeaders()};
  const init = {method, headers, signal, cache: "no-store", credentials: "omit"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "Tocsin is not reachable", String(error.message || error));
  }
  if (!response.ok) throw await problemOf(response);
  return response.status === 204 ? null : response.json();
}

export { problemOf };
