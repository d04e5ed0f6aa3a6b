// Group commit with an output gate. Appends made during one turn of the event
// loop share one SQLite transaction, committed at the end of the turn; every
// socket write made in that turn is held until the turn's commit is on disk.
// So no client sees an effect (an IQ result, a roster push, a presence) of an
// event that is not yet durable, and many clients' commands share one commit.
//
// The fsync is off the event loop. The turn's COMMIT runs with
// synchronous=NORMAL, which in WAL mode writes the transaction's frames and
// its commit frame into the -wal file without syncing it; the gate then calls
// fdatasync on the -wal file on libuv's thread pool and releases the turn's
// output when that returns. Meanwhile the loop keeps routing and committing
// later turns. Up to two fdatasyncs are in flight (concurrentSyncs): a commit
// made while one runs starts its own beside it instead of waiting for it to
// end, so a turn waits for about one fdatasync, not the rest of one and then
// its own; each covers every commit written before it began, and whichever
// returns, output is released up to the newest commit it covers. Output leaves in turn order: a turn's output
// (even one that appended nothing: it may reveal state the earlier turns made)
// waits for every earlier commit to be durable.
//
// Why this is the guarantee synchronous=FULL gives (FULL = fsync the WAL in
// every COMMIT, on the loop):
// - Nothing is acknowledged before it is on disk: output is released only after
//   an fdatasync of the -wal file that started after the turn's COMMIT had
//   written its frames (write(2) returned), and fdatasync flushes every dirty
//   page of the file, whichever descriptor wrote it.
// - A crash leaves a consistent log: the WAL is append-only with cumulative
//   checksums (https://sqlite.org/fileformat2.html#walformat), so recovery keeps
//   the longest valid prefix of whole transactions; an unsynced tail is dropped
//   whole. Checkpoints sync the WAL before copying it into the database under
//   NORMAL as under FULL (https://sqlite.org/pragma.html#pragma_synchronous:
//   "WAL mode is always consistent with synchronous=NORMAL").
// - The WAL restarting after a checkpoint: SQLite writes the new header (new
//   salts, so old frames are invalid) and syncs it before the first new frame
//   unless synchronous=OFF (wal.c, syncHeader), and it reuses the same file: our
//   descriptor stays valid. The file is deleted only when the last connection
//   closes, and the server's connection is open for as long as the gate is
//   used (it holds a shared lock on the database, so a CLI process closing its
//   own connection cannot delete it).
// - Everything else on this connection stays FULL: the gate switches to NORMAL
//   only for its own transaction (PRAGMA synchronous cannot change inside one),
//   so a write outside the gate (a batch of registrations, last-activity
//   times, the CLI's connections, which never use a gate) commits with its
//   own fsync as before.
// - A failed COMMIT or fdatasync is fatal: the in-memory state is ahead of the
//   log, the held output must never leave, so the process exits and a restart
//   replays the log, in which nothing unacknowledged matters. (After a failed
//   fsync the page cache cannot be trusted to reach the disk later.)
// - Shutdown (flush()) commits and fdatasyncs synchronously, then releases
//   everything held.
// A database that is not a WAL file (":memory:", a rollback journal) is
// committed with its own setting and released at once.
//
// Output that depends on nothing waiting to be durable need not wait at all.
// While the kernel handles one stanza from a client it names the streams whose
// state the handling reads (OutputCauses: the sender's account, the recipient
// accounts the router hands it to, any stream appended to meanwhile); output
// written then is *free* when none of those streams has a write in the open
// turn or in a commit not yet durable, no write without a stream (a module's
// table: the archive, offline storage) is pending, and nothing else was
// touched (a component, the host, a remote server: those mark the output as
// depending on everything). Free output is written at once (net/connection.ts,
// behind whatever that connection already has held, so a stream keeps its
// order). So a chat message between two users whose accounts nobody is
// changing does not wait for the fdatasync of other users' roster changes;
// it reveals nothing that a crash could take back. When nothing at all is
// waiting to be durable (no open turn, every commit synced), all output is
// free, a handling or not. Otherwise output written outside a handling
// (timers, session negotiation, s2s, modules' own sends) is not free: it
// waits as above.
import fs from "node:fs";
import type { Database } from "better-sqlite3";
import { WalCheckpointer, type WalCheckpointerOptions } from "./wal-checkpointer.js";

