// One message as a list item: a text bubble (mine or theirs), a plain system
// line, or an integration card (payment, dispute, job_update, ...). All user
// text goes through text nodes.

import { el, avatar, formatTime, formatFull } from '../util.js';
import { renderRich, mentionsUser } from '../format.js';
import { renderAttachments } from './files.js';

export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉'];

const KIND_LABELS = { payment: 'Payment', dispute: 'Dispute', job_update: 'Job update' };

/** A stable key for a message row: confirmed messages by seq, pending ones by client_msg_id. */
export function messageKey(m) {
  return m.pending ? `p:${m.client_msg_id}` : `s:${m.seq}`;
}

/** Everything that changes how a row looks; a row is rebuilt only when this changes. */
export function messageSignature(m, ctx) {
  const r = m.pending ? null : ctx.receiptFor(m);
  const quoted = m.reply_to ? ctx.findMessage(m.reply_to) : null;
  return JSON.stringify([
    m.id, m.content, m.edited_at, m.deleted, m.reactions, m.status, m.error, (m.attachments || []).map((a) => a.id),
    ctx.showSender(m) ? ctx.avatarOf(m.sender_id) : null,
    m.sender_id === ctx.meId ? r : null, quoted ? [quoted.content, quoted.deleted] : null, ctx.showSender(m),
    [...ctx.members.keys()].join(','),
  ]);
}

export function renderMessage(m, ctx) {
  if (m.type === 'system') return m.kind ? renderSystemCard(m) : renderSystemLine(m);
  const mine = m.sender_id === ctx.meId || m.pending;
  const forMe = !mine && !m.deleted && mentionsUser(m, ctx.me);
  const li = el('li', {
    class: `msg${mine ? ' mine' : ''}${forMe ? ' mentions-me' : ''}`,
    testid: 'message-bubble',
    'data-seq': m.pending ? null : m.seq,
    'data-message-id': m.pending ? null : m.id,
    'data-client-msg-id': m.client_msg_id || null,
    'data-status': m.pending ? m.status : 'sent',
    'data-mine': mine ? 'true' : 'false',
    'data-mentions-me': forMe ? 'true' : null,
  });
  if (!mine && ctx.showSender(m)) {
    const face = avatar(m.sender_username, { url: ctx.avatarOf(m.sender_id) });
    face.classList.add('small');
    li.append(el('div', { class: 'sender' }, face, m.sender_username || 'Unknown'));
  }

  const bubble = el('div', {
    class: 'bubble',
    tabindex: '0',
    'aria-label': `${mine ? 'You' : m.sender_username || 'Unknown'}, ${formatFull(m.created_at)}${forMe ? ', mentions you' : ''}: ${m.deleted ? 'message deleted' : describe(m)}`,
  });
  if (m.reply_to && !m.deleted) {
    const q = ctx.findMessage(m.reply_to);
    const who = q && (q.sender_id === ctx.meId ? 'You' : q.sender_username || '');
    const text = q ? `${who}: ${q.deleted ? 'message deleted' : q.content}` : 'Reply to an earlier message';
    bubble.append(el('span', { class: 'quote', testid: 'reply-quote' }, text));
  }
  if (m.deleted) bubble.append(el('span', { class: 'deleted', testid: 'message-deleted' }, 'This message was deleted'));
  else {
    const files = renderAttachments(ctx.api, m.attachments);
    if (files) bubble.append(files);
    if (m.content || !files) bubble.append(el('span', { class: 'content', testid: 'message-content' }, renderRich(m.content, { members: ctx.members, meId: ctx.meId })));
  }

  const meta = el('div', { class: 'meta' });
  if (m.edited_at && !m.deleted) meta.append(el('span', { class: 'edited' }, 'edited'));
  meta.append(el('time', { datetime: m.created_at, title: formatFull(m.created_at) }, formatTime(m.created_at)));
  if (mine) meta.append(renderTicks(m, ctx));
  bubble.append(meta);
  bubble.addEventListener('click', (e) => {
    if (e.target.closest('button')) return;
    li.classList.toggle('show-actions');
  });
  li.append(bubble);

  const reactions = Object.entries(m.reactions || {}).filter(([, users]) => users?.length);
  if (reactions.length && !m.deleted) {
    li.append(el('div', { class: 'reactions' }, reactions.map(([emoji, users]) => {
      const pressed = users.includes(ctx.meId);
      return el('button', {
        type: 'button',
        class: 'reaction-chip',
        testid: 'reaction-chip',
        'data-emoji': emoji,
        'aria-pressed': pressed ? 'true' : 'false',
        'aria-label': `${emoji} ${users.length}${pressed ? ', including you' : ''}`,
        onclick: () => ctx.onReact(m, emoji),
      }, `${emoji} ${users.length}`);
    })));
  }
  li.append(renderActions(m, mine, ctx));
  return li;
}

/** A message's text for labels and previews: its content, or what it carries. */
export function describe(m) {
  if (m.content || !m.attachments?.length) return m.content;
  const n = m.attachments.length;
  const noun = m.attachments.every((a) => a.thumbnail_url) ? 'photo' : 'file';
  return n === 1 ? `sent a ${noun}` : `sent ${n} ${noun}s`;
}

