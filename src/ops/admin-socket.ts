// The admin socket: a unix socket in the data directory (parley.sock, mode
// 0600, so only the server's own user can use it) on which `parley status`,
// `parley user list` and `parley check` ask a running server about itself.
// One JSON request per line, one JSON reply per line. It is also how a second
// `parley start` on the same data directory learns that one is running.
import net from "node:net";
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import path from "node:path";

export const ADMIN_SOCKET_NAME = "parley.sock";

/** Unix socket paths are limited to 108 bytes on Linux (sun_path), 104 on the BSDs. */
const MAX_SOCKET_PATH = 104;

/** A request line is small: anything longer is not a client of ours. */
const MAX_REQUEST_BYTES = 4096;

/** How long a CLI waits for a server that accepted the connection to answer. */
const REPLY_TIMEOUT_MS = 5000;

export function adminSocketPath(dataDir: string): string {
  return path.join(dataDir, ADMIN_SOCKET_NAME);
}

export interface AdminRequest {
  command: string;
}

/** What a server answers to a command: a JSON-serialisable value, or an error thrown with a message. */
export type AdminHandler = (request: AdminRequest) => unknown;

export class AdminSocketError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AdminSocketError";
  }
}

export class AdminSocketServer {
  private readonly server: net.Server;
  private listening = false;

  private constructor(readonly file: string, handler: AdminHandler) {
    this.server = net.createServer((socket) => {
      socket.setEncoding("utf8");
      let buffered = "";
      socket.on("error", () => socket.destroy());
      socket.on("data", (chunk: string) => {
        buffered += chunk;
        if (buffered.length > MAX_REQUEST_BYTES) {
          socket.end(JSON.stringify({ error: "request too long" }) + "\n");
          return;
        }
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          socket.write(JSON.stringify(answer(handler, line)) + "\n");
        }
      });
    });
  }

  /**
   * Listens on DATA_DIR/parley.sock. A socket file left by a server that died
   * is removed; one that answers belongs to a running server, and starting a
   * second server on the same data directory is refused. Undefined (with the
   * reason given to `skipped`) when the path is too long for a unix socket.
   */
  static async listen(dataDir: string, handler: AdminHandler, skipped: (reason: string) => void): Promise<AdminSocketServer | undefined> {
    const file = adminSocketPath(dataDir);
    if (Buffer.byteLength(file) >= MAX_SOCKET_PATH) {
      skipped(`the path ${file} is too long for a unix socket (${MAX_SOCKET_PATH} bytes at most): parley status and parley check cannot reach this server`);
      return undefined;
    }
    if (existsSync(file)) {
      const running = await askServer(dataDir, { command: "status" }).catch(() => undefined);
      if (running !== undefined) {
        const pid = (running as { pid?: unknown }).pid;
        throw new AdminSocketError(`a Parley server${typeof pid === "number" ? ` (pid ${pid})` : ""} is already running on the data directory ${dataDir}`);
      }
      unlinkSync(file);
    }
    const s = new AdminSocketServer(file, handler);
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", (err) => reject(new AdminSocketError(`cannot listen on the admin socket ${file}: ${err.message}`, { cause: err })));
      s.server.listen(file, () => resolve());
    });
    chmodSync(file, 0o600);
    s.listening = true;
    return s;
  }

  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    // net.Server removes its unix socket file on close.
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function answer(handler: AdminHandler, line: string): unknown {
  let request: AdminRequest;
  try {
    const parsed = JSON.parse(line) as unknown;
    if (typeof parsed !== "object" || parsed === null || typeof (parsed as { command?: unknown }).command !== "string") {
      return { error: "a request is a JSON object with a 'command' string" };
    }
    request = parsed as AdminRequest;
  } catch {
    return { error: "a request is one line of JSON" };
  }
  try {
    return { ok: handler(request) };
  } catch (err) {
    return { error: `${request.command}: ${(err as Error).message}` };
  }
}

/**
 * Asks the server running on `dataDir`. Undefined when none is (no socket
 * file, or nobody listening on it); an AdminSocketError when one answered
 * with an error or did not answer in time.
 */
export function askServer(dataDir: string, request: AdminRequest): Promise<unknown> {
  const file = adminSocketPath(dataDir);
  if (!existsSync(file)) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(file);
    socket.setEncoding("utf8");
    let buffered = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AdminSocketError(`the server on ${file} did not answer '${request.command}' within ${REPLY_TIMEOUT_MS / 1000} s`));
    }, REPLY_TIMEOUT_MS);
    socket.on("connect", () => socket.write(JSON.stringify(request) + "\n"));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolve(undefined);
      else reject(new AdminSocketError(`cannot reach the server on ${file}: ${err.message}`, { cause: err }));
    });
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      clearTimeout(timer);
      socket.end();
      let reply: { ok?: unknown; error?: unknown };
      try {
        reply = JSON.parse(buffered.slice(0, newline)) as { ok?: unknown; error?: unknown };
      } catch {
        reject(new AdminSocketError(`the server on ${file} answered something that is not JSON`));
        return;
      }
      if (typeof reply.error === "string") reject(new AdminSocketError(reply.error));
      else resolve(reply.ok);
    });
  });
}
