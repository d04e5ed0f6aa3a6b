// A token bucket per connection for client stanzas: `rate` tokens a second,
// at most `burst` saved. Past the bucket, reading from the socket pauses until
// the debt is repaid; a client that keeps flooding (a debt of more than
// another burst) gets policy-violation.
export type Charge = { kind: "ok" } | { kind: "throttle"; waitMs: number } | { kind: "flood" };

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly burst: number, now = Date.now()) {
    this.tokens = burst;
    this.last = now;
  }

  charge(now = Date.now()): Charge {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return { kind: "ok" };
    if (this.tokens < -this.burst) return { kind: "flood" };
    return { kind: "throttle", waitMs: Math.ceil((-this.tokens / this.rate) * 1000) };
  }
}

/** What a transport gives the gate: how to pause its reads, and how to refuse a flooder. */
export interface GateHooks<S> {
  pass(stanza: S): void;
  pauseReading(ms: number): void;
  flood(): void;
}

/**
 * Charges each client stanza to a token bucket, the same for TCP, TLS and
 * WebSocket: within the rate it passes, over it the transport stops reading for
 * a while, and past a second burst of debt the flood is refused once and
 * every later stanza dropped.
 */
export function stanzaGate<S>(bucket: TokenBucket, hooks: GateHooks<S>): (stanza: S) => void {
  let flooded = false;
  return (stanza) => {
    if (flooded) return;
    const charge = bucket.charge();
    if (charge.kind === "flood") {
      flooded = true;
      hooks.flood();
      return;
    }
    if (charge.kind === "throttle") hooks.pauseReading(charge.waitMs);
    hooks.pass(stanza);
  };
}

/**
 * Pauses a transport's reads for the throttle. A later charge may owe more:
 * the pause then lasts until the largest debt is repaid.
 */
export class ReadPause {
  private timer: NodeJS.Timeout | undefined;
  private until = 0;

  constructor(private readonly pause: () => void, private readonly resume: () => void) {}

  for(ms: number): void {
    const until = Date.now() + ms;
    if (this.timer) {
      if (until <= this.until) return;
      clearTimeout(this.timer);
    } else {
      this.pause();
    }
    this.until = until;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resume();
    }, ms);
    this.timer.unref();
  }
}

/** Why a transport's reads are paused; they resume when no reason is left. */
export type ReadHoldReason = "throttle" | "backlog";

/**
 * A transport's reads, paused while any reason holds them: the stanza-rate
 * throttle (ReadPause) and a backlog of parsed stanzas waiting for a later
 * turn (stanza-pacer.ts). Neither may resume reads the other still holds.
 */
export class ReadSwitch {
  private readonly reasons = new Set<ReadHoldReason>();

  constructor(private readonly pause: () => void, private readonly resume: () => void) {}

  hold(reason: ReadHoldReason): void {
    if (this.reasons.has(reason)) return;
    if (this.reasons.size === 0) this.pause();
    this.reasons.add(reason);
  }

  release(reason: ReadHoldReason): void {
    if (!this.reasons.delete(reason)) return;
    if (this.reasons.size === 0) this.resume();
  }
}
