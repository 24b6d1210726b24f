// Ctrl/Cmd+K: a dialog that finds a conversation by name; arrows move, Enter
// opens, Escape closes (focus goes back where it was).

import { $, el } from '../util.js';

export function mountSwitcher({ store, controller, onOpen }) {
  const { state } = store;
  const dialog = $('switcher-dialog');
  const input = $('switcher-input');
  const list = $('switcher-list');
  let matches = [];
  let index = 0;
  let returnTo = null;

  function render() {
    const q = input.value.trim().toLowerCase();
    matches = store.sortedConversations().filter((c) => controller.conversationTitle(c).toLowerCase().includes(q)).slice(0, 20);
    index = Math.min(index, Math.max(0, matches.length - 1));
    list.replaceChildren(...(matches.length ? matches.map((c, i) => el('li', {
      role: 'option', id: `switch-${c.id}`, class: 'switch-option', testid: 'switcher-item', 'data-conversation-id': c.id,
      'aria-selected': i === index ? 'true' : 'false',
      onclick: () => choose(i),
    }, controller.conversationTitle(c), c.unread_count ? el('span', { class: 'badge unread-badge' }, String(c.unread_count)) : null))
      : [el('li', { class: 'empty muted' }, 'No conversation by that name.')]));
    if (matches.length) input.setAttribute('aria-activedescendant', `switch-${matches[index].id}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function choose(i) {
    const c = matches[i];
    if (!c) return;
    returnTo = null;
    dialog.close();
    onOpen(c.id);
  }

  function open() {
    if (dialog.open || state.me == null) return;
    returnTo = document.activeElement;
    input.value = '';
    index = 0;
    render();
    dialog.showModal();
    input.focus();
  }

  input.addEventListener('input', () => { index = 0; render(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!matches.length) return;
      index = (index + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
      render();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      choose(index);
    }
  });
  dialog.addEventListener('close', () => { returnTo?.focus?.(); returnTo = null; });
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k') {
      e.preventDefault();
      open();
    }
  });
  $('switcher-button').addEventListener('click', open);
  return { open };
}
