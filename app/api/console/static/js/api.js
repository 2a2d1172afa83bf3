// The console is a client of /v1 like any other: the key the operator typed travels in the
// X-API-Key header, and lives in sessionStorage (this tab only, gone when it closes; never in
// localStorage or a URL).

const KEY_NAME = 'facematch.apiKey';
const ROLES = ['identify', 'enroll', 'admin'];

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || `http_${status}`;
    this.detail = problem.detail || this.message;
    this.problem = problem;
  }
}

let authFailed = () => {};

/** Called with the ApiError when the service answers 401 or 403: back to sign-in. */
export function onAuthFailure(handler) {
  authFailed = handler;
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY_NAME);
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_NAME, value);
    else sessionStorage.removeItem(KEY_NAME);
  },
  me: null, // {key_id, role, collection_id} from GET /v1/keys/me
  can(role) {
    return this.me != null && ROLES.indexOf(this.me.role) >= ROLES.indexOf(role);
  },
  get unscoped() {
    return this.me != null && this.me.collection_id == null;
  },
};

function buildUrl(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Path segments (ids) always go through here, so nothing a user typed can change the path. */
export function path(strings, ...values) {
  return strings.reduce(
    (out, str, i) => out + str + (i < values.length ? encodeURIComponent(values[i]) : ''),
    '',
  );
}

export async function api(method, url, { json, form, query, auth = true, key } = {}) {
  const headers = { Accept: 'application/json' };
  const presented = key ?? session.key;
  if (auth && presented) headers['X-API-Key'] = presented;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(buildUrl(url, query), { method, headers, body, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, { code: 'network_error', detail: `the service did not answer (${err.message})` });
  }
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) {
    const problem =
      data && typeof data === 'object'
        ? data
        : { code: `http_${res.status}`, detail: String(data || res.statusText).slice(0, 300) };
    const err = new ApiError(res.status, problem);
    if (auth && key === undefined && (res.status === 401 || res.status === 403)) authFailed(err);
    throw err;
  }
  return data;
}

export function photoForm(fields) {
  const form = new FormData();
  for (const [name, file] of Object.entries(fields)) form.append(name, file, file.name);
  return form;
}

let modelsPromise = null;

/** /v1/models, fetched once per sign-in (the thresholds and the FAR calibration table). */
export function models() {
  if (!modelsPromise) {
    modelsPromise = api('GET', '/v1/models').catch((err) => {
      modelsPromise = null;
      throw err;
    });
  }
  return modelsPromise;
}

export function forgetModels() {
  modelsPromise = null;
}

/** Estimated FAR at a similarity, interpolated in log-FAR like the service does. */
export function farAt(calibration, similarity) {
  const pts = calibration.points;
  if (!pts.length) return null;
  if (similarity <= pts[0].similarity) return pts[0].far;
  const floor = calibration.far_floor;
  for (let i = 1; i < pts.length; i += 1) {
    if (similarity <= pts[i].similarity) {
      const a = pts[i - 1];
      const b = pts[i];
      const t = (similarity - a.similarity) / (b.similarity - a.similarity);
      const la = Math.log(Math.max(a.far, floor));
      const lb = Math.log(Math.max(b.far, floor));
      return Math.min(1, Math.max(floor, Math.exp(la + t * (lb - la))));
    }
  }
  return floor;
}
