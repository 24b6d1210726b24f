// Resume cursors (a DOM-free part of the store, kept apart so store.js stays small).

/**
 * Per-conversation resume cursor: the highest seq up to which we have seen
 * every message (or know the summary). Out-of-order seqs above a gap are
 * remembered and folded in when the gap fills.
 */
export class Cursors {
  constructor() {
    this.contiguous = new Map();
    this.ahead = new Map();
  }

  /** Sets the cursor to at least `seq` (a server page or summary says everything up to it exists). */
  raise(cid, seq) {
    const cur = this.contiguous.get(cid) ?? 0;
    if (seq > cur) this.contiguous.set(cid, seq);
    this.fold(cid);
  }

  /** Forces the cursor (after a resync). */
  reset(cid, seq) {
    this.contiguous.set(cid, seq);
    this.ahead.delete(cid);
  }

  /** Records a live seq; returns true when it reveals a gap (so the caller should resume). */
  see(cid, seq) {
    const cur = this.contiguous.get(cid);
    if (cur === undefined) {
      // Unknown conversation: nothing to compare with; the caller fetches it.
      this.contiguous.set(cid, seq);
      return false;
    }
    if (seq <= cur) return false;
    if (seq === cur + 1) {
      this.contiguous.set(cid, seq);
      this.fold(cid);
      return false;
    }
    let set = this.ahead.get(cid);
    if (!set) this.ahead.set(cid, (set = new Set()));
    set.add(seq);
    return true;
  }

  fold(cid) {
    const set = this.ahead.get(cid);
    if (!set) return;
    let cur = this.contiguous.get(cid) ?? 0;
    for (const s of [...set]) if (s <= cur) set.delete(s);
    while (set.has(cur + 1)) {
      set.delete(cur + 1);
      cur += 1;
    }
    this.contiguous.set(cid, cur);
    if (!set.size) this.ahead.delete(cid);
  }

  get(cid) {
    return this.contiguous.get(cid) ?? 0;
  }

  forResume() {
    const out = {};
    for (const [cid, seq] of this.contiguous) out[String(cid)] = seq;
    return out;
  }
}
