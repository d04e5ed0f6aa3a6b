// Failed authentications per remote address, forgotten after a quiet spell,
// so that the SASL failure delay grows across reconnects too.
const FORGET_AFTER_MS = 10 * 60 * 1000;
const MAX_TRACKED = 100_000;

export class AuthFailureTracker {
  private readonly failures = new Map<string, { count: number; last: number }>();

  note(address: string, now = Date.now()): void {
    const entry = this.failures.get(address);
    if (entry && now - entry.last < FORGET_AFTER_MS) {
      entry.count++;
      entry.last = now;
      return;
    }
    // Bounded memory under a flood of addresses: drop the oldest entry.
    if (this.failures.size >= MAX_TRACKED) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.delete(address);
    this.failures.set(address, { count: 1, last: now });
  }

  /** Milliseconds until an entry with at least `threshold` failures is forgotten; 0 below it. */
  lockedFor(key: string, threshold: number, now = Date.now()): number {
    const entry = this.failures.get(key);
    if (!entry || this.count(key, now) < threshold) return 0;
    return Math.max(0, entry.last + FORGET_AFTER_MS - now);
  }

  count(address: string, now = Date.now()): number {
    const entry = this.failures.get(address);
    if (!entry) return 0;
    if (now - entry.last >= FORGET_AFTER_MS) {
      this.failures.delete(address);
      return 0;
    }
    return entry.count;
  }
}
