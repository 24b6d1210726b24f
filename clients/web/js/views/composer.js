// The composer: Enter sends, Shift+Enter is a new line, ArrowUp in an empty
// composer edits my last message, Escape cancels a reply or edit. A counter
// appears near the length limit and turns red past it; the text is never cut
// (sending waits until it fits). `@` offers the conversation's members.

import { $, el, errorText } from '../util.js';
import { formatBytes } from './files.js';

export const MAX_CHARS = 4000; // PROTOCOL.md: 1–4000 characters after trimming
export const MAX_FILES = 10; // attachments per message
export const MAX_FILE_BYTES = 25 * 1024 * 1024; // the server's default upload limit
const COUNTER_FROM = 3000;
const WARN_FROM = 3800;

export function mountComposer({ store, controller, emojiPicker, onSent }) {
  const { state } = store;
  const form = $('composer');
  const input = $('message-input');
  const sendButton = $('send-button');
  const counter = $('char-counter');
  const replyBar = $('reply-preview');
  const replyText = $('reply-preview-text');
  const mentionList = $('mention-list');
  const emojiButton = $('emoji-button');
  const tray = $('attachment-tray');
  const attachInput = $('attach-input');
  const drafts = new Map();
  let uploads = []; // {key, file, status: 'uploading'|'done'|'failed', progress, result, abort, error}
  let uploadSeq = 0;
  let mode = null; // {type: 'reply'|'edit', message}
  let mention = null; // {start, query, items, index}

  const length = () => [...input.value.trim()].length;

  function renderCounter() {
    const n = length();
    const over = n > MAX_CHARS;
    counter.hidden = n < COUNTER_FROM;
    counter.dataset.state = over ? 'over' : n >= WARN_FROM ? 'warn' : 'ok';
    counter.textContent = over
      ? `${n.toLocaleString()} / ${MAX_CHARS.toLocaleString()}: ${(n - MAX_CHARS).toLocaleString()} too many to send`
      : `${n.toLocaleString()} / ${MAX_CHARS.toLocaleString()}`;
    sendButton.disabled = over || uploads.some((u) => u.status === 'uploading');
  }

  // ---- attachments: uploaded as soon as they are picked, dropped or pasted ----
  function renderTray() {
    tray.hidden = !uploads.length;
    tray.replaceChildren(...uploads.map((u) => el('li', {
      class: 'upload', testid: 'upload-item', 'data-status': u.status,
    },
    el('span', { class: 'upload-name' }, u.file.name || 'file'),
    el('span', { class: 'upload-size muted' }, formatBytes(u.file.size)),
    u.status === 'uploading'
      ? (u.bar = el('progress', { max: '1', value: String(u.progress || 0), testid: 'upload-progress', 'aria-label': `Uploading ${u.file.name}` }))
      : el('span', { class: `upload-state${u.status === 'failed' ? ' error' : ''}`, testid: 'upload-state' }, u.status === 'failed' ? u.error : 'Ready'),
    el('button', {
      type: 'button', class: 'icon-btn upload-cancel', testid: 'upload-cancel', 'aria-label': `Remove ${u.file.name}`,
      onclick: () => removeUpload(u.key),
    }, '×'))));
    renderCounter();
  }

  function removeUpload(key) {
    const u = uploads.find((x) => x.key === key);
    if (!u) return;
    if (u.status === 'uploading') u.abort?.();
    uploads = uploads.filter((x) => x.key !== key);
    renderTray();
  }

  function clearUploads() {
    for (const u of uploads) if (u.status === 'uploading') u.abort?.();
    uploads = [];
    renderTray();
  }

  function addFiles(files) {
    if (state.activeId == null || mode?.type === 'edit') return;
    for (const file of files) {
      if (uploads.length >= MAX_FILES) break;
      const u = { key: ++uploadSeq, file, status: 'uploading', progress: 0 };
      uploads.push(u);
      if (file.size > MAX_FILE_BYTES) {
        Object.assign(u, { status: 'failed', error: `Too large (over ${formatBytes(MAX_FILE_BYTES)})` });
        continue;
      }
      const { promise, abort } = controller.uploadAttachment(file, {
        onProgress: (f) => {
          u.progress = f;
          if (u.bar) u.bar.value = f;
        },
      });
      u.abort = abort;
      promise.then((result) => Object.assign(u, { status: 'done', result }))
        .catch((e) => Object.assign(u, { status: 'failed', error: errorText(e) }))
        .finally(renderTray);
    }
    renderTray();
    input.focus();
  }

  function autoresize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  function setMode(next, { focus = true } = {}) {
    const wasEdit = mode?.type === 'edit';
    mode = next;
    if (!mode) {
      replyBar.hidden = true;
      if (wasEdit) input.value = drafts.get(state.activeId) || '';
    } else if (mode.type === 'reply') {
      replyBar.hidden = false;
      replyText.textContent = `Replying to ${mode.message.sender_username}: ${mode.message.content}`;
    } else {
      drafts.set(state.activeId, input.value);
      replyBar.hidden = false;
      replyText.textContent = 'Editing message';
      input.value = mode.message.content;
    }
    replyBar.dataset.mode = mode?.type || '';
    autoresize();
    renderCounter();
    if (focus) input.focus();
  }

  function submit() {
    const cid = state.activeId;
    if (cid == null) return;
    const text = input.value;
    if (length() > MAX_CHARS || uploads.some((u) => u.status === 'uploading')) return;
    const attachments = mode?.type === 'edit' ? [] : uploads.filter((u) => u.status === 'done').map((u) => u.result);
    if (!text.trim() && !attachments.length) return;
    if (mode?.type === 'edit') {
      controller.edit(mode.message, text);
      mode = null;
      replyBar.hidden = true;
    } else {
      controller.send(cid, text, mode?.type === 'reply' ? mode.message.id : null, attachments);
      mode = null;
      replyBar.hidden = true;
      uploads = [];
      renderTray();
      onSent();
    }
    input.value = '';
    drafts.delete(cid);
    closeMentions();
    autoresize();
    renderCounter();
    input.focus();
  }

  // ---- @mentions ----
  function members() {
    const c = state.conversations.get(state.activeId);
    return (c?.members || []).map((m) => m.user).filter((u) => u && u.id !== state.me?.id);
  }

  function updateMentions() {
    const before = input.value.slice(0, input.selectionStart);
    const m = before.match(/(^|\s)@([\p{L}\p{N}_.-]*)$/u);
    if (!m) { closeMentions(); return; }
    const query = m[2].toLowerCase();
    const items = members().filter((u) => u.username.toLowerCase().startsWith(query))
      .sort((a, b) => a.username.localeCompare(b.username)).slice(0, 8);
    if (!items.length) { closeMentions(); return; }
    mention = { start: before.length - m[2].length - 1, items, index: 0 };
    renderMentions();
  }

  // The textarea is the list's combobox: the highlighted option is its aria-activedescendant,
  // so a screen reader reads it while the focus stays in the text.
  function renderMentions() {
    mentionList.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    input.setAttribute('aria-activedescendant', `mention-${mention.items[mention.index].id}`);
    mentionList.replaceChildren(...mention.items.map((u, i) => el('li', {
      role: 'option', id: `mention-${u.id}`, class: 'mention-option', testid: 'mention-option', 'data-user-id': u.id,
      'aria-selected': i === mention.index ? 'true' : 'false',
      onmousedown: (e) => e.preventDefault(), // keep the caret in the textarea
      onclick: () => pickMention(i),
    }, `@${u.username}`)));
  }

  function closeMentions() {
    mention = null;
    mentionList.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    mentionList.replaceChildren();
  }

  function pickMention(i) {
    const u = mention.items[i];
    const end = input.selectionStart;
    const text = `@${u.username} `;
    input.setRangeText(text, mention.start, end, 'end');
    closeMentions();
    input.focus();
    input.dispatchEvent(new Event('input'));
  }

  function insertAtCaret(text) {
    input.focus();
    input.setRangeText(text, input.selectionStart, input.selectionEnd, 'end');
    input.dispatchEvent(new Event('input'));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (e) => {
    if (mention) {
      const n = mention.items.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        mention.index = (mention.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        renderMentions();
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') { e.preventDefault(); pickMention(mention.index); return; }
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeMentions(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && mode) {
      e.preventDefault();
      e.stopPropagation(); // one Escape does one thing
      setMode(null);
    } else if (e.key === 'ArrowUp' && !input.value && !mode) {
      const mine = store.thread(state.activeId).sorted().reverse().find((m) => m.sender_id === state.me?.id && !m.deleted && m.type !== 'system');
      if (mine) { e.preventDefault(); setMode({ type: 'edit', message: mine }); }
    }
  });
  input.addEventListener('input', () => {
    autoresize();
    renderCounter();
    updateMentions();
    if (state.activeId != null && mode?.type !== 'edit') {
      drafts.set(state.activeId, input.value);
      if (input.value.trim()) controller.typing(state.activeId);
      else controller.stopTyping();
    }
  });
  input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== input) closeMentions(); }, 150));
  $('cancel-reply').addEventListener('click', () => setMode(null));
  $('attach-button').addEventListener('click', () => attachInput.click());
  attachInput.addEventListener('change', () => {
    addFiles([...attachInput.files]);
    attachInput.value = '';
  });
  input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) {
      e.preventDefault();
      addFiles(files);
    }
  });
  const dropZone = $('chat-view');
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  dropZone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dropZone.classList.add('dropping');
  });
  dropZone.addEventListener('dragleave', (e) => {
    if (!dropZone.contains(e.relatedTarget)) dropZone.classList.remove('dropping');
  });
  dropZone.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dropZone.classList.remove('dropping');
    addFiles([...e.dataTransfer.files]);
  });
  emojiButton.addEventListener('click', () => emojiPicker.open(emojiButton, insertAtCaret));

  return {
    setMode,
    get mode() { return mode; },
    /** A different conversation is on screen: its own draft, no reply/edit. */
    switchTo(cid) {
      mode = null;
      replyBar.hidden = true;
      clearUploads();
      closeMentions();
      input.value = drafts.get(cid) || '';
      autoresize();
      renderCounter();
    },
    focus: () => input.focus(),
  };
}
