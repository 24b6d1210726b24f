// The WebSocket session: authenticates with a first `auth` frame, keeps the
// connection alive with pings, reconnects with exponential backoff and full
// jitter, and after every (re)connect sends `resume` with the last seq per
// conversation so nothing sent while we were away is lost. Ordering and
// de-duplication of messages live in the store (by conversation_id and seq).

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30000;

/** Full-jitter backoff: uniform in [base/2, min(max, base * 2^attempt)]. */
export function backoffDelay(attempt, random = Math.random) {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(BACKOFF_BASE_MS / 2 + random() * (cap - BACKOFF_BASE_MS / 2));
}

export function socketUrl(base, loc = globalThis.location) {
  if (base) return `${base.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}

export class ChatSocket {
  /**
   * @param {object} o
   * @param {string} o.url              ws(s)://host/ws
   * @param {() => string|null} o.getToken
   * @param {() => Promise<string|null>} o.refreshToken   resolves to a new token, or null if the session is gone
   * @param {() => Record<string, number>} o.getCursors   last seq per conversation
   * @param {(frame: object) => void} o.onFrame
   * @param {(state: 'connecting'|'online'|'offline', info?: object) => void} o.onStatus
   * @param {() => void} o.onAuthLost
   */
  constructor({ url, getToken, refreshToken, getCursors, onFrame, onStatus = () => {}, onAuthLost = () => {}, WebSocketImpl = globalThis.WebSocket, timers = globalThis }) {
    Object.assign(this, { url, getToken, refreshToken, getCursors, onFrame, onStatus, onAuthLost, WebSocketImpl, timers });
    this.ws = null;
    this.ready = false; // true after the server's `connected` frame
    this.attempt = 0;
    this.stopped = true;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.heartbeatMs = 25000;
  }

  start() {
    this.stopped = false;
    if (!this.ws) this.open();
  }

  stop() {
    this.stopped = true;
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.teardown(1000);
    this.onStatus('offline');
  }

  /** Reconnect now (e.g. the browser came back online) instead of waiting out the backoff. */
  kick() {
    if (this.stopped || this.ws) return;
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.attempt = 0;
    this.open();
  }

  get isReady() {
    return this.ready && this.ws?.readyState === 1;
  }

  /** Sends a frame if the session is live. Returns false when it could not be sent. */
  send(frame) {
    if (!this.isReady) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  resume(cursors = this.getCursors()) {
    return this.send({ type: 'resume', cursors });
  }

  open() {
    const token = this.getToken();
    if (!token) {
      this.onAuthLost();
      return;
    }
    this.onStatus('connecting', { attempt: this.attempt });
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      ws.send(JSON.stringify({ type: 'auth', token: this.getToken() }));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      this.handle(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.timers.clearInterval(this.pingTimer);
      this.onClose(ev.code);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  handle(frame) {
    switch (frame.type) {
      case 'connected': {
        this.ready = true;
        this.attempt = 0;
        const hb = Number(frame.heartbeat_interval);
        // Ping well inside the server's window; never slower than every 25 s.
        this.heartbeatMs = Math.max(5000, Math.min(25000, hb > 0 ? (hb * 1000) / 2 : 25000));
        this.startPing();
        this.onStatus('online');
        this.onFrame(frame);
        this.resume();
        return;
      }
      case 'pong':
        return;
      case 'token_expiring':
        this.reauth();
        return;
      default:
        this.onFrame(frame);
    }
  }

  async reauth() {
    try {
      const token = await this.refreshToken();
      if (token) this.send({ type: 'auth', token });
    } catch { /* network trouble: the server will close with 4001 and we reconnect */ }
  }

  startPing() {
    this.timers.clearInterval(this.pingTimer);
    this.pingTimer = this.timers.setInterval(() => {
      if (!this.ws) return;
      // A socket silent for two heartbeats (and a margin) is dead even if the browser has not noticed.
      if (Date.now() - this.lastFrameAt > this.heartbeatMs * 2 + 10000) {
        this.teardown(4000);
        this.onClose(1006);
        return;
      }
      this.send({ type: 'ping' });
    }, this.heartbeatMs);
  }

  teardown(code) {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    this.timers.clearInterval(this.pingTimer);
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(code); } catch { /* already closed */ }
    }
  }

  async onClose(code) {
    if (this.stopped) return;
    if (code === 4001 || code === 1008) {
      // Token expired or revoked: one refresh, then reconnect; no session left means sign in again.
      try {
        const token = await this.refreshToken();
        if (!token) {
          this.stopped = true;
          this.onStatus('offline');
          this.onAuthLost();
          return;
        }
      } catch { /* offline: plain backoff below */ }
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt = Math.min(this.attempt + 1, 16);
    this.onStatus('offline', { retryInMs: delay });
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
  }
}