export interface CommitGateHooks {
  fatal(message: string, error: string): void;
  /** Something went wrong that does not endanger the log (the checkpoint thread). */
  warn?(message: string): void;
}

export interface CommitGateOptions {
  /** How the -wal file is synced (tests inject failures and delays); fs.fdatasync by default. */
  fdatasync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  /** fdatasyncs of the WAL allowed in flight at once (2 by default; 1: each waits for the one before). */
  concurrentSyncs?: number;
  /** Checkpoints on a worker thread (wal-checkpointer.ts), or false for SQLite's own on commit. */
  checkpoint?: WalCheckpointerOptions | false;
}

/** What the gate measures, in seconds, for the metrics (src/metrics/metrics.ts). */
export interface CommitGateMetrics {
  /** A turn ended: from its first write or held output to its end; `committed` when it had appends. */
  turn(seconds: number, committed: boolean): void;
  /** The turn's COMMIT statement. */
  commit(seconds: number): void;
  /** One fdatasync of the -wal file, on the thread pool. */
  fsync(seconds: number): void;
  /** Output held from the end of its turn until it was durable and released. */
  outputWait(seconds: number): void;
}

/**
 * What the output being produced depends on, as the kernel says while it
 * handles one stanza (see the top of this file). Nested scopes add to the outer one.
 */
export interface OutputCauses {
  /** Runs `fn` with the output it produces depending on `stream`'s state (and on whatever it touches). */
  within<T>(stream: string, fn: () => T): T;
  /** The output being produced also depends on this stream's state. */
  touch(stream: string): void;
  /** The output being produced may depend on anything: it waits for every earlier commit. */
  touchAll(): void;
}

/** Where there is no gate (every append commits and syncs itself). */
export const NO_OUTPUT_CAUSES: OutputCauses = { within: (_stream, fn) => fn(), touch() {}, touchAll() {} };

interface Scope {
  readonly streams: Set<string>;
  all: boolean;
  /** The last answer of `free`, until the scope or the gate's writes change. */
  free: boolean | undefined;
}

interface Waiting {
  /** Released once this many commits are durable. */
  upTo: number;
  releases: (() => void)[];
  /** performance.now() at the end of its turn. */
  since: number;
}

export class CommitGate implements OutputCauses {
  private open = false;
  private scheduled = false;
  private failed = false;
  /** Output held in the current turn. */
  private held: (() => void)[] = [];
  /** Output of earlier turns waiting for their commits' fdatasync, in turn order. */
  private readonly waiting: Waiting[] = [];
  private committed = 0;
  private durable = 0;
  /** fdatasyncs in flight, and the highest commit the newest of them covers. */
  private syncing = 0;
  private syncedUpTo = 0;
  private readonly maxSyncs: number;
  private walFd: number | undefined;
  private closeFdAfterSync = false;
  private readonly walFile: string | undefined;
  private readonly wal: boolean;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly fdatasync: NonNullable<CommitGateOptions["fdatasync"]>;
  private turns = 0;
  /** performance.now() when the current turn's first write or hold came. */
  private turnStarted = 0;
  private metrics: CommitGateMetrics | undefined;
  /** The handling in progress and what its output depends on; undefined outside one. */
  private scope: Scope | undefined;
  /** Streams appended to in the open turn, and whether anything without a stream was written in it. */
  private readonly turnStreams = new Set<string>();
  private turnUnnamed = false;
  /** Each stream's newest commit, while it is not yet durable; the newest commit with unnamed writes. */
  private readonly streamCommit = new Map<string, number>();
  private unnamedCommit = 0;

  constructor(private readonly db: Database, private readonly hooks: CommitGateHooks, options: CommitGateOptions = {}) {
    this.fdatasync = options.fdatasync ?? fs.fdatasync;
    this.maxSyncs = options.concurrentSyncs ?? 2;
    const wal = !db.memory && !db.readonly && String(db.pragma("journal_mode", { simple: true })).toLowerCase() === "wal";
    this.wal = wal;
    if (wal) this.walFile = `${db.name}-wal`;
    if (wal && options.checkpoint !== false) {
      this.checkpointer = new WalCheckpointer(db, { problem: (m) => hooks.warn?.(m), ...options.checkpoint });
    }
  }

