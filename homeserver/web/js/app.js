// The Hearth web client: Preact components written with htm, no build step.
import { html, render, useState, useEffect, useLayoutEffect, useRef } from '../vendor/htm-preact-standalone.js';
import { get, post, put, patch, del, qs, chanPath, upload, setUnauthorizedHandler, ApiError, uid } from './api.js';
import { Live } from './live.js';
import { render as markdown, mentions } from './markdown.js';
import {
  store, subscribe, changed, flash, convOf, label, timeline, loadOlder, refreshConversations,
  refreshNotifications, markRead, sameTarget, isChannel, isShown, isChat, canonical, WINDOW,
} from './store.js';

const EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀', '🔥', '✅', '👎', '🤔'];

// Icons drawn here (no icon font, nothing from another host).
const ICONS = {
  search: ['M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14z', 'M21 21l-5-5'],
  bell: ['M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9', 'M10.3 21a1.94 1.94 0 0 0 3.4 0'],
  people: ['M9 3a4 4 0 1 0 0 8a4 4 0 1 0 0-8z', 'M2 21v-2a4 4 0 0 1 4-4h6a4 4 0 0 1 4 4v2', 'M16 3.1a4 4 0 0 1 0 7.8', 'M22 21v-2a4 4 0 0 0-3-3.9'],
  theme: ['M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z', 'M12 3v18'],
  attach: ['M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5'],
  smile: ['M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z', 'M8 14s1.5 2 4 2s4-2 4-2', 'M9 9h.01', 'M15 9h.01'],
  reply: ['M9 17l-5-5l5-5', 'M20 18v-2a4 4 0 0 0-4-4H4'],
  edit: ['M12 20h9', 'M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1l1-4z'],
  trash: ['M3 6h18', 'M8 6V4h8v2', 'M19 6l-1 14H6L5 6'],
  file: ['M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z', 'M14 2v6h6'],
  close: ['M18 6L6 18', 'M6 6l12 12'],
  back: ['M19 12H5', 'M12 19l-7-7l7-7'],
};
const Icon = ({ name }) => html`<svg class="ico" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${ICONS[name].map((d) => html`<path d=${d} />`)}</svg>`;
let live = null;

// ---------- session ----------

async function boot() {
  try {
    const session = await get('/api/v1/web/session');
    store.me = session.signed_in ? await get('/api/v1/users/me') : null;
  } catch {
    store.me = null;
  }
  if (!store.me) return changed();
  if (live) live.stop();
  setUnauthorizedHandler(() => signedOut());
  live = new Live({ onEvent: handleEvent, onState: (s) => ((store.conn = s), changed()) });
  live.start();
  await Promise.all([refreshConversations(), refreshNotifications()]).catch(() => {});
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted) openConversation(wanted);
  else if (window.innerWidth > 700 && store.convs[0]) openConversation(store.convs[0].target);
  changed();
}

function signedOut() {
  clearTimeout(convRefresh);
  if (live) live.stop();
  live = null;
  Object.assign(store, { me: null, convs: [], current: null, pane: null, modal: null });
  store.timelines.clear();
  changed();
}

async function logout() {
  try {
    await post('/api/v1/web/logout');
  } catch {
    /* the cookies may be gone already */
  }
  signedOut();
}

// ---------- live events ----------

let convRefresh = null;
function refreshSoon() {
  clearTimeout(convRefresh);
  convRefresh = setTimeout(() => refreshConversations().catch(() => {}), 300);
}

function findMessage(id) {
  for (const tl of store.timelines.values()) {
    const m = tl.ids.get(id);
    if (m) return m;
  }
  const t = store.pane && store.pane.kind === 'thread' && store.pane.thread;
  if (t) return [t.root, ...t.replies].find((e) => e.id === id);
  return null;
}

function eachCopy(id, fn) {
  for (const tl of store.timelines.values()) {
    const m = tl.ids.get(id);
    if (m) fn(m);
  }
  const t = store.pane && store.pane.kind === 'thread' && store.pane.thread;
  if (t) for (const e of [t.root, ...t.replies]) if (e.id === id) fn(e);
}

function addReaction(msgId, emoji, from, delta) {
  const mine = sameTarget(from, store.me.handle);
  eachCopy(msgId, (m) => {
    const list = (m.reactions = m.reactions || []);
    let r = list.find((x) => x.emoji === emoji);
    if (!r) list.push((r = { emoji, count: 0, me: false }));
    r.count = Math.max(0, r.count + delta);
    if (mine) r.me = delta > 0;
    m.reactions = list.filter((x) => x.count > 0);
  });
}

function handleEvent(e) {
  if (e.type === '__unauthorized') return signedOut();
  const target = convOf(e);
  switch (e.type) {
    case 'typing': {
      if (sameTarget(e.from, store.me.handle)) return;
      const t = store.typing.get(target.toLowerCase()) || new Map();
      if (e.meta && e.meta.typing) t.set(e.from, Date.now() + 5000);
      else t.delete(e.from);
      store.typing.set(target.toLowerCase(), t);
      setTimeout(changed, 5100);
      break;
    }
    case 'receipt':
      if (store.current && sameTarget(target, store.current)) loadReceipts(store.current);
      if (sameTarget(e.from, store.me.handle)) refreshSoon();
      break;
    case 'presence':
      if (sameTarget(e.from, store.me.handle)) Object.assign(store.me, { status: e.meta.status, display_name: e.meta.display_name, avatar: e.meta.avatar, status_message: e.meta.status_message });
      break;
    case 'notification':
      refreshNotifications().catch(() => {});
      desktopNotify(e);
      break;
    case 'edit':
      eachCopy(e.target, (m) => {
        m.body = e.body;
        m.meta = e.meta;
        m.edited = { ts: e.ts, count: ((m.edited && m.edited.count) || 0) + 1 };
      });
      break;
    case 'delete': {
      const r = store.reactions.get(e.target);
      if (r) {
        store.reactions.delete(e.target);
        addReaction(r.msg, r.emoji, r.from, -1);
      } else {
        eachCopy(e.target, (m) => Object.assign(m, { deleted: true, body: '', attachments: [], files: [] }));
      }
      refreshSoon();
      break;
    }
    case 'reaction':
      store.reactions.set(e.id, { msg: e.target, emoji: e.body, from: e.from });
      addReaction(e.target, e.body, e.from, +1);
      break;
    default:
      if (!isShown(e)) return;
      appendLive(target, e);
      if (['join', 'part', 'kick', 'topic', 'mode', 'system'].includes(e.type) && store.pane && store.pane.kind === 'settings') loadSettings();
      refreshSoon();
  }
  changed();
}