function renderTicks(m, ctx) {
  if (m.pending) {
    if (m.status === 'failed') {
      // The server's reason stays in sight (e.g. 403 "You cannot message this user" after a block).
      const why = m.error ? `: ${m.error}` : '';
      return el('span', { class: 'ticks', testid: 'read-ticks', 'data-state': 'failed', title: m.error || 'Not sent', 'aria-label': `Not sent${why}` }, `! not sent${why}`);
    }
    return el('span', { class: 'ticks', testid: 'read-ticks', 'data-state': 'pending', 'aria-label': 'Sending', title: 'Sending' }, '○');
  }
  const { read, delivered } = ctx.receiptFor(m);
  let state = 'sent';
  let label = 'Sent';
  let marks = '✓';
  if (read > 0) {
    state = 'read';
    marks = '✓✓';
    label = ctx.isGroup ? `Read by ${read}` : 'Read';
  } else if (delivered > 0) {
    state = 'delivered';
    marks = '✓✓';
    label = 'Delivered';
  }
  const node = el('span', {
    class: 'ticks', testid: 'read-ticks', 'data-state': state, 'data-read-count': String(read), 'aria-label': label, title: label,
  }, marks);
  if (ctx.isGroup && read > 0) node.append(el('span', { class: 'read-count' }, ` ${read}`));
  return node;
}

function renderActions(m, mine, ctx) {
  const bar = el('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' });
  if (m.pending) {
    if (m.status === 'failed') {
      bar.append(
        el('button', { type: 'button', testid: 'retry-button', onclick: () => ctx.onRetry(m) }, 'Retry'),
        el('button', { type: 'button', testid: 'discard-button', onclick: () => ctx.onDiscard(m) }, 'Discard'),
      );
    }
    return bar;
  }
  if (m.deleted) return bar;
  bar.append(el('button', { type: 'button', testid: 'reply-button', 'aria-label': 'Reply', onclick: () => ctx.onReply(m) }, 'Reply'));
  const picker = el('span', { class: 'emoji-picker', hidden: true },
    REACTIONS.map((emoji) => el('button', {
      type: 'button', testid: 'react-option', 'data-emoji': emoji, 'aria-label': `React with ${emoji}`,
      onclick: () => { picker.hidden = true; ctx.onReact(m, emoji); },
    }, emoji)));
  bar.append(el('button', {
    type: 'button', testid: 'react-button', 'aria-label': 'Add reaction', 'aria-expanded': 'false',
    onclick: (e) => {
      picker.hidden = !picker.hidden;
      e.currentTarget.setAttribute('aria-expanded', String(!picker.hidden));
      if (!picker.hidden) picker.querySelector('button')?.focus();
    },
  }, 'React'), picker);
  picker.append(el('button', {
    type: 'button', testid: 'react-more', 'aria-label': 'More reactions', 'aria-haspopup': 'dialog',
    onclick: (e) => { picker.hidden = true; ctx.onMoreReactions(m, e.currentTarget.closest('.msg-actions').querySelector('[data-testid="react-button"]')); },
  }, '…'));
  if (mine) {
    bar.append(
      el('button', { type: 'button', testid: 'edit-button', 'aria-label': 'Edit message', onclick: () => ctx.onEdit(m) }, 'Edit'),
      el('button', { type: 'button', testid: 'delete-button', 'aria-label': 'Delete message', onclick: () => ctx.onDelete(m) }, 'Delete'),
    );
  }
  return bar;
}

function renderSystemLine(m) {
  return el('li', {
    class: 'system-line', testid: 'system-message', 'data-seq': m.seq, 'data-message-id': m.id,
  }, m.deleted ? 'This message was deleted' : m.content);
}

function formatAmount(meta) {
  let amount = meta.amount;
  if (amount == null && meta.amount_cents != null) amount = Number(meta.amount_cents) / 100;
  if (amount == null || amount === '') return null;
  const n = Number(amount);
  if (meta.currency && Number.isFinite(n)) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency: String(meta.currency) }).format(n);
    } catch { /* unknown currency code */ }
  }
  return meta.currency ? `${amount} ${meta.currency}` : String(amount);
}

export function renderSystemCard(m) {
  const meta = m.metadata && typeof m.metadata === 'object' ? m.metadata : {};
  const kind = String(m.kind);
  const title = typeof meta.title === 'string' && meta.title ? meta.title : KIND_LABELS[kind] || 'Update';
  const card = el('li', {
    class: 'system-card', testid: 'system-card', 'data-kind': kind, 'data-seq': m.seq, 'data-message-id': m.id,
    role: 'article', 'aria-label': `${KIND_LABELS[kind] || 'Update'}: ${title}`,
  });
  card.append(el('div', { class: 'card-head' }, el('span', { class: 'card-kind' }, KIND_LABELS[kind] || kind.replace(/_/g, ' ')), el('span', { testid: 'card-title' }, title)));
  const amount = formatAmount(meta);
  if (amount) card.append(el('div', { class: 'card-amount', testid: 'card-amount' }, amount));
  if (meta.status != null && meta.status !== '') {
    card.append(el('span', { class: 'card-status', testid: 'card-status' }, String(meta.status).replace(/_/g, ' ')));
  }
  if (m.content && !m.deleted) card.append(el('div', { class: 'card-body' }, m.content));
  card.append(el('div', { class: 'card-time' }, formatFull(m.created_at)));
  return card;
}
