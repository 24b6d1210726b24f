// Modal panels (native <dialog>: focus stays inside; one Escape closes them,
// even from a search field, which would otherwise eat the first one):
// new group, conversation details and members (the group's picture: group-avatar.js),
// message search. The notifications page is notifications.js, the account page
// account.js, the Ctrl+K switcher switcher.js.

import { $, el, avatar, formatFull, debounce, errorText } from '../util.js';
import { relationActions } from './sidebar.js';
import { mountGroupAvatar } from './group-avatar.js';

function wireClose(dialog) {
  dialog.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    e.preventDefault();
    e.stopPropagation();
    dialog.close();
  });
  dialog.addEventListener('click', (e) => {
    if (e.target.closest('[data-close]')) dialog.close();
    // A click on the backdrop lands on the dialog element itself.
    if (e.target === dialog) {
      const r = dialog.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
    }
  });
}

export function mountDialogs({ store, controller, toast }) {
  const { state } = store;
  for (const d of document.querySelectorAll('dialog')) wireClose(d);

  // ---- new group ----
  const groupDialog = $('group-dialog');
  const groupForm = $('group-form');
  const groupOptions = $('group-member-options');
  const groupError = $('group-error');
  $('new-group-button').addEventListener('click', () => {
    groupForm.reset();
    groupError.textContent = '';
    const friends = [...state.friends.values()].sort((a, b) => a.username.localeCompare(b.username));
    groupOptions.replaceChildren(...(friends.length
      ? friends.map((f) => el('label', { class: 'check', testid: 'group-member-option', 'data-user-id': f.id },
        el('input', { type: 'checkbox', name: 'member', value: String(f.id) }), f.username))
      : [el('p', { class: 'muted' }, 'Add friends first to invite them.')]));
    groupDialog.showModal();
  });
  groupForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = groupForm.elements.name.value.trim();
    const ids = [...groupForm.querySelectorAll('input[name="member"]:checked')].map((i) => Number(i.value));
    if (!name) { groupError.textContent = 'Give the group a name.'; return; }
    const submit = groupForm.querySelector('button[type="submit"]');
    if (submit.disabled) return; // one group per click, however impatient
    submit.disabled = true;
    try {
      await controller.createGroup(name, ids);
      groupDialog.close();
    } catch (err) {
      groupError.textContent = errorText(err);
    } finally {
      submit.disabled = false;
    }
  });

  // ---- details and members ----
  const membersDialog = $('members-dialog');
  const memberList = $('member-list');
  const renameForm = $('rename-form');
  const renameInput = $('rename-input');
  const addForm = $('add-member-form');
  const addSelect = $('add-member-select');
  const membersError = $('members-error');
  const leaveButton = $('leave-button');
  const removeButton = $('remove-conversation-button');
  const groupAvatar = mountGroupAvatar({ store, controller });
  let membersFor = null;
  let renameDirty = false; // never overwrite what the user is typing
  renameInput.addEventListener('input', () => { renameDirty = true; });

  async function renderMembers() {
    const cid = membersFor;
    const c = state.conversations.get(cid);
    if (!c) { membersDialog.close(); return; }
    const isGroup = c.type === 'group';
    $('members-dialog-title').textContent = isGroup ? (c.name || 'Group') : controller.conversationTitle(c);
    renameForm.hidden = !isGroup;
    addForm.hidden = !isGroup;
    leaveButton.hidden = !isGroup;
    // A direct chat can be hidden by either side; a group deleted by its admin only.
    removeButton.textContent = isGroup ? 'Delete group' : 'Hide chat';
    removeButton.hidden = isGroup;
    if (isGroup && !renameDirty) renameInput.value = c.name || '';
    groupAvatar.render(cid, null);
    let members;
    try {
      members = await controller.members(cid);
    } catch (e) {
      membersError.textContent = errorText(e);
      return;
    }
    if (membersFor !== cid) return;
    const me = members.find((m) => m.id === state.me?.id);
    const iAmAdmin = me?.role === 'admin';
    if (isGroup) removeButton.hidden = !iAmAdmin;
    groupAvatar.render(cid, iAmAdmin);
    memberList.replaceChildren(...members.map((m) => {
      const self = m.id === state.me?.id;
      const online = self || state.online.has(m.id);
      const actions = el('span', { class: 'actions' });
      if (!self && !state.friends.has(m.id)) actions.append(...relationActions(store, controller, m, (fn) => act(fn)));
      if (isGroup && iAmAdmin && !self) {
        actions.append(
          el('button', { type: 'button', testid: 'make-admin-button', 'aria-label': `Make ${m.username} the admin`, onclick: () => act(() => controller.transferAdmin(cid, m.id), `Make ${m.username} the admin? You will become a member.`) }, 'Make admin'),
          el('button', { type: 'button', class: 'danger', testid: 'kick-button', 'aria-label': `Remove ${m.username} from the group`, onclick: () => act(() => controller.kick(cid, m.id), `Remove ${m.username} from the group?`) }, 'Remove'),
        );
      }
      return el('li', { class: 'person', testid: 'member-item', 'data-user-id': m.id, 'data-role': m.role },
        avatar(m.username, { online, url: m.avatar_url }),
        el('span', { class: 'name' }, self ? `${m.username} (you)` : m.username, m.role === 'admin' ? el('span', { class: 'role-tag' }, 'admin') : null),
        actions);
    }));
    const memberIds = new Set(members.map((m) => m.id));
    const candidates = [...state.friends.values()].filter((f) => !memberIds.has(f.id));
    addSelect.replaceChildren(...(candidates.length
      ? candidates.map((f) => el('option', { value: String(f.id) }, f.username))
      : [el('option', { value: '' }, 'All your friends are here')]));
    addSelect.disabled = !candidates.length;
  }

  async function act(fn, question) {
    if (question && !globalThis.confirm(question)) return;
    membersError.textContent = '';
    try {
      await fn();
      await renderMembers();
    } catch (e) {
      membersError.textContent = errorText(e);
    }
  }

  function openMembers() {
    if (state.activeId == null) return;
    membersFor = state.activeId;
    renameDirty = false;
    membersError.textContent = '';
    membersDialog.showModal();
    renderMembers();
  }
  renameForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = renameInput.value.trim();
    if (name) act(async () => { await controller.rename(membersFor, name); renameDirty = false; });
  });
  addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const uid = Number(addSelect.value);
    if (uid) act(() => controller.addMember(membersFor, uid));
  });
  leaveButton.addEventListener('click', async () => {
    if (!globalThis.confirm('Leave this group?')) return;
    try {
      await controller.leave(membersFor);
      membersDialog.close();
    } catch (e) {
      membersError.textContent = errorText(e);
    }
  });
  removeButton.addEventListener('click', async () => {
    const c = state.conversations.get(membersFor);
    if (!c) return;
    const question = c.type === 'group'
      ? `Delete ${c.name || 'this group'} for everyone? Its messages and files are removed for good.`
      : `Hide your chat with ${controller.conversationTitle(c)}? It comes back when a new message arrives.`;
    if (!globalThis.confirm(question)) return;
    try {
      await controller.hideOrDelete(c.id);
      membersDialog.close();
    } catch (e) {
      membersError.textContent = errorText(e);
    }
  });
  store.on('members', (cid) => { if (membersDialog.open && cid === membersFor) renderMembers(); });
  store.on('requests', () => { if (membersDialog.open && membersFor != null) renderMembers(); });
  membersDialog.addEventListener('close', () => { membersFor = null; });

  // ---- search ----
  const searchDialog = $('search-dialog');
  const searchInput = $('search-input');
  const searchHere = $('search-here');
  const results = $('search-results');
  $('search-button').addEventListener('click', () => {
    searchHere.disabled = state.activeId == null;
    if (state.activeId == null) searchHere.checked = false;
    searchDialog.showModal();
    searchInput.focus();
  });
  const runSearch = debounce(async () => {
    const q = searchInput.value.trim();
    if (!q) { results.replaceChildren(); return; }
    try {
      const found = await controller.searchMessages(q, searchHere.checked ? state.activeId : undefined);
      if (searchInput.value.trim() !== q) return;
      results.replaceChildren(...(found.length ? found.map((m) => {
        const c = state.conversations.get(m.conversation_id);
        return el('li', {}, el('button', {
          type: 'button', class: 'result', testid: 'search-result', 'data-message-id': m.id, 'data-conversation-id': m.conversation_id,
          onclick: () => { searchDialog.close(); controller.jumpTo(m.conversation_id, m.id); },
        },
        el('span', { class: 'title' }, `${m.sender_username} in ${controller.conversationTitle(c) || 'a conversation'}`),
        el('span', { class: 'body' }, m.content),
        el('time', { class: 'body', datetime: m.created_at }, formatFull(m.created_at))));
      }) : [el('li', { class: 'empty muted' }, 'No messages found.')]));
    } catch (e) {
      results.replaceChildren(el('li', { class: 'error' }, errorText(e)));
    }
  }, 250);
  searchInput.addEventListener('input', runSearch);
  searchHere.addEventListener('change', runSearch);
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); runSearch(); });

  store.on('reset', () => {
    for (const d of document.querySelectorAll('dialog[open]')) d.close();
  });

  return { openMembers };
}