function appendLive(target, e) {
  const tl = timeline(target);
  if (tl.ids.has(e.id)) return;
  if (!tl.loaded) return; // opened later: history has it
  tl.ids.set(e.id, e);
  tl.events.push(e);
  // Sync carries attachment ids; the message's view adds their names, types and thumbnails.
  if ((e.attachments || []).length && !e.files) {
    get(`/api/v1/messages/${e.id}`).then((full) => ((e.files = full.files), changed())).catch(() => {});
  }
  if (e.reply_to) {
    eachCopy(e.reply_to, (m) => (m.replies = { count: ((m.replies && m.replies.count) || 0) + 1, last_ts: e.ts }));
    const p = store.pane;
    if (p && p.kind === 'thread' && p.thread && p.thread.root.id === e.reply_to) p.thread.replies.push(e);
  }
  if (isChat(e) && sameTarget(store.current, target) && document.visibilityState === 'visible' && stuck) markRead(target);
  // A user who blocks nothing still gets a note of their own DMs starting.
  if (!store.convs.some((c) => sameTarget(c.target, target))) refreshSoon();
}

function desktopNotify(e) {
  const n = e.meta && e.meta.notification;
  if (!n || !('Notification' in window) || Notification.permission !== 'granted') return;
  if (!['mention', 'dm', 'reply'].includes(n.type)) return;
  const ev = n.event || {};
  if (document.visibilityState === 'visible' && store.current && ev.to && sameTarget(convOf(ev), store.current)) return;
  const title = n.type === 'dm' ? `${label(ev.from)} (direct message)` : `${label(ev.from)} in ${label(ev.to || '')}`;
  const note = new Notification(title, { body: (ev.body || '').slice(0, 200), tag: n.id });
  note.onclick = () => {
    window.focus();
    jumpTo(ev);
  };
}

function askNotifyOnce() {
  if (!('Notification' in window) || Notification.permission !== 'default') return;
  if (localStorage.getItem('hearth.notify-asked')) return;
  localStorage.setItem('hearth.notify-asked', '1');
  Notification.requestPermission().catch(() => {});
}

// ---------- conversations ----------

let stuck = true; // the timeline is scrolled to its newest message

async function openConversation(target) {
  target = canonical(target);
  store.current = target;
  store.modal = null;
  if (store.pane && store.pane.kind === 'settings') store.pane = null;
  history.replaceState(null, '', '#' + encodeURIComponent(target));
  stuck = true;
  const tl = timeline(target);
  changed();
  if (!tl.loaded) {
    try {
      await loadOlder(target);
    } catch (err) {
      flash(err.message);
    }
  }
  loadReceipts(target);
  markRead(target);
}

async function loadReceipts(target) {
  const tl = timeline(target);
  const mine = [...tl.events].reverse().find((e) => isChat(e) && !e.deleted && sameTarget(e.from, store.me.handle));
  if (!mine) return;
  try {
    const r = await get(`/api/v1/messages/${mine.id}/receipts`);
    tl.receipts = { id: mine.id, by: r.read_by.filter((x) => !sameTarget(x.user, store.me.handle)) };
    changed();
  } catch {
    /* receipts are decoration */
  }
}

async function jumpTo(ev) {
  const target = convOf(ev);
  await openConversation(target);
  const tl = timeline(target);
  let pages = 0;
  while (!tl.ids.has(ev.id) && tl.hasMore && pages++ < 40) await loadOlder(target);
  const i = tl.events.findIndex((e) => e.id === ev.id);
  if (i < 0) return flash('that message is no longer in the history');
  tl.start = Math.max(0, i - WINDOW / 2);
  tl.end = Math.min(tl.events.length, tl.start + WINDOW);
  if (tl.end === tl.events.length) tl.end = null;
  stuck = false;
  store.highlight = ev.id;
  changed();
  setTimeout(() => {
    const el = document.getElementById('m-' + ev.id);
    if (el) {
      el.scrollIntoView({ block: 'center' });
      el.focus();
    }
  }, 60);
}

// A send whose answer was lost (no connection, or a 5xx: the server may have stored it all the
// same) is sent again with the same txn_id, which the server answers once; a few times, waiting
// longer each time, before the error is shown (the text then stays in the box).
const SEND_RETRIES = [250, 1000, 3000];

async function send(target, body, { replyTo, files } = {}) {
  const attachments = (files || []).map((f) => f.id);
  const req = { to: target, body, txn_id: uid(), attachments };
  if (replyTo) req.reply_to = replyTo;
  let ev;
  for (let attempt = 0; ; attempt++) {
    try {
      ev = await post('/api/v1/messages', req);
      break;
    } catch (err) {
      const lost = err instanceof ApiError && (err.status === 0 || err.status >= 500);
      if (!lost || attempt >= SEND_RETRIES.length) throw err;
      await new Promise((resolve) => setTimeout(resolve, SEND_RETRIES[attempt]));
    }
  }
  askNotifyOnce();
  live && live.typing(target, false);
  return ev;
}

// ---------- components ----------

function useStore() {
  const [, set] = useState(0);
  useEffect(() => subscribe(() => set((n) => n + 1)), []);
}

function App() {
  useStore();
  const [booted, setBooted] = useState(false);
  useEffect(() => {
    boot().finally(() => setBooted(true));
  }, []);
  useEffect(() => applyTheme(), []);
  if (!booted) return html`<div class="splash" role="status">Loading Hearth…</div>`;
  if (!store.me) return html`<${Login} />`;
  return html`<${Main} />`;
}

