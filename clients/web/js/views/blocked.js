// People I blocked: the account page's "Blocked users" list with Unblock, and the notice
// in a direct chat with one of them. The composer stays: a send is refused by the server
// (403 "You cannot message this user") and that answer is what the failed bubble shows,
// which also covers being blocked by the other side (the server never says so otherwise).

import { $, el, avatar, timeAgo, errorText } from '../util.js';
import { blockedIn } from '../people.js';

export function mountBlocked({ store, controller, say, toast }) {
  const { state } = store;
  const list = $('blocked-list');
  const notice = $('blocked-notice');
  const noticeText = $('blocked-notice-text');

  function unblock(user, report) {
    if (!globalThis.confirm(`Unblock ${user.username}? You can message each other again.`)) return;
    controller.unblock(user.id)
      .then(() => report(`${user.username} is unblocked.`))
      .catch((e) => report(errorText(e), { error: true }));
  }

  function renderList() {
    const people = store.blockedList();
    list.replaceChildren(...(people.length ? people.map((b) => el('li', { class: 'person', testid: 'blocked-item', 'data-user-id': b.id },
      avatar(b.username),
      el('span', { class: 'name' }, b.username, el('span', { class: 'sub' }, 'blocked ', timeAgo(b.blocked_at))),
      el('span', { class: 'actions' }, el('button', {
        type: 'button', testid: 'blocked-unblock', 'aria-label': `Unblock ${b.username}`, onclick: () => unblock(b, say),
      }, 'Unblock')))) : [el('li', { class: 'empty muted' }, 'You have not blocked anyone.')]));
  }

  function renderNotice() {
    const user = blockedIn(state, state.conversations.get(state.activeId));
    notice.hidden = !user;
    if (!user) return;
    noticeText.textContent = `You blocked ${user.username}: neither of you can message the other until you unblock them.`;
    $('blocked-notice-unblock').onclick = () => unblock(user, (text, { error = false } = {}) => toast(text, { error }));
  }

  store.on('blocks', () => { renderList(); renderNotice(); });
  store.on('active', renderNotice);
  store.on('conversations', renderNotice);
  renderList();

  /** The account page asks again when it opens (another device may have changed it). */
  return { load: () => controller.loadBlocks().catch((e) => say(`Could not list blocked users: ${errorText(e)}`, { error: true })) };
}
