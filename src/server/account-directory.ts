// Which accounts exist, in memory, so routing never asks the database.
// It follows the event log: our own appends arrive through the store's
// onAppended hook; appends by other processes (the CLI adding or deleting a
// user while the server runs) are picked up by catchUp(), which runs on a
// timer and whenever a lookup misses.
import type { EventStore, StoredEvent } from "../events/store.js";

const ACCOUNT_PREFIX = "account:";

/** An account-stream event: `foreign` when another process appended it. */
export type AccountChangeListener = (event: StoredEvent, foreign: boolean) => void;

export class AccountDirectory {
  private readonly accounts: Set<string>;
  private lastSeq: number;
  /** Sequence numbers this process appended; the tail skips them. */
  private readonly own = new Set<number>();
  /** PRAGMA data_version when we last read the log; -1: never. */
  private dataVersion = -1;

  constructor(
    private readonly store: EventStore,
    initial: Iterable<string>,
    private readonly onChange: AccountChangeListener,
  ) {
    this.accounts = new Set(initial);
    this.lastSeq = store.lastSeq();
    store.onAppended((events) => {
      for (const e of events) {
        this.own.add(e.seq);
        this.apply(e);
        // A deletion made in this process (XEP-0077 cancel) still ends the account's sessions.
        if (streamAccount(e) !== undefined && e.type === "AccountDeleted") queueMicrotask(() => this.onChange(e, false));
      }
    });
  }

  /** Accounts known (status, metrics). */
  get count(): number {
    return this.accounts.size;
  }

  exists(bareJid: string): boolean {
    if (this.accounts.has(bareJid)) return true;
    this.catchUp();
    return this.accounts.has(bareJid);
  }

  /**
   * Read events appended since we last looked, by anyone. SQLite's
   * data_version changes only when another connection commits: when it has
   * not, everything since is our own and need not be read again (reading and
   * parsing a busy second's events took 4–39 ms of the event loop).
   */
  catchUp(): void {
    const last = this.store.lastSeq(); // before data_version: a commit in between changes the version
    const version = this.store.db.pragma("data_version", { simple: true }) as number;
    if (version === this.dataVersion) {
      this.lastSeq = last;
      this.own.clear();
      return;
    }
    this.dataVersion = version;
    // Collected first: the listeners may use the database while we would still be iterating.
    for (const e of [...this.store.readAll({ afterSeq: this.lastSeq })]) {
      this.lastSeq = e.seq;
      if (this.own.delete(e.seq)) continue;
      this.apply(e);
      if (streamAccount(e) !== undefined) this.onChange(e, true);
    }
  }

  private apply(e: StoredEvent): void {
    const jid = streamAccount(e);
    if (jid === undefined) return;
    if (e.type === "AccountRegistered") this.accounts.add(jid);
    else if (e.type === "AccountDeleted") this.accounts.delete(jid);
  }
}

function streamAccount(e: StoredEvent): string | undefined {
  return e.streamId.startsWith(ACCOUNT_PREFIX) ? e.streamId.slice(ACCOUNT_PREFIX.length) : undefined;
}