function Login() {
  const [mode, setMode] = useState('login');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    setBusy(true);
    setError(null);
    try {
      await post(`/api/v1/web/${mode}`, { nick: form.get('nick'), password: form.get('password') });
      await boot();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">Hearth</h1>
      <p class="muted">${mode === 'login' ? 'Sign in to your homeserver' : 'Create an account on this homeserver'}</p>
      <label>Nick<input name="nick" autocomplete="username" required minlength="3" maxlength="20" pattern="[A-Za-z0-9_]+" /></label>
      <label>Password<input name="password" type="password" autocomplete=${mode === 'login' ? 'current-password' : 'new-password'} required /></label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button class="primary" disabled=${busy}>${mode === 'login' ? 'Sign in' : 'Sign up'}</button>
      <button type="button" class="link" onClick=${() => setMode(mode === 'login' ? 'register' : 'login')}>
        ${mode === 'login' ? 'No account? Sign up' : 'Have an account? Sign in'}
      </button>
    </form>
  </main>`;
}

function Main() {
  useShortcuts();
  const phoneList = !store.current;
  return html`<div class=${'app' + (phoneList ? ' show-list' : ' show-chat') + (store.pane ? ' with-pane' : '')}>
    <${Header} />
    <${Sidebar} />
    <main class="chat" aria-label="Conversation">${store.current ? html`<${Timeline} key=${store.current} target=${store.current} />` : html`<div class="empty">Pick a conversation, or join a channel.</div>`}</main>
    ${store.pane && html`<${Pane} />`}
    ${store.modal && html`<${Modal} />`}
    ${store.flash && html`<div class="flash" role="alert">${store.flash}</div>`}
  </div>`;
}

function Header() {
  const unread = store.notifications.unread;
  const openPane = (kind, extra) => {
    store.pane = store.pane && store.pane.kind === kind ? null : { kind, ...extra };
    changed();
  };
  return html`<header class="top">
    <button class="icon back" aria-label="Back to conversations" onClick=${() => ((store.current = null), changed())}><${Icon} name="back" /></button>
    <span class="brand">Hearth</span>
    <span class=${'conn ' + store.conn} role="status" aria-live="polite" title="Connection">${{ connected: 'Connected', connecting: 'Connecting…', offline: 'Offline' }[store.conn]}</span>
    <span class="grow"></span>
    <button class="icon" aria-label="Search (Ctrl+F)" title="Search (Ctrl+F or /)" onClick=${() => openPane('search')}><${Icon} name="search" /></button>
    <button class="icon" aria-label=${`Notifications, ${unread} unread`} title="Notifications" onClick=${() => openPane('notifications')}><${Icon} name="bell" />${unread > 0 && html`<span class="badge">${unread}</span>`}</button>
    <button class="icon" aria-label="People" title="Find people" onClick=${() => openPane('people')}><${Icon} name="people" /></button>
    <button class="icon" aria-label="Toggle dark mode" title="Theme" onClick=${toggleTheme}><${Icon} name="theme" /></button>
    <button class="me" aria-label="Your profile" onClick=${() => openPane('profile')}>${store.me.display_name || store.me.nick}</button>
  </header>`;
}

function Sidebar() {
  const open = (t) => openConversation(t);
  const chans = store.convs;
  return html`<nav class="sidebar" aria-label="Conversations">
    <div class="side-actions">
      <button onClick=${() => ((store.modal = { kind: 'join' }), changed())}>+ Channel</button>
      <button onClick=${() => ((store.pane = { kind: 'browse' }), changed())}>Browse</button>
      <button onClick=${() => ((store.modal = { kind: 'dm' }), changed())}>+ DM</button>
    </div>
    <ul role="list">
      ${chans.map((c) => html`<li key=${c.target}>
        <button class=${'conv' + (sameTarget(c.target, store.current) ? ' active' : '') + (c.unread ? ' unread' : '')}
          aria-current=${sameTarget(c.target, store.current) ? 'page' : undefined} onClick=${() => open(c.target)}>
          <span class="name">${c.kind === 'dm' ? '@ ' : ''}${label(c.target)}</span>
          ${c.mentions > 0 && html`<span class="badge mention" aria-label=${c.mentions + ' mentions'}>@${c.mentions}</span>`}
          ${c.unread > 0 && html`<span class="badge" aria-label=${c.unread + ' unread'}>${c.unread}</span>`}
        </button></li>`)}
    </ul>
    ${chans.length === 0 && html`<p class="muted pad">No conversations yet. Join a channel or start a DM.</p>`}
  </nav>`;
}

// ---------- timeline ----------

function dayOf(ts) {
  return new Date(ts).toDateString();
}
function timeOf(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function Timeline({ target }) {
  const tl = timeline(target);
  const scroller = useRef(null);
  const anchor = useRef(null);
  const [replyTo, setReplyTo] = useState(null);
  const [editing, setEditing] = useState(null);
  const conv = store.convs.find((c) => sameTarget(c.target, target));
  const end = tl.end === null ? tl.events.length : tl.end;
  if (tl.end === null && end - tl.start > WINDOW) tl.start = end - WINDOW;
  const shown = tl.events.slice(tl.start, end);

  const keepAnchor = () => {
    const el = scroller.current;
    const first = el && [...el.querySelectorAll('[data-id]')].find((n) => n.offsetTop + n.offsetHeight > el.scrollTop);
    anchor.current = first ? { id: first.dataset.id, off: first.offsetTop - el.scrollTop } : null;
  };
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (stuck) el.scrollTop = el.scrollHeight;
    else if (anchor.current) {
      const n = el.querySelector(`[data-id="${anchor.current.id}"]`);
      if (n) el.scrollTop = n.offsetTop - anchor.current.off;
      anchor.current = null;
    }
  });
  const onScroll = async () => {
    const el = scroller.current;
    if (!el) return;
    stuck = tl.end === null && el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 150) {
      if (tl.start > 0) {
        keepAnchor();
        tl.start = Math.max(0, tl.start - 50);
        if ((tl.end ?? tl.events.length) - tl.start > WINDOW) tl.end = tl.start + WINDOW;
        changed();
      } else if (tl.hasMore && !tl.loading) {
        keepAnchor();
        await loadOlder(target);
      }
    } else if (tl.end !== null && el.scrollHeight - el.scrollTop - el.clientHeight < 150) {
      keepAnchor();
      tl.end = tl.end + 50 >= tl.events.length ? null : tl.end + 50;
      tl.start = Math.max(tl.start, (tl.end ?? tl.events.length) - WINDOW);
      changed();
    }
    if (stuck && document.visibilityState === 'visible') markRead(target);
  };
  useEffect(() => {
    const vis = () => document.visibilityState === 'visible' && stuck && markRead(target);
    document.addEventListener('visibilitychange', vis);
    return () => document.removeEventListener('visibilitychange', vis);
  }, [target]);
  // ↑ in an empty composer edits the last own message.
  const editLast = () => {
    const mine = [...tl.events].reverse().find((e) => isChat(e) && !e.deleted && sameTarget(e.from, store.me.handle));
    if (mine) setEditing(mine.id);
  };

  const rows = [];
  let prev = null;
  for (const e of shown) {
    if (!prev || dayOf(prev.ts) !== dayOf(e.ts)) rows.push(html`<li class="day" key=${'d' + e.id} role="separator"><span>${new Date(e.ts).toLocaleDateString([], { weekday: 'long', month: 'long', day: 'numeric' })}</span></li>`);
    const grouped = prev && isChat(prev) && isChat(e) && prev.from === e.from && dayOf(prev.ts) === dayOf(e.ts) && new Date(e.ts) - new Date(prev.ts) < 5 * 60000 && !e.reply_to;
    rows.push(html`<${Message} key=${e.id} e=${e} grouped=${grouped} target=${target} onReply=${setReplyTo} editing=${editing === e.id} setEditing=${setEditing} />`);
    prev = e;
  }
  const typers = [...(store.typing.get(target.toLowerCase()) || new Map()).entries()].filter(([, t]) => t > Date.now()).map(([u]) => label(u));
  const receipts = tl.receipts;
  const lastMine = receipts && shown.length && shown[shown.length - 1].id === receipts.id;
  return html`<section class="timeline" aria-label=${'Messages in ' + label(target)}>
    <div class="chat-head">
      <h2>${isChannel(target) ? '' : '@ '}${label(target)}</h2>
      <span class="muted topic">${conv && conv.description ? conv.description : ''}</span>
      <span class="grow"></span>
      ${isChannel(target) && html`<button onClick=${() => ((store.pane = { kind: 'settings', target }), loadSettings(), changed())}>Channel settings</button>`}
      <button onClick=${() => markRead(target)} title="Mark read (Esc)">Mark read</button>
    </div>
    <ol class="messages" ref=${scroller} onScroll=${onScroll} role="log" aria-live="polite" aria-relevant="additions">
      ${tl.loading && html`<li class="loading" role="status">Loading…</li>`}
      ${!tl.hasMore && tl.start === 0 && html`<li class="beginning muted">The beginning of ${label(target)}</li>`}
      ${rows}
      ${lastMine && html`<li class="receipt muted" aria-label="Read receipts">${isChannel(target) ? (receipts.by.length ? `Read by ${receipts.by.length}` : 'Sent') : receipts.by.length ? 'Read' : 'Delivered'}</li>`}
    </ol>
    ${tl.end !== null && html`<button class="to-newest" onClick=${() => ((tl.end = null), (stuck = true), changed())}>Jump to newest ↓</button>`}
    <div class="typing" aria-live="polite">${typers.length ? `${typers.join(', ')} ${typers.length > 1 ? 'are' : 'is'} typing…` : ''}</div>
    <${Composer} target=${target} replyTo=${replyTo} clearReply=${() => setReplyTo(null)} onEditLast=${editLast} />
  </section>`;
}

function Message({ e, grouped, target, onReply, editing, setEditing, inThread }) {
  const [picker, setPicker] = useState(false);
  const mine = sameTarget(e.from, store.me.handle);
  const highlight = store.highlight === e.id;
  if (!isChat(e)) {
    return html`<li class="system" data-id=${e.id} id=${'m-' + e.id}><span class="muted">${systemText(e)} · ${timeOf(e.ts)}</span></li>`;
  }
  const parent = !inThread && e.reply_to && findMessage(e.reply_to);
  const react = async (emoji) => {
    setPicker(false);
    const have = (e.reactions || []).find((r) => r.emoji === emoji && r.me);
    try {
      if (have) {
        await del(`/api/v1/messages/${e.id}/reactions/${encodeURIComponent(emoji)}`);
        addReaction(e.id, emoji, store.me.handle, -1);
      } else {
        const r = await post(`/api/v1/messages/${e.id}/reactions`, { emoji });
        if (!store.reactions.has(r.id)) {
          store.reactions.set(r.id, { msg: e.id, emoji, from: store.me.handle });
          addReaction(e.id, emoji, store.me.handle, +1);
        }
      }
      changed();
    } catch (err) {
      flash(err.message);
    }
  };
  const remove = async () => {
    if (!confirm('Delete this message?')) return;
    try {
      await del(`/api/v1/messages/${e.id}`);
    } catch (err) {
      flash(err.message);
    }
  };
  const isMention = !mine && mentions(e.body, store.me.nick);
  return html`<li class=${'msg' + (grouped ? ' grouped' : '') + (isMention ? ' mentioned' : '') + (highlight ? ' highlight' : '')} data-id=${e.id} id=${'m-' + e.id} tabindex="-1">
    ${parent && html`<div class="reply-ref muted">↳ ${label(parent.from)}: ${(parent.body || '').replace(/[*_~`>]/g, '').slice(0, 80)}</div>`}
    ${!grouped && html`<div class="meta"><button class="who link" onClick=${() => showUser(e.from)}>${label(e.from)}</button><time datetime=${e.ts} class="muted">${timeOf(e.ts)}</time></div>`}
    ${editing ? html`<${EditBox} e=${e} done=${() => setEditing(null)} />` : html`<div class=${'body' + (e.type === 'action' ? ' action' : '') + (e.deleted ? ' deleted' : '')}>
      ${e.deleted ? html`<em class="muted">message deleted</em>` : markdown(e.type === 'action' ? `* ${label(e.from)} ${e.body}` : e.body, store.me.nick)}
      ${e.edited && !e.deleted && html`<span class="muted edited">(edited)</span>`}
    </div>`}
    ${!e.deleted && (e.files || []).length > 0 && html`<div class="files">${e.files.map((f) => html`<${FileCard} key=${f.id} f=${f} />`)}</div>`}
    ${(e.reactions || []).length > 0 && html`<div class="reactions">${e.reactions.map((r) => html`<button key=${r.emoji} class=${'chip' + (r.me ? ' me' : '')} aria-pressed=${r.me} aria-label=${`${r.emoji} ${r.count}`} onClick=${() => react(r.emoji)}>${r.emoji} ${r.count}</button>`)}</div>`}
    ${!inThread && e.replies && e.replies.count > 0 && html`<button class="link replies" onClick=${() => openThread(e.id)}>${e.replies.count} ${e.replies.count === 1 ? 'reply' : 'replies'}</button>`}
    ${!e.deleted && html`<div class="actions" role="toolbar" aria-label="Message actions">
      <button aria-label="Add reaction" title="React" onClick=${() => setPicker(!picker)}><${Icon} name="smile" /></button>
      <button aria-label="Reply in thread" title="Reply" onClick=${() => (openThread(e.id), onReply && onReply(null))}><${Icon} name="reply" /></button>
      ${mine && html`<button aria-label="Edit" title="Edit" onClick=${() => setEditing(e.id)}><${Icon} name="edit" /></button>`}
      <button aria-label="Delete" title="Delete" onClick=${remove}><${Icon} name="trash" /></button>
    </div>`}
    ${picker && html`<div class="picker" role="menu" aria-label="Pick a reaction">${EMOJI.map((em) => html`<button role="menuitem" key=${em} aria-label=${'React ' + em} onClick=${() => react(em)}>${em}</button>`)}</div>`}
  </li>`;
}

