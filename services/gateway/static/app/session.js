/* global AbortController, Node, TextDecoderStream, document, fetch, location, sessionStorage, setTimeout -- a browser module */
// The signed-in session and the API calls of every page. The token lives in sessionStorage only:
// it ends with the tab, and no page ever puts it in a URL.
const KEY = 'weai.session';

/** @returns {{ token: string, role: 'partner'|'owner'|'operator', subject: string, expiresAt: string } | null} */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (s && Date.parse(s.expiresAt) > Date.now()) return s;
  } catch {
    /* a damaged entry is no session */
  }
  return null;
}

export function saveSession(answer) {
  sessionStorage.setItem(KEY, JSON.stringify({ token: answer.token, role: answer.role, subject: answer.subject, expiresAt: answer.expiresAt }));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  location.assign('./');
}

/** An API error as the gateway words it: `{ error: { code, message } }`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, body?.error?.code ?? `http-${res.status}`, body?.error?.message ?? res.statusText);
}

/** Calls a `/v1` route with the session's token; JSON in and out unless `raw`. */
export async function api(path, { method = 'GET', json, body, headers = {}, raw = false, token } = {}) {
  const auth = token ?? session()?.token;
  const init = { method, headers: { ...headers } };
  if (auth) init.headers.authorization = `Bearer ${auth}`;
  if (json !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.headers['content-type'] = 'application/octet-stream';
    init.body = body;
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await errorOf(res);
  return raw ? res : res.json();
}

/**
 * Follows a server-sent event route with the token in the Authorization header (EventSource
 * cannot send one), reconnecting after a drop (from the last id with `resumeWithLastId`) until
 * `isLast(type)` says an event was the last; `onEvent(type, data, id)`. Returns a stop function.
 */
export function follow(path, onEvent, { onState = () => {}, resumeWithLastId = false, isLast = () => false } = {}) {
  const stop = new AbortController();
  let lastId;
  let finished = false;
  (async () => {
    while (!stop.signal.aborted) {
      try {
        const headers = { authorization: `Bearer ${session()?.token ?? ''}` };
        if (resumeWithLastId && lastId) headers['last-event-id'] = lastId;
        const res = await fetch(path, { headers, signal: stop.signal });
        if (!res.ok) {
          const error = await errorOf(res);
          onState('refused', error);
          if (res.status === 401 || res.status === 403 || res.status === 404) return;
          throw error;
        }
        onState('open');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let type = 'message';
            let id;
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
              else if (line.startsWith('id: ')) id = line.slice(4);
            }
            if (id) lastId = id;
            if (data.length) onEvent(type, JSON.parse(data.join('\n')), id);
            if (isLast(type)) finished = true;
          }
        }
        onState('ended');
        // A stream that ends before its last event (a gateway restarting) is resumed after the last id.
        if (finished) return;
      } catch (error) {
        if (stop.signal.aborted) return;
        onState('retrying', error);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => stop.abort();
}

/**
 * The page's guard: without a session, back to sign-in; signed in as another role, the page says
 * so and shows nothing else (the routes would answer 403 anyway).
 */
export function requireRole(role) {
  const s = session();
  if (!s) {
    location.assign(`./?next=${encodeURIComponent(role)}`);
    return null;
  }
  document.querySelector('#who').textContent = `${s.role} ${s.subject}`;
  document.querySelector('#sign-out').addEventListener('click', signOut);
  if (s.role !== role) {
    refuse(`This page is for ${role}s; you are signed in as ${/^[aeiou]/.test(s.role) ? 'an' : 'a'} ${s.role}.`);
    return null;
  }
  return s;
}

/** Replaces the page's content with a refusal. */
export function refuse(message) {
  const main = document.querySelector('main');
  main.replaceChildren(el('p', { class: 'refused', 'data-testid': 'refused' }, message));
}

/** A small element builder: el('td', { class: 'x' }, 'text', child…). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** Shows an error (or clears it) in an element. */
export function showError(target, error) {
  target.textContent = error ? `${error.code ? `${error.code}: ` : ''}${error.message}` : '';
}

/** Base units (18 decimals) as WEBI, exactly. */
export function webi(base) {
  const v = BigInt(base);
  const sign = v < 0n ? '-' : '';
  const a = v < 0n ? -v : v;
  const whole = a / 10n ** 18n;
  const frac = (a % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''} WEBI`;
}
