// Keeps the subject index (subject-index.ts) close behind the log, on a
// worker thread: every `intervalMs` it asks the thread to index what has
// been committed since, and asks again at once while there is more. Started
// by the server for a log on disk; tools index in-process instead.
import { Worker } from "node:worker_threads";
import type { SubjectIndexReply, SubjectIndexWorkerData } from "./subject-index-worker.js";
import { CATCH_UP_BATCH } from "./subject-index.js";

export interface SubjectIndexerOptions {
  /** Milliseconds between requests when the index has caught up (100 by default). */
  intervalMs?: number;
  /** Events per transaction of the index (CATCH_UP_BATCH by default). */
  batch?: number;
  /** A failed catch-up, or the thread that ended: logged (readers still answer from the log's tail). */
  problem?(message: string): void;
}

export class SubjectIndexer {
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private through = 0;
  private readonly intervalMs: number;

  constructor(private readonly logFile: string, private readonly options: SubjectIndexerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 100;
  }

  /** How far the thread said the index goes. */
  get indexedThrough(): number {
    return this.through;
  }

  start(): void {
    if (this.worker) return;
    const batch = this.options.batch ?? CATCH_UP_BATCH;
    const worker = new Worker(new URL("./subject-index-worker.js", import.meta.url), {
      workerData: { file: this.logFile, batch, batchesPerRequest: 10 } satisfies SubjectIndexWorkerData,
    });
    this.worker = worker;
    worker.on("message", (reply: SubjectIndexReply) => {
      this.busy = false;
      if (reply.kind === "failed") {
        this.options.problem?.(`indexing the log by contact failed: ${reply.error}`);
        return;
      }
      this.through = reply.through;
      // More to do: ask again now rather than at the next tick.
      if (reply.indexed >= batch && this.worker === worker) this.request();
    });
    const ended = (why: string) => {
      if (this.worker !== worker) return;
      this.options.problem?.(`the subject index thread ended (${why}); replay --explain and --diff read the log's unindexed tail until a restart`);
      this.stopTimer();
      this.worker = undefined;
      this.busy = false;
    };
    worker.on("error", (err) => ended(err.message));
    worker.on("exit", (code) => ended(`exit code ${code}`));
    worker.unref();
    this.timer = setInterval(() => this.request(), this.intervalMs);
    this.timer.unref();
    this.request();
  }

  private request(): void {
    if (this.busy || !this.worker) return;
    this.busy = true;
    this.worker.postMessage("catch-up");
  }

  /** Stops the thread; resolves when it has closed its connections. */
  stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    this.worker = undefined;
    this.stopTimer();
    this.busy = false;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.ref();
    worker.postMessage("close");
    return exited;
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
