// Checkpoints off the event loop. With SQLite's automatic checkpoint, the
// COMMIT that takes the WAL past 1,000 pages also copies them into the
// database file and fsyncs both, on the event loop: under a steady stream of
// appends that stalled routing for 4–20 ms several times a second. Instead a
// worker thread with its own connection runs a PASSIVE checkpoint every
// `intervalMs` (cheap when there is nothing new: no copy, no fsync), and the
// server's own connection keeps an automatic checkpoint only as a fallback at
// `fallbackPages`: under continuous writes the WAL may never be entirely
// copied at the moment a write begins, and only a checkpoint by the writer
// itself then lets the WAL start over; most of its pages are already copied
// by then, so that one is short.
import { Worker } from "node:worker_threads";
import type { Database } from "better-sqlite3";
import type { CheckpointReply, CheckpointWorkerData } from "./checkpoint-worker.js";

export interface WalCheckpointerOptions {
  /** Milliseconds between the worker's checkpoints. */
  intervalMs?: number;
  /** The writer's own automatic checkpoint, as a fallback (SQLite's default is 1,000). */
  fallbackPages?: number;
  /** A checkpoint that failed, or the worker that ended: logged; SQLite's own checkpoint takes over. */
  problem?(message: string): void;
}

const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** The thread ended on its own: not restarted, SQLite's checkpoint on commit is back. */
  private gaveUp = false;
  private readonly intervalMs: number;
  private readonly fallbackPages: number;

  constructor(private readonly db: Database, private readonly options: WalCheckpointerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 250;
    this.fallbackPages = options.fallbackPages ?? 10_000;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Starts the worker if it is not running (on the gate's first commit). */
  start(): void {
    if (this.worker || this.gaveUp) return;
    const worker = new Worker(new URL("./checkpoint-worker.js", import.meta.url), {
      workerData: { file: this.db.name } satisfies CheckpointWorkerData,
    });
    this.worker = worker;
    this.db.pragma(`wal_autocheckpoint = ${this.fallbackPages}`);
    worker.on("message", (reply: CheckpointReply) => {
      this.busy = false;
      if (reply.kind === "failed") this.options.problem?.(`WAL checkpoint failed: ${reply.error}`);
    });
    const ended = (why: string) => {
      if (this.worker !== worker) return;
      this.options.problem?.(`the WAL checkpoint thread ended (${why}); SQLite checkpoints on commit again`);
      this.stopTimer();
      this.worker = undefined;
      this.busy = false;
      this.gaveUp = true;
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    };
    worker.on("error", (err) => ended(err.message));
    worker.on("exit", (code) => ended(`exit code ${code}`));
    // After the listeners: attaching one refs the worker again. Shutdown stops it; nothing else waits for it.
    worker.unref();
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      worker.postMessage("checkpoint");
    }, this.intervalMs);
    this.timer.unref();
  }

  /**
   * Stops the worker (shutdown) and gives checkpoints back to SQLite; start()
   * again later is fine. Resolves when the thread has closed its connection:
   * the last connection to close may still checkpoint and remove the WAL, so
   * whoever removes or copies the data directory waits for this.
   */
  stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    this.worker = undefined;
    this.stopTimer();
    this.busy = false;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    // Held open until it has gone: an unref'd thread would let the process end first.
    worker.ref();
    worker.postMessage("close");
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    return exited;
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
