import { renderMessage } from '../js/views/message.js';

const t = '2024-05-01T10:00:00Z';
const base = { conversation_id: 1, type: 'text', reactions: {}, created_at: t, edited_at: null, deleted: false, reply_to: null };
const msgs = [
  { ...base, id: 1, seq: 1, sender_id: 2, sender_username: 'bob', content: 'Hi! Is the sofa still available?' },
  { ...base, id: 2, seq: 2, sender_id: 7, sender_username: 'me', content: 'Yes it is 🙂\nPick-up on Saturday works.', reactions: { '👍': [2], '❤️': [2, 7] } },
  { ...base, id: 3, seq: 3, sender_id: 2, sender_username: 'bob', content: '<script>alert(1)</script><img src=x onerror=alert(2)>', reply_to: 2 },
  { ...base, id: 4, seq: 4, sender_id: null, sender_username: 'system', type: 'system', content: 'bob added carol' },
  { ...base, id: 5, seq: 5, sender_id: null, sender_username: 'system', type: 'system', kind: 'payment', content: 'Payment received for order #1042', metadata: { title: 'Payment received', amount: 120.5, currency: 'EUR', status: 'paid' } },
  { ...base, id: 6, seq: 6, sender_id: null, sender_username: 'system', type: 'system', kind: 'dispute', content: 'The buyer opened a dispute.', metadata: { status: 'under_review' } },
  { ...base, id: 7, seq: 7, sender_id: null, sender_username: 'system', type: 'system', kind: 'job_update', content: 'Cleaner is on the way', metadata: { title: '<b>Job</b> started', status: 'in_progress' } },
  { ...base, id: 8, seq: 8, sender_id: null, sender_username: 'system', type: 'system', kind: 'unknown', content: 'Something happened in the host app.', metadata: null },
  { ...base, id: 9, seq: 9, sender_id: 7, sender_username: 'me', content: '', deleted: true },
  { ...base, id: 10, seq: 10, sender_id: 7, sender_username: 'me', content: 'Edited text', edited_at: t },
  { ...base, pending: true, client_msg_id: 'p1', sender_id: 7, sender_username: 'me', content: 'On its way…', status: 'sending' },
  { ...base, pending: true, client_msg_id: 'p2', sender_id: 7, sender_username: 'me', content: 'This one failed', status: 'failed', error: 'You cannot message this user' },
];
const byId = new Map(msgs.filter((m) => m.id).map((m) => [m.id, m]));
const ctx = {
  meId: 7,
  isGroup: true,
  receiptFor: (m) => (m.seq <= 2 ? { read: 2, delivered: 2 } : m.seq === 10 ? { read: 0, delivered: 1 } : { read: 0, delivered: 0 }),
  findMessage: (id) => byId.get(id) || null,
  showSender: (m) => m.sender_id !== 7,
  onReply() {}, onEdit() {}, onDelete() {}, onReact() {}, onRetry() {}, onDiscard() {},
};
const list = document.getElementById('fixtures');
for (const m of msgs) list.append(renderMessage(m, ctx));
window.__fixturesRendered = list.children.length;
