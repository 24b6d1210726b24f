// The emoji picker: one modal <dialog> (Escape closes it, focus returns to the
// button that opened it), searchable by name, used by the composer (insert at
// the caret) and by reactions (any emoji, not only the quick six).

import { $, el } from '../util.js';
import { searchEmoji } from '../emoji-data.js';

export function mountEmojiPicker() {
  const dialog = $('emoji-dialog');
  const search = $('emoji-search');
  const grid = $('emoji-grid');
  let onPick = null;
  let opener = null;

  function render() {
    const found = searchEmoji(search.value);
    grid.replaceChildren(...(found.length ? found.map((e) => el('button', {
      type: 'button', class: 'emoji-option', testid: 'emoji-option', 'data-emoji': e.char, 'aria-label': e.name.split(' ')[0], title: e.name,
      onclick: () => pick(e.char),
    }, e.char)) : [el('p', { class: 'muted' }, 'No emoji found.')]));
  }

  function pick(char) {
    const fn = onPick;
    opener?.setAttribute?.('aria-expanded', 'false');
    opener = null; // the pick decides where focus goes (the composer keeps it)
    dialog.close();
    fn?.(char);
  }

  search.addEventListener('input', render);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      const first = grid.querySelector('button');
      if (first) pick(first.dataset.emoji);
    }
  });
  // Arrow keys move through the grid.
  grid.addEventListener('keydown', (e) => {
    const buttons = [...grid.querySelectorAll('button')];
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const cols = Math.max(1, Math.round(grid.clientWidth / (buttons[0].offsetWidth || 36)));
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
    if (step) { e.preventDefault(); buttons[Math.min(buttons.length - 1, Math.max(0, i + step))].focus(); }
  });
  dialog.addEventListener('close', () => {
    onPick = null;
    opener?.setAttribute?.('aria-expanded', 'false');
    opener?.focus?.();
    opener = null;
  });

  return {
    /** Opens the picker; `pickFn(char)` runs with the chosen emoji. */
    open(fromButton, pickFn) {
      opener = fromButton;
      onPick = pickFn;
      search.value = '';
      render();
      fromButton?.setAttribute?.('aria-expanded', 'true');
      dialog.showModal();
      search.focus();
    },
  };
}