function systemText(e) {
  const who = label(e.from);
  switch (e.type) {
    case 'join': return `${who} joined`;
    case 'part': return `${who} left${e.body ? ': ' + e.body : ''}`;
    case 'quit': return `${who} quit`;
    case 'kick': return `${who} kicked ${e.body}`;
    case 'topic': return `${who} set the topic: ${e.body}`;
    case 'mode': return `${who} set mode ${e.body}`;
    case 'nick': return `${who} is now ${e.body}`;
    case 'invite': return `${who} invited ${e.body}`;
    default: return e.body || e.type;
  }
}

function FileCard({ f }) {
  if (f.thumbnail_url) {
    return html`<a class="image" href=${f.url} target="_blank" rel="noopener noreferrer"><img src=${f.thumbnail_url} alt=${f.filename} /></a>`;
  }
  return html`<a class="file" href=${f.url} target="_blank" rel="noopener noreferrer" download=${f.filename}>
    <span class="file-icon"><${Icon} name="file" /></span><span>${f.filename}<br /><small class="muted">${(f.size / 1024).toFixed(1)} KB · ${f.content_type}</small></span></a>`;
}

function EditBox({ e, done }) {
  const [text, setText] = useState(e.body);
  const save = async () => {
    try {
      if (text.trim() && text !== e.body) await put(`/api/v1/messages/${e.id}`, { body: text });
      done();
    } catch (err) {
      flash(err.message);
    }
  };
  return html`<div class="edit"><label class="sr">Edit message<textarea value=${text} onInput=${(ev) => setText(ev.target.value)} ref=${(el) => el && !el.dataset.f && ((el.dataset.f = 1), el.focus())}
    onKeyDown=${(ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); save(); }
      if (ev.key === 'Escape') { ev.stopPropagation(); done(); }
    }} /></label><div class="row"><button class="primary" onClick=${save}>Save</button><button onClick=${done}>Cancel</button></div></div>`;
}

