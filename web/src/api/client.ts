// The one way the UI talks to the appliance's JSON API: every call goes through `request`, so a
// 401 always sends the user back to the login page and every failure is one ApiError carrying the
// server's {error, message, field}.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, field?: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }

  /** The endpoint does not exist (yet) on this appliance, or answered with something else than JSON. */
  get notAvailable(): boolean {
    return this.status === 404 || this.status === 405 || this.status === 501 || this.code === 'not_available';
  }
}

let onUnauthorized: (() => void) | null = null;

/** Called when any request (other than those that expect a 401) finds the session gone. */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

/** A body sent as it is (a file, a text) instead of as JSON. */
export interface RawBody {
  raw: Blob | string;
  contentType: string;
}

export interface RequestOptions {
  /** A 401 is an answer to this request (wrong password), not an expired session. */
  allow401?: boolean;
  signal?: AbortSignal;
}

function fallbackMessage(status: number): string {
  switch (status) {
    case 401:
      return 'Your session has ended. Please sign in again.';
    case 403:
      return 'You are not allowed to do this.';
    case 404:
      return 'Not found.';
    case 429:
      return 'Too many attempts. Please wait and try again.';
    case 502:
      return 'The device answered with an error.';
    case 504:
      return 'The device did not answer in time.';
    default:
      return status >= 500 ? 'The appliance had an internal error.' : `Request failed (HTTP ${status}).`;
  }
}

/** Turns a non-2xx response into an ApiError (exported for tests). */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const retryHeader = res.headers.get('Retry-After');
  const retryAfter = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : undefined;
  let body: unknown = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    try {
      body = await res.json();
    } catch {
      body = null;
    }
  }
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const code = typeof b.error === 'string' ? b.error : `http_${res.status}`;
    const message = typeof b.message === 'string' && b.message ? b.message : fallbackMessage(res.status);
    const field = typeof b.field === 'string' && b.field ? b.field : undefined;
    return new ApiError(res.status, code, message, field, retryAfter);
  }
  return new ApiError(res.status, `http_${res.status}`, fallbackMessage(res.status), undefined, retryAfter);
}

function isRaw(body: unknown): body is RawBody {
  return typeof body === 'object' && body !== null && 'raw' in body && 'contentType' in body;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (isRaw(body)) {
    headers['Content-Type'] = body.contentType;
    payload = body.raw;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach the appliance. Check the connection and try again.');
  }
  if (res.status === 401 && !opts.allow401 && onUnauthorized) {
    onUnauthorized();
  }
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('json')) {
    // e.g. the SPA fallback answered with index.html: the route does not exist on this build.
    throw new ApiError(res.status, 'not_available', 'Not available on this appliance.');
  }
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
