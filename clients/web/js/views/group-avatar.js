// A group's picture in its Details panel: every member sees it; the admin chooses one
// (images only, checked before upload; progress while it goes out; the server's error
// otherwise) or removes it. Other members' pages follow through `conversation_updated`.

import { $, avatar, errorText } from '../util.js';
import { pictureProblem, uploadText } from '../people.js';

const ADMIN_ONLY = 'Only the group’s admin can change its picture.';

export function mountGroupAvatar({ store, controller }) {
  const { state } = store;
  const section = $('group-avatar-section');
  const face = $('group-avatar');
  const choose = $('group-avatar-choose');
  const remove = $('group-avatar-remove');
  const input = $('group-avatar-input');
  const progress = $('group-avatar-progress');
  const status = $('group-avatar-status');
  let cid = null;
  let busy = false;

  function say(text, { error = false } = {}) {
    status.textContent = text;
    status.classList.toggle('error', error);
    status.classList.toggle('muted', !error);
  }

  /** `admin`: true / false once the members are known, null before (no buttons yet). */
  function render(conversationId, admin) {
    const c = state.conversations.get(conversationId);
    section.hidden = c?.type !== 'group';
    if (section.hidden) return;
    if (cid !== conversationId) { say(''); progress.hidden = true; }
    cid = conversationId;
    face.replaceChildren(avatar(c.name || 'Group', { url: c.avatar_url }));
    choose.hidden = admin !== true;
    remove.hidden = admin !== true || !c.avatar_url;
    choose.disabled = busy;
    remove.disabled = busy;
    if (admin === false && !status.textContent) say(ADMIN_ONLY);
    if (admin === true && status.textContent === ADMIN_ONLY) say('');
  }

  async function run(work, done) {
    const target = cid;
    busy = true;
    choose.disabled = true;
    remove.disabled = true;
    try {
      await work(target);
      say(done);
    } catch (e) {
      say(errorText(e), { error: true });
    } finally {
      busy = false;
      progress.hidden = true;
      render(target, true);
    }
  }

  choose.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const file = input.files[0];
    input.value = '';
    if (!file || cid == null) return;
    const problem = pictureProblem(file);
    if (problem) { say(problem, { error: true }); return; }
    progress.value = 0;
    progress.hidden = false;
    say(uploadText(0));
    run((target) => controller.setGroupAvatar(target, file, (f) => {
      progress.value = f;
      say(uploadText(f));
    }), 'Picture saved.');
  });
  remove.addEventListener('click', () => {
    if (cid == null || !globalThis.confirm('Remove the group’s picture?')) return;
    run((target) => controller.removeGroupAvatar(target), 'Picture removed.');
  });

  return { render };
}
