// A friend's profile (from the Friends tab): who they are, online or last seen,
// a box to write to them without opening the chat (POST /messages with
// recipient_id; the chat then shows in the list, back if it was hidden), and
// Remove friend / Block / Unblock (each after a confirm). After a block the profile
// stays open: a message to them gets the server's refusal, shown under the box.

import { $, avatar, timeAgo, errorText } from '../util.js';
import { relationTo } from '../people.js';

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

  function renderRelation() {
    if (!person) return;
    const relation = relationTo(state, person.id);
    $('person-relation').textContent = {
      blocked: `You blocked ${person.username}. Neither of you can message the other.`,
      friend: '',
      none: `${person.username} is not your friend.`,
    }[relation];
    $('person-remove-friend').hidden = relation !== 'friend';
    $('person-block').hidden = relation === 'blocked';
    $('person-unblock').hidden = relation !== 'blocked';
  }

  /** Runs a relation change after `question`; its failure is shown like a send's. */
  async function change(question, work, done) {
    if (!person || !globalThis.confirm(question)) return;
    const who = person;
    error.textContent = '';
    try {
      await work(who);
      toast(done(who));
    } catch (err) {
      error.textContent = errorText(err);
    }
    renderRelation();
  }

  $('person-remove-friend').addEventListener('click', () => change(
    `Remove ${person?.username} from your friends?`, (u) => controller.removeFriend(u.id), (u) => `${u.username} is no longer your friend.`));
  $('person-block').addEventListener('click', () => change(
    `Block ${person?.username}? You stop being friends and neither of you can message the other.`,
    (u) => controller.block(u), (u) => `${u.username} is blocked.`));
  $('person-unblock').addEventListener('click', () => change(
    `Unblock ${person?.username}? You can message each other again.`, (u) => controller.unblock(u.id), (u) => `${u.username} is unblocked.`));

  function open(user) {
    person = user;
    $('person-avatar').replaceChildren(avatar(user.username, { online: state.online.has(user.id), url: user.avatar_url }));
    $('person-name').textContent = user.username;
    renderPresence();
    form.reset();
    error.textContent = '';
    renderRelation();
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
  for (const topic of ['friends', 'blocks']) store.on(topic, () => { if (dialog.open) renderRelation(); });
  dialog.addEventListener('close', () => { person = null; });
  return { open };
}
