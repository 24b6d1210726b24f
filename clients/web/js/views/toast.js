// Short status messages in a polite live region.

import { $, el } from '../util.js';

export function toast(text, { error = false, ms = 4000 } = {}) {
  const host = $('toasts');
  if (!host) return;
  const node = el('div', { class: `toast${error ? ' error' : ''}`, testid: 'toast', role: error ? 'alert' : null }, text);
  host.append(node);
  while (host.children.length > 3) host.firstElementChild.remove();
  setTimeout(() => node.remove(), ms);
}
