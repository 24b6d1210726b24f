// REST client for the gateway. Keeps tokens in storage, refreshes once on a
// 401 (single flight: concurrent 401s share one POST /auth/refresh), then
// retries the request with the new access token.

const TOKENS_KEY = 'parley.tokens';

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(typeof detail === 'string' ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.code = code;
  }
}

export class NetworkError extends Error {}

export function createApi({ base = '', storage = globalThis.localStorage, fetchImpl = globalThis.fetch.bind(globalThis), onAuthLost = () => {} } = {}) {
  let tokens = load();
  let refreshing = null;

  function load() {
    try { return JSON.parse(storage.getItem(TOKENS_KEY)) || null; } catch { return null; }
  }
  function save(t) {
    tokens = t;
    if (t) storage.setItem(TOKENS_KEY, JSON.stringify(t));
    else storage.removeItem(TOKENS_KEY);
  }
  function storeLogin(body) {
    save({
      access_token: body.access_token,
      refresh_token: body.refresh_token,
      expires_at: body.expires_in ? Date.now() + body.expires_in * 1000 : null,
    });
  }

  async function raw(method, path, body, token) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetchImpl(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new NetworkError(e?.message || 'Network error');
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = { detail: text }; }
    }
    if (!res.ok) throw new ApiError(res.status, data?.detail ?? res.statusText, data?.code);
    return data;
  }

  /** Rotates the refresh token. Resolves to the new access token, or null when the session is gone. */
  function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        const current = tokens;
        if (!current?.refresh_token) return null;
        try {
          storeLogin(await raw('POST', '/auth/refresh', { refresh_token: current.refresh_token }));
          return tokens.access_token;
        } catch (e) {
          if (e instanceof NetworkError || (e instanceof ApiError && e.status >= 500)) throw e;
          // Another tab may have rotated the token already: use what it stored.
          const stored = load();
          if (stored?.refresh_token && stored.refresh_token !== current.refresh_token) {
            tokens = stored;
            return stored.access_token;
          }
          save(null);
          onAuthLost();
          return null;
        }
      })().finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function request(method, path, body) {
    const token = tokens?.access_token;
    if (!token) {
      onAuthLost();
      throw new ApiError(401, 'Not authenticated');
    }
    try {
      return await raw(method, path, body, token);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      const fresh = await refresh();
      if (!fresh) throw e;
      return raw(method, path, body, fresh);
    }
  }

  /**
   * Uploads a file as multipart field `file` with XMLHttpRequest (fetch reports no upload
   * progress). Returns {promise, abort}; onProgress(fraction) as the bytes go out. A 401
   * refreshes the token once and uploads again.
   */
  function upload(method, path, file, { onProgress = () => {} } = {}) {
    let xhr = null;
    let aborted = false;
    const once = (token) => new Promise((resolve, reject) => {
      xhr = new XMLHttpRequest();
      xhr.open(method, base + path);
      xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch { data = { detail: xhr.responseText }; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new ApiError(xhr.status, data?.detail ?? xhr.statusText, data?.code));
      };
      xhr.onerror = () => reject(new NetworkError('Upload failed'));
      xhr.onabort = () => reject(new ApiError(0, 'Upload cancelled', 'cancelled'));
      const form = new FormData();
      form.append('file', file, file.name || 'file');
      xhr.send(form);
    });
    const promise = (async () => {
      const token = tokens?.access_token;
      if (!token) throw new ApiError(401, 'Not authenticated');
      try {
        return await once(token);
      } catch (e) {
        if (aborted || !(e instanceof ApiError) || e.status !== 401) throw e;
        const fresh = await refresh();
        if (!fresh) throw e;
        return once(fresh);
      }
    })();
    return { promise, abort: () => { aborted = true; xhr?.abort(); } };
  }

  /** An attachment's or avatar's bytes (they need the token, so <img src> cannot fetch them). */
  async function blob(path) {
    const go = (token) => fetchImpl(base + path, { headers: { Authorization: `Bearer ${token}` } });
    let res;
    try {
      res = await go(tokens?.access_token);
      if (res.status === 401) {
        const fresh = await refresh();
        if (fresh) res = await go(fresh);
      }
    } catch (e) {
      throw new NetworkError(e?.message || 'Network error');
    }
    if (!res.ok) throw new ApiError(res.status, res.statusText);
    return res.blob();
  }

  const get = (p) => request('GET', p);
  const post = (p, b = {}) => request('POST', p, b);
  const put = (p, b = {}) => request('PUT', p, b);
  const patch = (p, b) => request('PATCH', p, b);
  const del = (p, b) => request('DELETE', p, b);
  const qs = (params) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    return s ? `?${s}` : '';
  };
  const id = (v) => encodeURIComponent(String(v));

  return {
    get accessToken() { return tokens?.access_token || null; },
    get isLoggedIn() { return !!tokens?.access_token; },
    refresh,
    clearTokens: () => save(null),

    // auth
    async login(username, password) {
      storeLogin(await raw('POST', '/auth/login', { username, password }));
    },
    register: (username, email, password) => raw('POST', '/auth/register', { username, email, password }),
    async logout() {
      const rt = tokens?.refresh_token;
      save(null);
      if (rt) { try { await raw('POST', '/auth/logout', { refresh_token: rt }); } catch { /* already gone */ } }
    },
    me: () => get('/auth/me'),
    updateMe: (fields) => put('/users/me', fields),
    // Links from emails (`/?reset=`, `/?verify=`) work signed out: no token is sent.
    forgotPassword: (email) => raw('POST', '/auth/password/forgot', { email }),
    resetPassword: (token, new_password) => raw('POST', '/auth/password/reset', { token, new_password }),
    verifyEmail: (token) => raw('POST', '/auth/verify', { token }),
    resendVerification: () => post('/auth/verify/resend'),
    changeEmail: (email, password) => post('/users/me/email', { email, password }),
    deleteAccount: (password) => del('/users/me', { password }),
    exportData: () => post('/users/me/export'),
    sessions: () => get('/auth/sessions'),
    revokeSession: (sid) => del(`/auth/sessions/${id(sid)}`),
    revokeOtherSessions: () => post('/auth/sessions/revoke-others'),
    changePassword: (current_password, new_password) => put('/users/me/password', { current_password, new_password }),
    setAvatar: (file) => upload('PUT', '/users/me/avatar', file).promise,
    removeAvatar: () => del('/users/me/avatar'),

    // files
    uploadAttachment: (file, options) => upload('POST', '/attachments', file, options),
    blob,

    // users and friends
    searchUsers: (q) => get(`/users${qs({ q })}`),
    friends: () => get('/friends'),
    friendRequests: () => get('/friends/requests'),
    sentRequests: () => get('/friends/requests/sent'),
    cancelRequest: (rid) => del(`/friends/requests/${id(rid)}`),
    sendFriendRequest: (username) => post('/friends/request', { username }),
    acceptRequest: (rid) => put(`/friends/requests/${id(rid)}/accept`),
    rejectRequest: (rid) => put(`/friends/requests/${id(rid)}/reject`),
    removeFriend: (uid) => del(`/friends/${id(uid)}`),
    blocks: () => get('/blocks'),
    block: (uid) => post('/blocks', { user_id: uid }),
    unblock: (uid) => del(`/blocks/${id(uid)}`),

    // conversations
    conversations: () => get('/conversations?order=recent'),
    conversation: (cid) => get(`/conversations/${id(cid)}`),
    openDirect: (uid) => post('/conversations', { type: 'direct', member_user_ids: [uid] }),
    createGroup: (name, memberIds) => post('/conversations', { type: 'group', name, member_user_ids: memberIds }),
    rename: (cid, name) => put(`/conversations/${id(cid)}`, { name }),
    members: (cid) => get(`/conversations/${id(cid)}/members`),
    addMember: (cid, uid) => post(`/conversations/${id(cid)}/members`, { user_id: uid }),
    kick: (cid, uid) => del(`/conversations/${id(cid)}/members/${id(uid)}`),
    leave: (cid) => del(`/conversations/${id(cid)}/leave`),
    hideOrDelete: (cid) => del(`/conversations/${id(cid)}`),
    // A group's picture (admins): multipart like the user's own; {promise, abort} for progress.
    setGroupAvatar: (cid, file, options) => upload('PUT', `/conversations/${id(cid)}/avatar`, file, options),
    removeGroupAvatar: (cid) => del(`/conversations/${id(cid)}/avatar`),
    transferAdmin: (cid, uid) => put(`/conversations/${id(cid)}/transfer-admin`, { new_admin_id: uid }),
    markRead: (cid, seq) => post(`/conversations/${id(cid)}/read`, { seq }),
    markDelivered: (cid, seq) => post(`/conversations/${id(cid)}/delivered`, { seq }),
    receipts: (cid) => get(`/conversations/${id(cid)}/receipts`),

    // messages
    messages: (cid, { before_seq, after_seq, limit = 50 } = {}) =>
      get(`/conversations/${id(cid)}/messages${qs({ before_seq, after_seq, limit })}`),
    sendMessage: (body) => post('/messages', body),
    editMessage: (mid, content) => patch(`/messages/${id(mid)}`, { content }),
    deleteMessage: (mid) => del(`/messages/${id(mid)}`),
    addReaction: (mid, emoji) => put(`/messages/${id(mid)}/reactions/${encodeURIComponent(emoji)}`),
    removeReaction: (mid, emoji) => del(`/messages/${id(mid)}/reactions/${encodeURIComponent(emoji)}`),
    searchMessages: (q, conversationId) => get(`/messages/search${qs({ q, conversation_id: conversationId })}`),

    // notifications
    notifications: (params = {}) => get(`/notifications${qs({ limit: 50, ...params })}`),
    notificationCount: () => get('/notifications/unread-count'),
    readNotification: (nid) => post(`/notifications/${id(nid)}/read`),
    readAllNotifications: () => post('/notifications/read-all'),
    deleteNotification: (nid) => del(`/notifications/${id(nid)}`),
    preferences: () => get('/notifications/preferences'),
    savePreferences: (prefs) => put('/notifications/preferences', prefs),
    // push devices (docs/push.md)
    webPushKey: () => get('/devices/webpush-key'),
    registerDevice: (body) => post('/devices', body),
    devices: () => get('/devices'),
    deleteDevice: (did) => del(`/devices/${id(did)}`),

    presence: (userIds) => get(`/presence${qs({ user_ids: userIds.join(',') })}`),
  };
}
