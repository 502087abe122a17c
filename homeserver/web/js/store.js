// The client's state in one object, changed only through the functions here and in app.js,
// and a subscription that re-renders the app after each change (batched per frame).
import { get, post, qs } from './api.js';

export const store = {
  me: null, // profile from GET /api/v1/users/me
  conn: 'connecting', // connected | connecting | offline
  convs: [], // GET /api/v1/conversations, most recent first
  current: null, // target of the open conversation
  timelines: new Map(), // target -> timeline
  typing: new Map(), // target -> Map(handle -> expiry ms)
  notifications: { list: [], unread: 0 },
  pane: null, // null | {kind: 'thread'|'search'|'settings'|'profile'|'notifications'|'people'|'browse', ...}
  modal: null, // null | {kind: 'switcher'|'join'|'dm'}
  reactions: new Map(), // reaction event id -> {msg, emoji, from}
  flash: null,
};

let listeners = [];
let scheduled = false;
export function subscribe(fn) {
  listeners.push(fn);
  return () => (listeners = listeners.filter((l) => l !== fn));
}
export function changed() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const l of listeners) l();
  });
}

export function flash(text) {
  store.flash = text;
  changed();
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => {
    store.flash = null;
    changed();
  }, 5000);
}

const lc = (s) => (s || '').toLowerCase();
export const sameTarget = (a, b) => lc(a) === lc(b);
export const isChannel = (t) => (t || '').startsWith('#');

// The conversation an event belongs to, for this user: a channel's name, or a DM's other party.
export function convOf(e) {
  if (isChannel(e.to)) return e.to;
  const mine = store.me && (sameTarget(e.from, store.me.handle) || sameTarget(e.from, store.me.nick));
  return mine ? e.to : e.from;
}

// The short label of a target: `#general@this.server` shows as `#general`.
export function label(target) {
  const server = store.me && store.me.handle.split('@')[1];
  if (server && lc(target).endsWith('@' + lc(server))) return target.slice(0, -(server.length + 1));
  return target;
}

// The full form of a target typed by a user: `#name` and `nick` are on this server.
export function canonical(target) {
  const t = (target || '').trim();
  const server = store.me && store.me.handle.split('@')[1];
  if (!t || !server) return t;
  const name = t.startsWith('#') ? t.slice(1) : t.replace(/^@/, '');
  const full = name.includes('@') ? name : `${name}@${server}`;
  return (t.startsWith('#') ? '#' : '') + full.toLowerCase();
}

export function timeline(target) {
  let t = [...store.timelines.entries()].find(([k]) => sameTarget(k, target));
  if (t) return t[1];
  const tl = { events: [], ids: new Map(), hasMore: true, loading: false, start: 0, end: null, loaded: false };
  store.timelines.set(target, tl);
  return tl;
}

const PAGE = 50;
export const WINDOW = 200; // messages in the DOM at most

// Loads the page before the oldest loaded event; returns how many were added.
export async function loadOlder(target) {
  const tl = timeline(target);
  if (tl.loading || !tl.hasMore) return 0;
  tl.loading = true;
  changed();
  try {
    const before = tl.events.length ? tl.events[0].seq : undefined;
    const page = await get('/api/v1/history?' + qs({ target, before, limit: PAGE }));
    // Edits, deletes and reactions are already folded into the messages they act on.
    const older = page.events.filter((e) => isShown(e) && !tl.ids.has(e.id)).reverse();
    for (const e of older) tl.ids.set(e.id, e);
    tl.events = older.concat(tl.events);
    if (tl.end !== null) tl.end += older.length;
    // Reading back past the window detaches it from the newest messages.
    if ((tl.end ?? tl.events.length) - tl.start > WINDOW) tl.end = tl.start + WINDOW;
    tl.hasMore = page.events.length >= PAGE;
    tl.loaded = true;
    return older.length;
  } finally {
    tl.loading = false;
    changed();
  }
}

export async function refreshConversations() {
  const res = await get('/api/v1/conversations');
  store.convs = res.conversations;
  changed();
}

export async function refreshNotifications() {
  const res = await get('/api/v1/notifications');
  store.notifications = { list: res.notifications, unread: res.unread };
  changed();
}

export async function markRead(target) {
  const tl = timeline(target);
  const last = [...tl.events].reverse().find((e) => e.seq > 0 && isShown(e));
  if (!last) return;
  const conv = store.convs.find((c) => sameTarget(c.target, target));
  if (conv && conv.unread === 0 && conv.last_read === last.id) return;
  try {
    await post('/api/v1/read', { target, id: last.id });
    if (conv) {
      conv.unread = 0;
      conv.mentions = 0;
      conv.last_read = last.id;
    }
    changed();
  } catch {
    /* a read marker is best effort */
  }
}

export const SHOWN = new Set(['message', 'action', 'notice', 'join', 'part', 'quit', 'kick', 'topic', 'mode', 'nick', 'invite', 'system']);
export const isShown = (e) => SHOWN.has(e.type);
export const isChat = (e) => e.type === 'message' || e.type === 'action' || e.type === 'notice';