function Composer({ target, replyTo, onEditLast, threadRoot }) {
  const [text, setText] = useState('');
  const [files, setFiles] = useState([]); // {name, progress, info?, error?, preview?}
  const [drag, setDrag] = useState(false);
  const lastTyping = useRef(0);
  const input = useRef(null);
  const addFiles = (list) => {
    for (const file of list) {
      const entry = { key: uid(), name: file.name || 'pasted image', progress: 0, preview: file.type.startsWith('image/') ? URL.createObjectURL(file) : null };
      setFiles((fs) => [...fs, entry]);
      upload(file, (p) => setFiles((fs) => fs.map((f) => (f.key === entry.key ? { ...f, progress: p } : f))))
        .then((info) => setFiles((fs) => fs.map((f) => (f.key === entry.key ? { ...f, progress: 1, info } : f))))
        .catch((err) => setFiles((fs) => fs.map((f) => (f.key === entry.key ? { ...f, error: err.message } : f))));
    }
  };
  const submit = async () => {
    const ready = files.filter((f) => f.info).map((f) => f.info);
    if (!text.trim() && ready.length === 0) return;
    if (files.some((f) => !f.info && !f.error)) return flash('wait for the uploads to finish');
    try {
      await send(target, text, { replyTo: threadRoot || replyTo, files: ready });
      lastTyping.current = 0;
      setText('');
      setFiles([]);
      stuck = true;
    } catch (err) {
      flash(err.message);
    }
  };
  const onKeyDown = (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      submit();
    } else if (ev.key === 'ArrowUp' && !text && onEditLast) {
      ev.preventDefault();
      onEditLast();
    }
  };
  const onInput = (ev) => {
    setText(ev.target.value);
    if (Date.now() - lastTyping.current > 3000 && live) {
      lastTyping.current = Date.now();
      live.typing(target, true);
    }
  };
  return html`<div class=${'composer' + (drag ? ' drag' : '')}
      onDragOver=${(ev) => { ev.preventDefault(); setDrag(true); }}
      onDragLeave=${() => setDrag(false)}
      onDrop=${(ev) => { ev.preventDefault(); setDrag(false); addFiles(ev.dataTransfer.files); }}>
    ${files.length > 0 && html`<ul class="uploads" aria-label="Attachments">${files.map((f) => html`<li key=${f.key}>
      ${f.preview && html`<img src=${f.preview} alt="" />`}<span>${f.name}</span>
      ${f.error ? html`<span class="error">${f.error}</span>` : html`<progress max="1" value=${f.progress} aria-label=${'Uploading ' + f.name}></progress>`}
      <button aria-label=${'Remove ' + f.name} onClick=${() => setFiles((fs) => fs.filter((x) => x.key !== f.key))}>×</button></li>`)}</ul>`}
    <div class="row">
      <label class="attach" title="Attach a file"><span class="sr">Attach files</span><${Icon} name="attach" /><input type="file" multiple onChange=${(ev) => { addFiles(ev.target.files); ev.target.value = ''; }} /></label>
      <label class="sr" for=${'compose-' + (threadRoot || 'main')}>Message</label>
      <textarea id=${'compose-' + (threadRoot || 'main')} class="compose" ref=${input} rows="1" value=${text} placeholder=${threadRoot ? 'Reply in thread…' : `Message ${label(target)}`}
        onInput=${onInput} onKeyDown=${onKeyDown} onBlur=${() => live && text === '' && live.typing(target, false)}
        onPaste=${(ev) => { const fs = [...ev.clipboardData.files]; if (fs.length) { ev.preventDefault(); addFiles(fs); } }} />
      <button class="primary" onClick=${submit}>Send</button>
    </div>
  </div>`;
}

// ---------- panes ----------

async function openThread(id) {
  store.pane = { kind: 'thread', id, thread: null };
  changed();
  try {
    const t = await get(`/api/v1/messages/${id}/thread`);
    if (store.pane && store.pane.id === id) store.pane.thread = t;
    changed();
  } catch (err) {
    flash(err.message);
  }
}

async function loadSettings() {
  const p = store.pane;
  if (!p || p.kind !== 'settings') return;
  try {
    p.info = await get(`/api/v1/channels/${chanPath(p.target)}`);
    changed();
  } catch (err) {
    flash(err.message);
  }
}

async function showUser(handle) {
  try {
    const u = await get(`/api/v1/users/${encodeURIComponent(handle)}`);
    store.pane = { kind: 'user', user: u };
    changed();
  } catch (err) {
    flash(err.message);
  }
}

function Pane() {
  const p = store.pane;
  const close = () => ((store.pane = null), changed());
  const titles = { thread: 'Thread', search: 'Search', settings: 'Channel settings', profile: 'Your profile', notifications: 'Notifications', people: 'People', browse: 'Public channels', user: 'Profile' };
  const body = {
    thread: ThreadPane, search: SearchPane, settings: SettingsPane, profile: ProfilePane,
    notifications: NotificationsPane, people: PeoplePane, browse: BrowsePane, user: UserPane,
  }[p.kind];
  return html`<aside class="pane" aria-label=${titles[p.kind]}>
    <div class="pane-head"><h2>${titles[p.kind]}</h2><span class="grow"></span><button class="icon" aria-label="Close" onClick=${close}><${Icon} name="close" /></button></div>
    <div class="pane-body"><${body} p=${p} /></div>
  </aside>`;
}

