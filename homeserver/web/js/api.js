// The client API over the browser's cookie session. The token lives in an HttpOnly cookie the
// page cannot read; every request that changes something echoes the CSRF cookie as a header.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)hearth_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

// A random id (txn ids, keys). `crypto.randomUUID` exists only in secure contexts, and a family
// server on a LAN may be plain http: getRandomValues works everywhere.
export function uid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, 'offline', 'the server cannot be reached');
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    if (res.status === 401 && !path.startsWith('/api/v1/web/')) onUnauthorized();
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body ?? {});
export const del = (path) => api('DELETE', path);

export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return q.toString();
}

// A channel's path segment: `#name@host` → `name@host`.
export const chanPath = (target) => encodeURIComponent(target.replace(/^#/, ''));

// Uploads a file with progress (XHR: fetch has no upload progress). Resolves to the media info.
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/media?' + qs({ filename: file.name || 'pasted' }));
    xhr.setRequestHeader('X-CSRF-Token', csrf());
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const err = (data && data.error) || {};
        reject(new ApiError(xhr.status, err.code || 'upload_failed', err.message || 'upload failed'));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'offline', 'the upload failed'));
    xhr.send(file);
  });
}
