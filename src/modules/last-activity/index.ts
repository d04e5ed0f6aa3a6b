// XEP-0012 Last Activity: the server's uptime, and how long ago a user's last
// resource went offline — for the user and for contacts subscribed to the
// user's presence (§3: anyone else is forbidden).
import type { Database, Statement } from "better-sqlite3";
import { el } from "../../xml/element.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { ParleyModule } from "../../kernel/module-api.js";
import type { AccountIqRequest } from "../../kernel/events.js";

const NS_LAST = "jabber:iq:last";

/**
 * Logout times, written in batches: a write (and its fsync, with
 * synchronous=FULL) per logout would stall routing when many clients leave at
 * once. Pending times are read back before the table; a crash loses at most
 * the last flush interval of them, which only makes "last seen" older.
 */
export class LastActivityStore {
  private readonly upsert: Statement<[string, string, string | null]>;
  private readonly select: Statement<[string], { at: string; status: string | null }>;
  private readonly remove: Statement<[string]>;
  private readonly pending = new Map<string, { at: string; status: string | null }>();
  private timer: NodeJS.Timeout | undefined;

  /** `joinTurn`: called before each write with the account it is about (the commit gate's turn). */
  constructor(private readonly db: Database, private readonly joinTurn: (account?: string) => void, private readonly flushMs = 1000) {
    this.upsert = db.prepare(`INSERT INTO last_activity (account, at, status) VALUES (?, ?, ?)
      ON CONFLICT (account) DO UPDATE SET at = excluded.at, status = excluded.status`);
    this.select = db.prepare("SELECT at, status FROM last_activity WHERE account = ?");
    this.remove = db.prepare("DELETE FROM last_activity WHERE account = ?");
  }

  wentOffline(account: string, at: Date, status: string | undefined): void {
    this.pending.set(account, { at: at.toISOString(), status: status ?? null });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  get(account: string): { at: string; status: string | null } | undefined {
    return this.pending.get(account) ?? this.select.get(account);
  }

  forget(account: string): void {
    this.pending.delete(account);
    this.joinTurn(account);
    this.remove.run(account);
  }

  /** Writes the pending times in one transaction (also called on shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    // One write for all of them: in the turn's transaction, every output of this turn waits for it.
    this.joinTurn();
    this.db.transaction(() => {
      for (const [account, { at, status }] of batch) this.upsert.run(account, at, status);
    })();
  }
}

export const lastActivity: ParleyModule = {
  name: "last",
  load(api) {
    const store = new LastActivityStore(api.db, (account) => api.joinTurn(account));
    const startedAt = api.now();
    api.iq("get", "host", NS_LAST, "query", () =>
      el("query", NS_LAST, { seconds: String(Math.floor((api.now().getTime() - startedAt.getTime()) / 1000)) }));
    const accountLast = (req: AccountIqRequest) => {
      if (!req.mayDiscover) throw new StanzaError({ condition: "forbidden", text: "Last activity is shown to subscribed contacts only" });
      // Someone online has no "last" activity to report.
      if (req.account.availableSessions().length > 0) return el("query", NS_LAST, { seconds: "0" });
      const last = store.get(req.account.bareJid);
      if (!last) throw new StanzaError({ condition: "item-not-found", text: "No recorded activity" });
      const seconds = Math.max(0, Math.floor((api.now().getTime() - Date.parse(last.at)) / 1000));
      return el("query", NS_LAST, { seconds: String(seconds) }, last.status ?? undefined);
    };
    api.iq("get", "self", NS_LAST, "query", accountLast);
    api.iq("get", "bare", NS_LAST, "query", accountLast);
    // XEP-0012: the account's last activity is when its last resource went away.
    api.hook("presence/unavailable", ({ account, stanza }) => {
      if (account.availableSessions().length === 0) store.wentOffline(account.bareJid, api.now(), stanza.getChildText("status"));
    });
    api.hook("account-deleted", ({ jid }) => store.forget(jid.bareString()));
    api.hook("server-stopping", () => store.flush());
    api.addFeature("host", NS_LAST);
    api.addFeature("account", NS_LAST);
  },
};