function ThreadPane({ p }) {
  if (!p.thread) return html`<p role="status">Loading…</p>`;
  const root = p.thread.root;
  return html`<ol class="messages thread" role="log">
      <${Message} e=${root} target=${convOf(root)} inThread=${true} />
      <li class="day"><span>${p.thread.replies.length} ${p.thread.replies.length === 1 ? 'reply' : 'replies'}</span></li>
      ${p.thread.replies.map((e) => html`<${Message} key=${e.id} e=${e} target=${convOf(e)} inThread=${true} />`)}
    </ol>
    <${Composer} target=${convOf(root)} threadRoot=${root.id} />`;
}

function Highlighted({ body, ranges }) {
  const chars = Array.from(body);
  const out = [];
  let at = 0;
  for (const r of ranges) {
    if (r.start > at) out.push(chars.slice(at, r.start).join(''));
    out.push(html`<mark>${chars.slice(r.start, r.end).join('')}</mark>`);
    at = r.end;
  }
  out.push(chars.slice(at).join(''));
  return out;
}

function SearchPane({ p }) {
  const [results, setResults] = useState(p.results || null);
  const [next, setNext] = useState(null);
  const [busy, setBusy] = useState(false);
  const [q, setQ] = useState(p.q || {});
  const run = async (ev, more) => {
    if (ev) ev.preventDefault();
    const form = ev ? Object.fromEntries(new FormData(ev.target)) : q;
    setQ(form);
    const params = { q: form.q, in: form.in === 'here' ? store.current : '', from: form.from, has: form.has, limit: 20 };
    if (form.after) params.after = new Date(form.after).toISOString();
    if (form.before) params.before = new Date(form.before).toISOString();
    if (more) params.next = next;
    setBusy(true);
    try {
      const r = await get('/api/v1/search?' + qs(params));
      setResults(more ? [...results, ...r.results] : r.results);
      setNext(r.next);
    } catch (err) {
      flash(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="search" role="search" onSubmit=${(ev) => run(ev)}>
      <label>Words<input id="search-input" name="q" type="search" autocomplete="off" /></label>
      <div class="row">
        <label>In<select name="in"><option value="">everywhere</option>${store.current && html`<option value="here">${label(store.current)}</option>`}</select></label>
        <label>From<input name="from" placeholder="nick or nick@server" /></label>
      </div>
      <label>Has<select name="has"><option value="">anything</option><option value="attachment">attachment</option><option value="link">link</option></select></label>
      <div class="row">
        <label>After<input name="after" type="date" /></label>
        <label>Before<input name="before" type="date" /></label>
      </div>
      <button class="primary" disabled=${busy}>Search</button>
    </form>
    ${results && html`<p class="muted" role="status">${results.length} result${results.length === 1 ? '' : 's'}</p>
    <ul class="results">${results.map((r) => html`<li key=${r.event.id}><button class="result" onClick=${() => jumpTo(r.event)}>
      <span class="muted">${label(r.event.from)} in ${label(convOf(r.event))} · ${new Date(r.event.ts).toLocaleString()}</span>
      <span class="snippet"><${Highlighted} body=${r.event.body} ranges=${r.highlights} /></span></button></li>`)}</ul>
    ${next && html`<button onClick=${() => run(null, true)}>More results</button>`}`}`;
}

function NotificationsPane() {
  const n = store.notifications;
  const open = async (item) => {
    try {
      if (!item.read) await patch(`/api/v1/notifications/${item.id}/read`);
      await refreshNotifications();
    } catch (err) {
      flash(err.message);
    }
    if (item.event && item.event.to) jumpTo(item.event);
  };
  const all = async () => {
    await patch('/api/v1/notifications/read-all').catch((err) => flash(err.message));
    refreshNotifications();
  };
  const perm = 'Notification' in window ? Notification.permission : 'denied';
  return html`<div class="row"><button onClick=${all} disabled=${n.unread === 0}>Mark all read</button>
      ${perm === 'default' && html`<button onClick=${() => { localStorage.setItem('hearth.notify-asked', '1'); Notification.requestPermission().then(changed); }}>Enable desktop notifications</button>`}</div>
    ${n.list.length === 0 && html`<p class="muted">Nothing yet: mentions, replies, invites and direct messages show here.</p>`}
    <ul class="results">${n.list.map((item) => html`<li key=${item.id}><button class=${'result' + (item.read ? '' : ' unread')} onClick=${() => open(item)}>
      <span class="muted">${item.type} · ${new Date(item.ts).toLocaleString()}${item.read ? '' : ' · new'}</span>
      <span class="snippet">${item.event ? `${label(item.event.from)}: ${(item.event.body || '').slice(0, 120)}` : ''}</span></button></li>`)}</ul>`;
}

function ProfilePane() {
  const me = store.me;
  const [avatar, setAvatar] = useState(me.avatar || '');
  const [status, setStatus] = useState(me.status || 'online');
  const save = async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(ev.target));
    const body = { status: f.status, status_message: f.status_message };
    if (f.display_name) body.display_name = f.display_name;
    if (avatar) body.avatar = avatar;
    try {
      store.me = { ...me, ...(await patch('/api/v1/users/me', body)) };
      flash('Profile saved');
    } catch (err) {
      flash(err.message);
    }
  };
  const pickAvatar = async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    try {
      const info = await upload(file, () => {});
      setAvatar(info.id);
    } catch (err) {
      flash(err.message);
    }
  };
  return html`<form class="profile" onSubmit=${save}>
      <div class="avatar-row">${avatarSrc(avatar, me.handle) ? html`<img class="avatar" src=${avatarSrc(avatar, me.handle)} alt="Your avatar" />` : html`<span class="avatar none" aria-hidden="true">${me.nick[0].toUpperCase()}</span>`}
        <label class="button">Change avatar<input type="file" accept="image/*" class="sr" onChange=${pickAvatar} /></label></div>
      <p class="muted">${me.handle}</p>
      <label>Display name<input name="display_name" maxlength="50" defaultValue=${me.display_name || ''} /></label>
      <label>Status<select name="status" value=${status} onChange=${(ev) => setStatus(ev.target.value)}>
        <option value="online">Online</option><option value="away">Away</option><option value="busy">Busy</option><option value="offline">Appear offline</option></select></label>
      <label>Status message<input name="status_message" maxlength="100" defaultValue=${me.status_message || ''} /></label>
      <button class="primary">Save</button>
    </form>
    <hr /><button onClick=${logout}>Log out</button>`;
}

// An avatar is a media id or an https URL of another host, which the page does not load
// (nothing is fetched from another origin): the initial shows instead. A local user's avatar
// is readable by every signed-in user; a media of another server is served here only once it
// was shared in a conversation, so other servers' avatars show as the initial too. (Older
// profiles keep a media id without its `@server`: the server is the user's.)
function avatarSrc(avatar, handle) {
  if (!avatar || /^https?:/i.test(avatar)) return null;
  const id = avatar.includes('@') ? avatar : `${avatar}@${handle.split('@')[1]}`;
  if (id.split('@')[1] !== store.me.handle.split('@')[1]) return null;
  return `/api/v1/media/${encodeURIComponent(id)}/thumbnail`;
}

function UserPane({ p }) {
  const u = p.user;
  return html`<div class="profile">
    ${avatarSrc(u.avatar, u.handle) ? html`<img class="avatar" src=${avatarSrc(u.avatar, u.handle)} alt="" />` : html`<span class="avatar none" aria-hidden="true">${u.nick[0].toUpperCase()}</span>`}
    <h3>${u.display_name || u.nick}</h3><p class="muted">${u.handle}</p>
    <p>${u.online ? '● online' : '○ offline'}${u.status && u.status !== 'online' ? ` · ${u.status}` : ''}</p>
    ${u.status_message && html`<p>${u.status_message}</p>`}
    ${!sameTarget(u.handle, store.me.handle) && html`<button class="primary" onClick=${() => startDm(u.handle)}>Message</button>`}
  </div>`;
}

function PeoplePane() {
  const [users, setUsers] = useState(null);
  const find = async (ev) => {
    ev.preventDefault();
    const q = new FormData(ev.target).get('q');
    try {
      setUsers((await get('/api/v1/users/search?' + qs({ q }))).users);
    } catch (err) {
      flash(err.message);
    }
  };
  return html`<form role="search" onSubmit=${find}><label>Find people<input name="q" type="search" required /></label><button class="primary">Search</button></form>
    ${users && users.length === 0 && html`<p class="muted">Nobody found.</p>`}
    <ul class="results">${(users || []).map((u) => html`<li key=${u.handle}><button class="result" onClick=${() => ((store.pane = { kind: 'user', user: u }), changed())}>
      <span>${u.display_name || u.nick}</span><span class="muted">${u.handle}${u.online ? ' · online' : ''}</span></button></li>`)}</ul>`;
}

function BrowsePane() {
  const [list, setList] = useState(null);
  useEffect(() => {
    get('/api/v1/channels/public').then((r) => setList(r.channels)).catch((err) => flash(err.message));
  }, []);
  if (!list) return html`<p role="status">Loading…</p>`;
  return html`${list.length === 0 && html`<p class="muted">No public channels yet.</p>`}
    <ul class="results">${list.map((c) => html`<li key=${c.name}><div class="result">
      <span><strong>${label(c.name)}</strong> <span class="muted">${c.members} member${c.members === 1 ? '' : 's'}</span></span>
      <span class="muted">${c.topic || c.description}</span>
      <button onClick=${() => joinChannel(c.name)}>Join</button></div></li>`)}</ul>`;
}

async function joinChannel(name, extra = {}) {
  try {
    const channel = name.startsWith('#') ? name : '#' + name;
    await post('/api/v1/channels/join', { channel, ...extra });
    await refreshConversations();
    store.modal = null;
    store.pane = null;
    openConversation(channel);
  } catch (err) {
    flash(err.message);
  }
}

function startDm(handle) {
  store.modal = null;
  store.pane = null;
  timeline(handle).hasMore = true;
  openConversation(handle);
}

function SettingsPane({ p }) {
  const info = p.info;
  if (!info) return html`<p role="status">Loading…</p>`;
  const meMember = info.members.find((m) => sameTarget(m.handle, store.me.handle));
  const op = meMember && (meMember.owner || meMember.modes.includes('o'));
  const name = chanPath(p.target);
  const act = (fn) => async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    try {
      await fn(ev);
      await loadSettings();
    } catch (err) {
      flash(err.message);
    }
  };
  const form = (ev) => Object.fromEntries(new FormData(ev.target));
  const MODES = [['i', 'Invite only'], ['m', 'Moderated'], ['s', 'Secret'], ['t', 'Only operators set the topic'], ['n', 'No messages from outside']];
  return html`<div class="settings">
    <p><strong>${label(info.name)}</strong> <span class="muted">modes ${info.modes} · owner ${label(info.owner)}</span></p>
    <form onSubmit=${act((ev) => post(`/api/v1/channels/${name}/topic`, { topic: form(ev).topic }))}>
      <label>Topic<input name="topic" defaultValue=${info.topic} disabled=${!op && info.modes.includes('t')} /></label>
      ${(op || !info.modes.includes('t')) && html`<button>Set topic</button>`}</form>
    ${op && html`<form onSubmit=${act((ev) => put(`/api/v1/channels/${name}`, { description: form(ev).description }))}>
      <label>Description<textarea name="description" maxlength="500" defaultValue=${info.description}></textarea></label><button>Save description</button></form>
    <fieldset><legend>Modes</legend>${MODES.map(([m, text]) => html`<label class="check" key=${m}>
      <input type="checkbox" checked=${info.modes.includes(m)} onChange=${act((ev) => post(`/api/v1/channels/${name}/mode`, { modes: (ev.target.checked ? '+' : '-') + m }))} />${text} (+${m})</label>`)}</fieldset>
    <fieldset><legend>Bans</legend>
      <ul>${(info.bans || []).map((b) => html`<li key=${b.mask}>${b.mask} <span class="muted">by ${label(b.set_by)}</span>
        <button onClick=${act(() => post(`/api/v1/channels/${name}/mode`, { modes: '-b', arg: b.mask }))}>Lift</button></li>`)}</ul>
      <form onSubmit=${act((ev) => post(`/api/v1/channels/${name}/mode`, { modes: '+b', arg: form(ev).mask }))}>
        <label>Ban mask<input name="mask" placeholder="nick@server, *@server" required /></label><button>Ban</button></form>
    </fieldset>
    <fieldset><legend>Invite links</legend>
      <form onSubmit=${act(async (ev) => {
        const f = form(ev);
        const body = {};
        if (f.max_uses) body.max_uses = Number(f.max_uses);
        if (f.days) body.expires_in = Number(f.days) * 86400;
        p.invite = await post(`/api/v1/channels/${name}/invites`, body);
      })}>
        <div class="row"><label>Uses<input name="max_uses" type="number" min="1" placeholder="unlimited" /></label>
        <label>Days<input name="days" type="number" min="1" value="7" /></label></div><button>Create invite</button></form>
      ${p.invite && html`<p>Invite code: <code class="invite-code">${p.invite.code}</code> <span class="muted">(expires ${new Date(p.invite.expires).toLocaleDateString()})</span>
        <button onClick=${act(() => del(`/api/v1/invites/${encodeURIComponent(p.invite.code)}`).then(() => (p.invite = null)))}>Revoke</button></p>`}
    </fieldset>`}
    <label>Notifications<select value=${localStorage.getItem('hearth.level.' + p.target.toLowerCase()) || 'all'}
      onChange=${act(async (ev) => {
        const level = ev.target.value;
        await put(`/api/v1/channels/${name}/notifications`, { level });
        localStorage.setItem('hearth.level.' + p.target.toLowerCase(), level);
      })}>
      <option value="all">All messages</option><option value="mentions">Mentions only</option><option value="muted">Muted</option></select></label>
    <h3>Members (${info.members.length})</h3>
    <ul class="members">${info.members.map((m) => html`<li key=${m.handle}><button class="link" onClick=${() => showUser(m.handle)}>${m.owner ? '~' : m.modes.includes('o') ? '@' : m.modes.includes('v') ? '+' : ''}${label(m.handle)}</button>
      ${op && !m.owner && !sameTarget(m.handle, store.me.handle) && html` <button onClick=${act(() => post(`/api/v1/channels/${name}/mode`, { modes: m.modes.includes('o') ? '-o' : '+o', nick: m.handle }))}>${m.modes.includes('o') ? 'De-op' : 'Op'}</button>
        <button onClick=${act(() => post(`/api/v1/channels/${name}/kick`, { nick: m.handle }))}>Kick</button>`}</li>`)}</ul>
    <button class="danger" onClick=${act(async () => {
      await post('/api/v1/channels/part', { channel: p.target });
      store.pane = null;
      store.current = null;
      await refreshConversations();
    })}>Leave channel</button>
  </div>`;
}

// ---------- modals ----------

function Modal() {
  const m = store.modal;
  const close = () => ((store.modal = null), changed());
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current && ref.current.querySelector('input');
    if (el) el.focus();
  }, [m.kind]);
  let body;
  if (m.kind === 'switcher') body = html`<${Switcher} />`;
  else if (m.kind === 'join') {
    body = html`<form onSubmit=${(ev) => { ev.preventDefault(); const f = Object.fromEntries(new FormData(ev.target)); joinChannel(f.channel.trim(), f.key ? { key: f.key } : {}); }}>
      <h2 id="modal-title">Join or create a channel</h2>
      <label>Channel<input name="channel" required placeholder="#name or #name@server" /></label>
      <label>Key (if the channel has one)<input name="key" /></label>
      <p class="muted">A channel that does not exist yet is created, with you as its owner.</p>
      <div class="row"><button class="primary">Join</button><button type="button" onClick=${close}>Cancel</button></div></form>
      <form onSubmit=${async (ev) => { ev.preventDefault(); const code = new FormData(ev.target).get('code').trim(); try { const r = await post(`/api/v1/invites/${encodeURIComponent(code)}/accept`); await refreshConversations(); store.modal = null; openConversation((r && r.name) || store.convs[0].target); } catch (err) { flash(err.message); } }}>
      <label>Or an invite code<input name="code" /></label><button>Accept invite</button></form>`;
  } else if (m.kind === 'dm') {
    body = html`<form onSubmit=${(ev) => { ev.preventDefault(); startDm(new FormData(ev.target).get('handle').trim()); }}>
      <h2 id="modal-title">Direct message</h2>
      <label>To<input name="handle" required placeholder="nick or nick@server" /></label>
      <div class="row"><button class="primary">Start</button><button type="button" onClick=${close}>Cancel</button></div></form>`;
  }
  return html`<div class="backdrop" onClick=${(ev) => ev.target === ev.currentTarget && close()}>
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" ref=${ref}>${body}</div></div>`;
}

function Switcher() {
  const [q, setQ] = useState('');
  const [sel, setSel] = useState(0);
  const list = store.convs.filter((c) => c.target.toLowerCase().includes(q.toLowerCase().replace(/^@/, '')));
  const go = (c) => c && openConversation(c.target);
  return html`<h2 id="modal-title">Switch conversation</h2>
    <label class="sr" for="switch-input">Conversation</label>
    <input id="switch-input" value=${q} placeholder="Type a channel or nick" role="combobox" aria-expanded="true" aria-controls="switch-list"
      onInput=${(ev) => { setQ(ev.target.value); setSel(0); }}
      onKeyDown=${(ev) => {
        if (ev.key === 'ArrowDown') { ev.preventDefault(); setSel(Math.min(sel + 1, list.length - 1)); }
        if (ev.key === 'ArrowUp') { ev.preventDefault(); setSel(Math.max(sel - 1, 0)); }
        if (ev.key === 'Enter') { ev.preventDefault(); go(list[sel]); }
      }} />
    <ul id="switch-list" role="listbox" class="results">${list.map((c, i) => html`<li key=${c.target} role="option" aria-selected=${i === sel}>
      <button class=${'result' + (i === sel ? ' active' : '')} onClick=${() => go(c)}>${label(c.target)}${c.unread ? html` <span class="badge">${c.unread}</span>` : ''}</button></li>`)}</ul>`;
}

// ---------- keyboard, theme ----------

function useShortcuts() {
  useEffect(() => {
    const onKey = (ev) => {
      const inField = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
      if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 'k') {
        ev.preventDefault();
        store.modal = { kind: 'switcher' };
        changed();
      } else if (((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 'f') || (ev.key === '/' && !inField)) {
        ev.preventDefault();
        store.pane = { kind: 'search' };
        changed();
        setTimeout(() => document.getElementById('search-input') && document.getElementById('search-input').focus(), 30);
      } else if (ev.key === 'Escape') {
        if (store.modal) store.modal = null;
        else if (store.current) markRead(store.current);
        changed();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

function applyTheme() {
  const t = localStorage.getItem('hearth.theme');
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}

function toggleTheme() {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === 'dark'
    : matchMedia('(prefers-color-scheme: dark)').matches;
  localStorage.setItem('hearth.theme', dark ? 'light' : 'dark');
  applyTheme();
}

window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason instanceof ApiError) {
    ev.preventDefault();
    flash(ev.reason.message);
  }
});

render(html`<${App} />`, document.getElementById('app'));
