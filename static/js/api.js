// Calls to the prediction API, with every failure turned into an ApiError
// carrying the contract's machine-readable `code` and a human `message`.

export class ApiError extends Error {
  constructor({ status, code, message, retryAfter = null, details = null }) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server was not reached
    this.code = code;
    this.retryAfter = retryAfter; // seconds, for 429
    this.details = details;
  }
}

/** POST a JSON body; resolve to the parsed JSON answer or reject with ApiError.
 * An aborted request rejects with the browser's own AbortError. */
export async function postJson(url, body, { csrfToken, signal } = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken,
      },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError({
      status: 0,
      code: "unreachable",
      message: "The server cannot be reached. Check your connection, then try again.",
    });
  }
  const data = await readJson(response);
  if (response.ok && data !== null) return data;
  throw errorFrom(response, data);
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null; // an empty body, or a proxy's HTML error page
  }
}

function errorFrom(response, data) {
  const { status } = response;
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  if (data && typeof data.code === "string") {
    return new ApiError({
      status,
      code: data.code,
      message: data.message || `The server refused the request (HTTP ${status}).`,
      retryAfter,
      details: data.details || null,
    });
  }
  if (status === 429) {
    return new ApiError({
      status,
      code: "throttled",
      message: "Too many requests.",
      retryAfter,
    });
  }
  if (status >= 500 || response.ok) {
    return new ApiError({
      status,
      code: "server_error",
      message: `The server had a problem (HTTP ${status}). Try again in a moment.`,
    });
  }
  return new ApiError({
    status,
    code: "http_error",
    message: `The server refused the request (HTTP ${status}).`,
  });
}

function parseRetryAfter(value) {
  if (value === null) return null;
  const seconds = Number.parseInt(value, 10);
  if (Number.isFinite(seconds)) return Math.max(seconds, 0);
  const date = Date.parse(value); // the HTTP-date form
  return Number.isNaN(date) ? null : Math.max(Math.ceil((date - Date.now()) / 1000), 0);
}