  /** From now on the gate reports its timings (the server's metrics). */
  measureWith(metrics: CommitGateMetrics): void {
    this.metrics = metrics;
  }

  /** Whether the turn's transaction is open: a write now joins it, and only a fatal failure undoes it. */
  get inTurn(): boolean {
    return this.open;
  }

  /** Increases at every end of turn: transports start a new batch of held output when it changes. */
  get turn(): number {
    return this.turns;
  }

  within<T>(stream: string, fn: () => T): T {
    if (this.scope) {
      this.touch(stream);
      return fn();
    }
    this.scope = { streams: new Set([stream]), all: false, free: undefined };
    try {
      return fn();
    } finally {
      this.scope = undefined;
    }
  }

  touch(stream: string): void {
    const scope = this.scope;
    if (!scope || scope.streams.has(stream)) return;
    scope.streams.add(stream);
    scope.free = undefined;
  }

  touchAll(): void {
    if (this.scope) this.scope.all = true;
  }

  /**
   * Whether output written now depends on nothing waiting to be durable: it
   * may be written at once instead of being held (see the top of this file).
   */
  get free(): boolean {
    if (this.failed) return false;
    // Nothing written that is not yet durable, anywhere: whatever output shows is on disk.
    if (!this.open && this.durable >= this.committed && !this.db.inTransaction) return true;
    const scope = this.scope;
    if (!scope || scope.all) return false;
    if (scope.free !== undefined) return scope.free;
    let free = !this.turnUnnamed && this.unnamedCommit <= this.durable;
    if (free) {
      for (const s of scope.streams) {
        if (this.turnStreams.has(s) || (this.streamCommit.get(s) ?? 0) > this.durable) {
          free = false;
          break;
        }
      }
    }
    scope.free = free;
    return free;
  }

  /**
   * Called before a write: opens the turn's transaction if none is open.
   * `stream`: the event stream appended to; none for a module's own tables.
   */
  beginWrite(stream?: string): void {
    // The handling's output depends on its own write; an unnamed one makes nothing free (turnUnnamed).
    if (stream !== undefined) this.touch(stream);
    if (this.scope) this.scope.free = undefined;
    // Inside a caller's own transaction (a batch of registrations), the append is
    // part of it; output cannot tell when that commits, so it depends on everything.
    if (!this.open && this.db.inTransaction) {
      this.touchAll();
      return;
    }
    if (stream === undefined) this.turnUnnamed = true;
    else this.turnStreams.add(stream);
    if (!this.open) {
      // exec, not a prepared statement: SQLite applies this pragma when it is compiled.
      if (this.wal) this.db.exec("PRAGMA synchronous = NORMAL");
      try {
        this.db.exec("BEGIN IMMEDIATE");
      } catch (err) {
        if (this.wal) this.db.exec("PRAGMA synchronous = FULL");
        throw err;
      }
      this.open = true;
    }
    this.schedule();
  }

  /** The checkpoint threads flush() stopped, until they have closed their connections. */
  private threadsStopping: Promise<void>[] = [];

  /** Resolves once every thread a flush() stopped has closed its connection to the database. */
  async threadsStopped(): Promise<void> {
    const waiting = this.threadsStopping;
    this.threadsStopping = [];
    await Promise.all(waiting);
  }

  /** Runs `release` once this turn's writes, and every earlier turn's, are durable. */
  hold(release: () => void): void {
    this.held.push(release);
    this.schedule();
  }

