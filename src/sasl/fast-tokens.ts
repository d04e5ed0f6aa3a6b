// XEP-0484 FAST tokens: issued to a user agent after a successful SASL2
// login that asked for one (§3.2), bound to the mechanism the client chose
// (HT-SHA-256-NONE, -ENDP, -EXPR), used instead of the password later (§3.3),
// rotated (§3.4: a new token while the old one stays valid until the new one
// is used), invalidated on request (§3.5) and whenever the password changes.
//
// Module storage (migrations/095_fast_tokens.sql), not account events: see
// docs/architecture.md, "FAST tokens are not event-sourced". A password change
// invalidates tokens without a write here: a token issued before the account's
// last credential change (accounts.updated_at, set by AccountRegistered and
// PasswordChanged) is refused, whichever process changed the password.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Database } from "better-sqlite3";

export interface FastTokenLimits {
  /** Lifetime of a token, in seconds. */
  readonly ttlSeconds: number;
  /** A token older than this is rotated at its next use (a new one is sent). */
  readonly rotateAfterSeconds: number;
  /** User agents per account that may hold tokens; the least recently issued goes first. */
  readonly maxUserAgents: number;
}

export interface FastToken {
  readonly token: string;
  readonly mechanism: string;
  readonly slot: "current" | "next";
  readonly issuedAt: string;
  readonly expiresAt: string;
}

interface TokenRow {
  slot: "current" | "next";
  mechanism: string;
  token: string;
  issued_at: string;
  expires_at: string;
}

export class FastTokenStore {
  constructor(private readonly db: Database, readonly limits: FastTokenLimits) {}

  /**
   * The tokens a user agent may log in with for this mechanism now: not
   * expired, issued after the account's last password change. Expired and
   * stale ones are deleted on the way.
   */
  usable(account: string, userAgent: string, mechanism: string, now: Date): FastToken[] {
    const changed = this.db.prepare("SELECT updated_at FROM accounts WHERE jid = ?").get(account) as { updated_at: string } | undefined;
    if (!changed) {
      this.revokeAccount(account);
      return [];
    }
    const rows = this.db.prepare("SELECT slot, mechanism, token, issued_at, expires_at FROM fast_tokens WHERE account = ? AND user_agent = ?")
      .all(account, userAgent) as TokenRow[];
    const out: FastToken[] = [];
    for (const r of rows) {
      const stale = r.issued_at <= changed.updated_at || r.expires_at <= now.toISOString();
      if (stale) {
        this.db.prepare("DELETE FROM fast_tokens WHERE account = ? AND user_agent = ? AND slot = ?").run(account, userAgent, r.slot);
        continue;
      }
      // §3.3: "Servers MUST bind tokens to the mechanism selected by the client in its original request".
      if (r.mechanism === mechanism) out.push({ token: r.token, mechanism: r.mechanism, slot: r.slot, issuedAt: r.issued_at, expiresAt: r.expires_at });
    }
    return out;
  }

  /**
   * A new token for the user agent: `slot` current replaces both (a password
   * login), `next` keeps the current one valid until the new one is used (rotation).
   */
  issue(account: string, userAgent: string, mechanism: string, now: Date, slot: "current" | "next" = "current"): FastToken {
    const token = `secret-token:fast-${randomBytes(24).toString("base64url")}`;
    // Strictly after the password change of this instant: ISO strings compare as times.
    const issuedAt = now.toISOString();
    const expiresAt = new Date(now.getTime() + this.limits.ttlSeconds * 1000).toISOString();
    const write = this.db.transaction(() => {
      if (slot === "current") this.db.prepare("DELETE FROM fast_tokens WHERE account = ? AND user_agent = ?").run(account, userAgent);
      this.db.prepare(`INSERT INTO fast_tokens (account, user_agent, slot, mechanism, token, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (account, user_agent, slot) DO UPDATE SET mechanism = excluded.mechanism, token = excluded.token,
          issued_at = excluded.issued_at, expires_at = excluded.expires_at`)
        .run(account, userAgent, slot, mechanism, token, issuedAt, expiresAt);
      this.evictBeyondLimit(account);
    });
    write();
    return { token, mechanism, slot, issuedAt, expiresAt };
  }

  /** §3.4: the first use of a rotated token retires the one it replaced. */
  promote(account: string, userAgent: string): void {
    const write = this.db.transaction(() => {
      this.db.prepare("DELETE FROM fast_tokens WHERE account = ? AND user_agent = ? AND slot = 'current'").run(account, userAgent);
      this.db.prepare("UPDATE fast_tokens SET slot = 'current' WHERE account = ? AND user_agent = ? AND slot = 'next'").run(account, userAgent);
    });
    write();
  }

  /** §3.5 `invalidate`: the user agent's tokens are gone. */
  revoke(account: string, userAgent: string): void {
    this.db.prepare("DELETE FROM fast_tokens WHERE account = ? AND user_agent = ?").run(account, userAgent);
  }

  revokeAccount(account: string): void {
    this.db.prepare("DELETE FROM fast_tokens WHERE account = ?").run(account);
  }

  /** How many user agents of the account hold tokens. */
  userAgents(account: string): number {
    return (this.db.prepare("SELECT COUNT(DISTINCT user_agent) AS n FROM fast_tokens WHERE account = ?").get(account) as { n: number }).n;
  }

  private evictBeyondLimit(account: string): void {
    const agents = this.db.prepare(`SELECT user_agent, MAX(issued_at) AS last FROM fast_tokens WHERE account = ?
      GROUP BY user_agent ORDER BY last DESC`).all(account) as { user_agent: string }[];
    for (const a of agents.slice(this.limits.maxUserAgents)) this.revoke(account, a.user_agent);
  }
}

/** Constant-time comparison of two MACs. */
export function sameMac(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
