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
