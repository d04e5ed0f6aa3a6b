// The WAL checkpointer's thread (wal-checkpointer.ts): its own connection to
// the server's database, which copies committed WAL frames into the database
// file on request, so that neither the copying nor its two fsyncs run on the
// event loop. PASSIVE (https://sqlite.org/c3ref/wal_checkpoint_v2.html): it
// never waits for, or blocks, the server's writer or readers.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

export interface CheckpointWorkerData {
  file: string;
}

export type CheckpointReply =
  | { kind: "done"; busy: number; walFrames: number; checkpointed: number }
  | { kind: "failed"; error: string };

const port = parentPort;
if (!port) throw new Error("checkpoint-worker.ts runs as a worker thread (see wal-checkpointer.ts)");
const { file } = workerData as CheckpointWorkerData;
const db = new Database(file, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
// Checkpoints sync the WAL and the database file under FULL and NORMAL alike; said explicitly all the same.
db.pragma("synchronous = FULL");
db.pragma("wal_autocheckpoint = 0");

port.on("message", (message: "checkpoint" | "close") => {
  if (message === "close") {
    db.close();
    port.close();
    return;
  }
  try {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)") as { busy: number; log: number; checkpointed: number }[];
    port.postMessage({ kind: "done", busy: row?.busy ?? 0, walFrames: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 } satisfies CheckpointReply);
  } catch (err) {
    port.postMessage({ kind: "failed", error: (err as Error).message } satisfies CheckpointReply);
  }
});
