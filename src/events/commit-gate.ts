// Group commit with an output gate. Appends made during one turn of the event
// loop share one SQLite transaction (and so one fsync), committed at the end of
// the turn; every socket write made in that turn is held (corked) until then.
// So no client sees an effect (an IQ result, a roster push, a presence) of an
// event that is not yet on disk, and many clients' commands cost one fsync
// instead of one each.
//
// If the commit itself fails, the in-memory state is ahead of the log and the
// held output must never leave: the process exits, and a restart replays the
// log, which is consistent (nothing of the failed turn was acknowledged).
import type { Database } from "better-sqlite3";

export interface CommitGateHooks {
  fatal(message: string, error: string): void;
}

export class CommitGate {
  private open = false;
  private scheduled = false;
  private readonly releases: (() => void)[] = [];

  constructor(private readonly db: Database, private readonly hooks: CommitGateHooks) {}

  /** Called before an append: opens the turn's transaction if none is open. */
  beginWrite(): void {
    // Inside a caller's own transaction (a batch of registrations), the append is part of it.
    if (!this.open && this.db.inTransaction) return;
    if (!this.open) {
      this.db.exec("BEGIN IMMEDIATE");
      this.open = true;
    }
    this.schedule();
  }

  /** Runs `release` once this turn's writes are durable (at once if there are none pending). */
  hold(release: () => void): void {
    this.releases.push(release);
    this.schedule();
  }

  /** Commits now and releases everything held (end of turn, and shutdown). */
  flush(): void {
    this.scheduled = false;
    if (this.open) {
      this.open = false;
      try {
        this.db.exec("COMMIT");
      } catch (err) {
        this.releases.length = 0;
        this.hooks.fatal("the event log could not be committed; stopping so that a restart replays a consistent log", (err as Error).message);
        return;
      }
    }
    const releases = this.releases.splice(0);
    for (const release of releases) release();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the poll phase has handled every readable socket,
    // so one commit covers all the clients heard from in this turn.
    setImmediate(() => this.flush());
  }
}
