// The subject indexer's thread (subject-indexer.ts): a read connection to the
// server's log and the index's own database (subject-index.ts). On each
// request it indexes what the log has committed since its mark, in batches,
// and says how far it got. It never writes the log, so it never waits for,
// or holds up, the server's transactions.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { SubjectIndex } from "./subject-index.js";

export interface SubjectIndexWorkerData {
  /** The log's file. */
  file: string;
  /** Events per transaction of the index. */
  batch: number;
  /** Batches per request at most, so that a long catch-up still answers (and can be closed) now and then. */
  batchesPerRequest: number;
}

export type SubjectIndexReply =
  | { kind: "done"; through: number; indexed: number }
  | { kind: "failed"; error: string };

const port = parentPort;
if (!port) throw new Error("subject-index-worker.ts runs as a worker thread (see subject-indexer.ts)");
const { file, batch, batchesPerRequest } = workerData as SubjectIndexWorkerData;
const log = new Database(file, { fileMustExist: true });
log.pragma("busy_timeout = 5000");
log.pragma("synchronous = FULL"); // it writes nothing (query_only); said all the same, as on every connection
log.pragma("query_only = ON");
const index = SubjectIndex.open(file);

port.on("message", (message: "catch-up" | "close") => {
  if (message === "close") {
    index.close();
    log.close();
    port.close();
    return;
  }
  try {
    let indexed = 0;
    for (let i = 0; i < batchesPerRequest; i++) {
      const n = index.catchUp(log, batch);
      indexed += n;
      if (n < batch) break;
    }
    port.postMessage({ kind: "done", through: index.through, indexed } satisfies SubjectIndexReply);
  } catch (err) {
    port.postMessage({ kind: "failed", error: (err as Error).message } satisfies SubjectIndexReply);
  }
});
