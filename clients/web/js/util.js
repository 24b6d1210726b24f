// Small DOM and formatting helpers. `el` never uses innerHTML: every string
// child becomes a text node, so user data cannot inject markup.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'testid') node.setAttribute('data-testid', value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(id) {
  return document.getElementById(id);
}

/** crypto.randomUUID needs a secure context; plain http on a LAN address is not one. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) {
    try { return globalThis.crypto.randomUUID(); } catch { /* insecure context */ }
  }
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : timeFmt.format(d);
}

export function formatFull(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : fullFmt.format(d);
}

export function dayKey(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function formatDay(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86400000);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return dayFmt.format(d);
}

/** Short relative label for lists: time today, else the day. */
export function formatListTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toDateString() === new Date().toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}

const AVATAR_COLORS = ['#3457d5', '#8e44ad', '#16a085', '#d35400', '#c0392b', '#2c7a7b', '#6b46c1', '#b7791f'];

// How an avatar's image URL (it needs the token) becomes a src: set by main.js.
let avatarLoader = null;
export function setAvatarLoader(load) { avatarLoader = load; }

/** The initial on a colour; with `url` (an avatar_url) the image covers it once loaded. */
export function avatar(name, { online, url } = {}) {
  const label = (name || '?').trim();
  const initial = label ? [...label][0].toUpperCase() : '?';
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  const node = el('span', { class: 'avatar', 'aria-hidden': 'true', 'data-testid': 'avatar', 'data-has-image': url ? 'true' : 'false' }, initial);
  node.style.background = AVATAR_COLORS[hash % AVATAR_COLORS.length];
  if (online !== undefined) node.append(onlineDot(online));
  if (url && avatarLoader) {
    avatarLoader(url).then((src) => node.prepend(el('img', { src, alt: '', class: 'avatar-img' }))).catch(() => { /* keep the initial */ });
  }
  return node;
}

export function onlineDot(online) {
  return el('span', {
    class: 'online-dot',
    testid: 'online-dot',
    'data-online': online ? 'true' : 'false',
    title: online ? 'Online' : 'Offline',
  });
}

/** Turns an API error detail (string or FastAPI 422 list) into one readable line. */
export function errorText(err) {
  if (!err) return 'Something went wrong';
  const detail = err.detail ?? err.message ?? err;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const field = Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
      return field ? `${field}: ${d.msg}` : d.msg;
    }).join('; ');
  }
  return typeof detail === 'string' ? detail : 'Something went wrong';
}

/** "just now", "5 min ago", "3 h ago", "yesterday", else the date: for lists, last seen and notifications. */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 24 && new Date(t).toDateString() === new Date(now).toDateString()) return `${h} h ago`;
  if (new Date(t).toDateString() === new Date(now - 86400000).toDateString()) return 'yesterday';
  return dayFmt.format(new Date(t));
}

/** A <time> whose text is relative and whose hover (title) is the full date; refreshed by tickTimes(). */
export function timeAgo(iso, { prefix = '', testid = null, cls = null } = {}) {
  return el('time', {
    datetime: iso, title: formatFull(iso), 'data-relative': prefix || 'true', class: cls, testid,
  }, `${prefix}${relativeTime(iso)}`);
}

/** Re-renders every relative time on the page (called once a minute). */
export function tickTimes(root = document) {
  for (const node of root.querySelectorAll('time[data-relative]')) {
    const prefix = node.dataset.relative === 'true' ? '' : node.dataset.relative;
    node.textContent = `${prefix}${relativeTime(node.getAttribute('datetime'))}`;
  }
}
