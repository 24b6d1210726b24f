// Message text → safe rich text: http(s) links become anchors and @mentions of
// the conversation's members become highlighted spans. Tokenising is DOM-free
// (unit-tested in node); rendering builds text nodes and anchors only, so no
// HTML is ever interpreted from a message.

import { el } from './util.js';

// A URL runs until whitespace; trailing punctuation that usually ends a sentence is left out.
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;
const MENTION_RE = /(^|[^\p{L}\p{N}_.@-])@([\p{L}\p{N}_.-]{3,32})/gu;

/** Only http and https, parsed by the URL parser (no javascript:, data:, ...). */
export function safeUrl(raw) {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * Splits text into [{type: 'text'|'link'|'mention', text, href?, user?}].
 * `members` maps lower-cased usernames to users; only members become mentions.
 */
export function tokenize(text, members = new Map()) {
  const out = [];
  const pushText = (t) => {
    if (!t) return;
    const last = out[out.length - 1];
    if (last?.type === 'text') last.text += t; else out.push({ type: 'text', text: t });
  };
  const mentions = (chunk) => {
    let i = 0;
    for (const m of chunk.matchAll(MENTION_RE)) {
      const user = members.get(m[2].replace(/[.-]+$/, '').toLowerCase()) || members.get(m[2].toLowerCase());
      if (!user) continue;
      const name = m[2].toLowerCase() === user.username.toLowerCase() ? m[2] : m[2].replace(/[.-]+$/, '');
      const start = m.index + m[1].length;
      pushText(chunk.slice(i, start));
      out.push({ type: 'mention', text: `@${name}`, user });
      i = start + 1 + name.length;
    }
    pushText(chunk.slice(i));
  };
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let raw = m[0];
    const trail = raw.match(TRAILING);
    if (trail) raw = raw.slice(0, -trail[0].length);
    const href = safeUrl(raw);
    if (!href) continue;
    mentions(text.slice(last, m.index));
    out.push({ type: 'link', text: raw, href });
    last = m.index + raw.length;
  }
  mentions(text.slice(last));
  return out;
}

/** Whether the message mentions this user (server's `mentions`, else the text). */
export function mentionsUser(m, me) {
  if (!me) return false;
  if (Array.isArray(m.mentions) && m.mentions.includes(me.id)) return true;
  return tokenize(m.content || '', new Map([[me.username.toLowerCase(), me]])).some((t) => t.type === 'mention');
}

export function renderRich(text, { members, meId } = {}) {
  return tokenize(text, members).map((t) => {
    if (t.type === 'link') {
      return el('a', { href: t.href, target: '_blank', rel: 'noopener noreferrer', testid: 'message-link' }, t.text);
    }
    if (t.type === 'mention') {
      const self = t.user.id === meId;
      return el('span', { class: `mention${self ? ' me' : ''}`, testid: 'mention', 'data-user-id': t.user.id }, t.text);
    }
    return t.text;
  });
}
