// The one HTTP client of the app (the tablet's screens and the office's): the session and
// its tokens, refreshed single-flight, and `api`, which turns the server's refusals into
// sentences in the user's language.
import { stored, store } from './storage.js';
import { explainResponse, t } from './i18n.js';

/** The login: `{access_token, refresh_token, expires_at, user}`, or null when logged out. */
let session = stored('session', null);
/** The session as it is now (null when logged out). */
export const currentSession = () => session;
/** Called when the server refuses the refresh token: the app logs out. */
let sessionEnded = () => {};
/** Sets what happens when the server ends the session (a refused refresh). */
export function onSessionEnded(fn) { sessionEnded = fn; }

// One refresh at a time: the office loads several endpoints at once and the socket, the
// discovery poll and the photo upload each want a fresh token; every caller that finds the
// token about to expire (or gets a 401) waits for the same refresh. Two refreshes with one
// refresh token would rotate it twice, and a reuse after the server's grace window ends the
// whole login (issue 16, input 4). Only a refresh the server refused logs out.
let refreshing = null;
/**
 * Refreshes the tokens unless `stale` (the access token a caller found too old or was
 * refused with) has already been replaced; callers meanwhile share the one refresh.
 */
export function refreshTokens(stale = session?.access_token) {
  if (!session) return Promise.reject(new Error('session ended'));
  if (session.access_token !== stale) return Promise.resolve();
  refreshing ??= refreshOnce().finally(() => { refreshing = null; });
  return refreshing;
}
async function refreshOnce() {
  // Another tab of this app may have rotated the tokens already: take its newer ones.
  const latest = stored('session', null);
  if (latest && latest.refresh_token !== session.refresh_token && latest.expires_at > session.expires_at) {
    session = latest;
    return;
  }
  const r = await fetch('/api/v1/auth/refresh', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: session.refresh_token }),
  });
  if (r.status === 401) { sessionEnded(); throw new Error('session ended'); }
  if (!r.ok) throw new Error(`refresh failed: ${r.status}`);
  saveSession(await r.json());
}
export function saveSession(body) {
  session = { ...body, expires_at: Date.now() + body.expires_in * 1000 };
  store('session', session);
}
export async function freshToken() {
  if (refreshing) await refreshing;
  if (session && session.expires_at - Date.now() < 60_000) await refreshTokens(session.access_token);
  return session?.access_token;
}
/**
 * `fetch` with the session's token. A 401 (the token expired early, the clock is off) is
 * answered by one shared refresh and one retry; if the refresh is refused, the user is
 * logged out there, so a 401 alone never logs out.
 */
export async function authFetch(path, options = {}) {
  const send = (token) => fetch(path, { ...options, headers: { ...(options.headers || {}), authorization: `Bearer ${token}` } });
  const token = await freshToken();
  const r = await send(token);
  if (r.status !== 401 || !session) return r;
  await refreshTokens(token);
  return send(session.access_token);
}
export async function api(path, options = {}) {
  const r = await authFetch(path, options);
  if (!r.ok) {
    // The server's refusal in the user's language (its reason), never its English message.
    const error = new Error(await explainResponse(r));
    Object.assign(error, { path, status: r.status });
    throw error;
  }
  return r.headers.get('content-type')?.includes('json') ? r.json() : r;
}
/** Keeps the user as the server knows them now (`GET /api/v1/me`) in the session. */
export function updateUser(me) {
  if (!session) return;
  session = { ...session, user: me };
  store('session', session);
}

/** Logs in; the session is kept. Throws a sentence in the user's language on failure. */
export async function logIn(username, password) {
  const r = await fetch('/api/v1/auth/login', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  if (r.status === 429) throw new Error(t('tooMany'));
  if (r.status === 401) throw new Error(t('loginFailed'));
  if (!r.ok) throw new Error(await explainResponse(r));
  saveSession(await r.json());
}

/** Ends the session here and tells the server (which revokes its refresh token). */
export function logOut() {
  if (session) {
    fetch('/api/v1/auth/logout', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    }).catch(() => {});
  }
  session = null;
  store('session', null);
}
