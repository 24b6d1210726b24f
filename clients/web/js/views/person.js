// A friend's profile (from the Friends tab): who they are, online or last seen,
// and a box to write to them without opening the chat (POST /messages with
// recipient_id; the chat then shows in the list, back if it was hidden).

import { $, avatar, timeAgo, errorText } from '../util.js';

export function mountPerson({ store, controller, toast }) {
  const { state } = store;
  const dialog = $('person-dialog');
  const form = $('person-message-form');
  const error = $('person-error');
  let person = null;

  function renderPresence() {
    if (!person) return;
    const seen = state.lastSeen.get(person.id);
    $('person-presence').replaceChildren(state.online.has(person.id)
      ? 'Online'
      : seen ? timeAgo(seen, { prefix: 'Last seen ' }) : 'Offline');
  }

  function open(user) {
    person = user;
    $('person-avatar').replaceChildren(avatar(user.username, { online: state.online.has(user.id), url: user.avatar_url }));
    $('person-name').textContent = user.username;
    renderPresence();
    form.reset();
    error.textContent = '';
    dialog.showModal();
    form.elements.content.focus();
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const box = form.elements.content;
    const text = box.value.trim();
    if (!text || !person) return;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    error.textContent = '';
    try {
      await controller.sendTo(person.id, text);
      toast(`Sent to ${person.username}.`);
      dialog.close();
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      button.disabled = false;
    }
  });
  form.elements.content.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  $('person-open-chat').addEventListener('click', async () => {
    const uid = person?.id;
    dialog.close();
    if (uid == null) return;
    try {
      await controller.startDirect(uid);
    } catch (err) { toast(errorText(err), { error: true }); }
  });

  store.on('presence', (uid) => { if (dialog.open && uid === person?.id) renderPresence(); });
  dialog.addEventListener('close', () => { person = null; });
  return { open };
}