  /**
   * Shutdown: commits the open turn, syncs the WAL on this thread and releases
   * everything held; stops the checkpoint thread. The gate stays usable (the
   * WAL descriptor and the thread come back on the next commit).
   */
  flush(): void {
    const stopping = this.checkpointer?.stop();
    if (stopping) this.threadsStopping.push(stopping);
    this.endTurn(false);
    if (this.failed || this.durable >= this.committed) {
      this.closeWal();
      return;
    }
    try {
      fs.fdatasyncSync(this.walDescriptor());
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.durable = this.committed;
    this.syncedUpTo = this.committed;
    this.releaseDurable();
    this.closeWal();
  }

  private endTurn(syncNow = true): void {
    this.scheduled = false;
    this.turns++;
    if (this.failed) return;
    const ended = performance.now();
    const committing = this.open;
    if (this.open) {
      this.open = false;
      try {
        this.db.exec("COMMIT");
        this.metrics?.commit((performance.now() - ended) / 1000);
      } catch (err) {
        this.fail(err as Error, "the event log could not be committed; stopping so that a restart replays a consistent log");
        return;
      }
      this.committed++;
      for (const s of this.turnStreams) this.streamCommit.set(s, this.committed);
      if (this.turnUnnamed) this.unnamedCommit = this.committed;
      this.checkpointer?.start();
      if (this.wal) this.db.exec("PRAGMA synchronous = FULL");
      else this.durable = this.committed; // not WAL: the COMMIT synced (or there is no disk)
    }
    this.turnStreams.clear();
    this.turnUnnamed = false;
    if (this.durable >= this.committed) this.streamCommit.clear();
    this.metrics?.turn((ended - this.turnStarted) / 1000, committing);
    const releases = this.held;
    this.held = [];
    if (releases.length > 0) {
      if (this.waiting.length === 0 && this.durable >= this.committed) {
        this.metrics?.outputWait(0);
        for (const release of releases) release();
      } else {
        this.waiting.push({ upTo: this.committed, releases, since: ended });
      }
    }
    if (syncNow) this.startSync();
  }

  private startSync(): void {
    // A sync already in flight started before the newest commit wrote its
    // frames, so it may not cover them: another starts beside it (up to
    // maxSyncs), rather than after it, so that a commit waits for about one
    // fdatasync, not for the rest of the one in flight and then its own.
    if (this.syncing >= this.maxSyncs || this.failed || Math.max(this.syncedUpTo, this.durable) >= this.committed) return;
    let fd: number;
    try {
      fd = this.walDescriptor();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    const upTo = this.committed;
    this.syncing++;
    this.syncedUpTo = upTo;
    const started = performance.now();
    this.fdatasync(fd, (err) => {
      this.syncing--;
      if (!err) this.metrics?.fsync((performance.now() - started) / 1000);
      if (this.closeFdAfterSync && this.syncing === 0) this.closeWal();
      if (this.failed) return;
      if (err) {
        this.fail(err);
        return;
      }
      // A shutdown flush may have synced further meanwhile.
      this.durable = Math.max(this.durable, upTo);
      this.releaseDurable();
      this.startSync();
    });
  }

  private releaseDurable(): void {
    for (const [s, commit] of this.streamCommit) if (commit <= this.durable) this.streamCommit.delete(s);
    while (this.waiting.length > 0 && (this.waiting[0] as Waiting).upTo <= this.durable) {
      const { releases, since } = this.waiting.shift() as Waiting;
      this.metrics?.outputWait((performance.now() - since) / 1000);
      for (const release of releases) release();
    }
  }

  /**
   * The -wal file, opened once and kept: a write-back error is reported to the
   * descriptors open when it happened, not to one opened afterwards. Called only
   * after a commit in WAL mode, so the file exists.
   */
  private walDescriptor(): number {
    if (!this.walFile) throw new Error("no -wal file: the database is not in WAL mode");
    this.closeFdAfterSync = false;
    this.walFd ??= fs.openSync(this.walFile, "r");
    return this.walFd;
  }

  private closeWal(): void {
    if (this.walFd === undefined) return;
    if (this.syncing > 0) {
      this.closeFdAfterSync = true;
      return;
    }
    fs.closeSync(this.walFd);
    this.walFd = undefined;
    this.closeFdAfterSync = false;
  }

  private fail(err: Error, message = "the event log could not be made durable (fdatasync of the WAL failed); stopping so that a restart replays a consistent log"): void {
    this.failed = true;
    this.held = [];
    this.waiting.length = 0;
    this.hooks.fatal(message, `${this.walFile ?? this.db.name}: ${err.message}`);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.turnStarted = performance.now();
    // setImmediate runs after the poll phase has handled every readable socket,
    // so one commit covers all the clients heard from in this turn.
    setImmediate(() => this.endTurn());
  }
}
