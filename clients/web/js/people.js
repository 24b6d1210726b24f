// DOM-free: who someone is to me (blocked / friend / neither), the blocked list kept on the
// state (GET /blocks; the server tells no one else, so it is only ever our side of a block),
// and the checks a picture upload makes before any byte is sent.

/** The types the avatar routes take (the server re-encodes them square). */
export const PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

/** Why this file cannot be a picture, or null when it can. */
export function pictureProblem(file) {
  if (!file) return 'Choose a picture.';
  if (!PICTURE_TYPES.includes(file.type)) return `${file.name || 'That file'} is not a picture: choose a JPEG, PNG, GIF or WebP image.`;
  if (!file.size) return `${file.name || 'That file'} is empty.`;
  return null;
}

/** "Uploading picture… 40 %" from an upload's fraction (0…1). */
export function uploadText(fraction) {
  const pct = Math.round(Math.min(1, Math.max(0, Number(fraction) || 0)) * 100);
  return `Uploading picture… ${pct} %`;
}

/** 'blocked' (by me), 'friend' or 'none'. */
export function relationTo(state, uid) {
  if (state.blocked?.has(uid)) return 'blocked';
  if (state.friends?.has(uid)) return 'friend';
  return 'none';
}

/** The person I blocked in this direct chat, else null (groups: a block does not stop them). */
export function blockedIn(state, conversation) {
  if (conversation?.type !== 'direct') return null;
  const other = (conversation.members || []).map((m) => m.user).find((u) => u && u.id !== state.me?.id);
  return other && state.blocked?.has(other.id) ? other : null;
}

/** Store methods for the blocked list; they emit 'blocks'. */
export function blockMethods(state, emit) {
  state.blocked = new Map(); // user id -> {id, username, blocked_at}
  return {
    setBlocked(list) {
      state.blocked = new Map(list.map((b) => [b.id, b]));
      emit('blocks');
    },
    addBlocked(user) {
      state.blocked.set(user.id, { blocked_at: new Date().toISOString(), ...user });
      emit('blocks');
    },
    removeBlocked(uid) {
      if (state.blocked.delete(uid)) emit('blocks');
    },
    blockedList() {
      return [...state.blocked.values()].sort((a, b) => a.username.localeCompare(b.username));
    },
  };
}
