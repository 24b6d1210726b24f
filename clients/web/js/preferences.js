// DOM-free logic of the notification preferences: labels for the types the
// server lists in `channels`, and the change to send (only what differs from
// what the server last said, so two tabs editing different things do not undo each other).

export const CHANNELS = [
  { key: 'in_app', label: 'In app' },
  { key: 'email', label: 'Email' },
  { key: 'push', label: 'Push' },
];

const TYPE_LABELS = {
  mention: 'Mentions',
  friend_request: 'Friend requests',
  friend_accepted: 'Accepted friend requests',
  added_to_group: 'Added to a group',
  integration: 'Payment and dispute updates',
  host: 'Other apps (every app type)',
};

/** A row's label: chat's own types by name, a host's dotted type as it is (`task.assigned`). */
export function typeLabel(type) {
  return TYPE_LABELS[type] || type;
}

/** The types in the order the server lists them (chat's own, `host`, then the host types chosen). */
export function channelTypes(prefs) {
  return Object.keys(prefs?.channels || {});
}

const SCALARS = ['email_missed_messages', 'email_delay_minutes', 'digest', 'push_previews'];

/**
 * What to PUT: the scalar fields that differ, and `channels` with only the
 * (type, channel) pairs that differ. `{}` when nothing changed.
 */
export function preferenceChanges(saved, edited) {
  const change = {};
  for (const key of SCALARS) {
    if (edited[key] === undefined) continue;
    if (edited[key] !== saved?.[key]) change[key] = edited[key];
  }
  const channels = {};
  for (const [type, choice] of Object.entries(edited.channels || {})) {
    for (const [channel, on] of Object.entries(choice || {})) {
      if (typeof on !== 'boolean') continue;
      if (saved?.channels?.[type]?.[channel] !== on) (channels[type] ||= {})[channel] = on;
    }
  }
  if (Object.keys(channels).length) change.channels = channels;
  return change;
}

/** The delay field's text as minutes: a number from 0 to a week, else null (with why). */
export function parseDelay(text) {
  const trimmed = String(text ?? '').trim();
  if (!trimmed) return { value: null, error: 'Enter how many minutes to wait (0 for no wait).' };
  const n = Number(trimmed);
  if (!Number.isFinite(n) || n < 0 || n > 7 * 24 * 60) return { value: null, error: 'The wait is 0 to 10080 minutes (a week).' };
  return { value: n, error: null };
}
