// The HTTP half of XEP-0363 HTTP File Upload: PUT to a slot's URL with the
// token the slot's <header name='Authorization'/> carried (§4), the exact
// size and content type the slot was requested for (§6: the server checks
// them); GET and HEAD of an uploaded file with its content type, a
// Content-Disposition (attachment, except images, which clients show inline),
// caching headers (a file never changes), and CORS so that web clients on
// another origin can upload and fetch (§7 Implementation Notes).
import type http from "node:http";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { HttpRoute } from "../../net/websocket-listener.js";
import type { Slot, SlotStore } from "./slot-store.js";
import type { LogFields } from "../../util/logger.js";

export const UPLOAD_PATH = "/upload/";

/** The token of a slot: an HMAC of what the PUT must match, so a slot's URL alone does not allow an upload. */
export function slotToken(secret: Buffer, slot: Pick<Slot, "id" | "size" | "contentType" | "expiresAt">): string {
  return createHmac("sha256", secret).update(`${slot.id}\n${slot.size}\n${slot.contentType}\n${slot.expiresAt}`).digest("base64url");
}

function tokenMatches(header: string | undefined, expected: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1] as string);
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

const CORS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, PUT, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type",
  "access-control-max-age": "86400",
};

function answer(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...CORS, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(`${text}\n`);
}

/** The media type without parameters, lower-case. */
export function mediaType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

export interface UploadFiles {
  /** Where uploaded files are (<data>/uploads). */
  readonly dir: string;
  /** Where PUTs in progress write (outside `dir`, so a backup never sees half a file). */
  readonly incomingDir: string;
  readonly slots: SlotStore;
  readonly secret: Buffer;
  /** Days a file is kept (caching headers say no longer); 0: no expiry. */
  readonly expireDays: number;
  now(): number;
  /** The upload's row is written in a turn's transaction, then this runs once it is durable. */
  commit(write: () => boolean, then: (written: boolean) => void): void;
  /** Ids of PUTs under way (the expiry sweep leaves them alone). */
  readonly inProgress: Set<string>;
  warn(message: string, fields: LogFields): void;
}

export function uploadRoute(files: UploadFiles): HttpRoute {
  return (req, res, pathname) => {
    if (!pathname.startsWith(UPLOAD_PATH)) return false;
    const m = /^\/upload\/([A-Za-z0-9_-]{16,64})\/([^/]+)$/.exec(pathname);
    let filename: string | undefined;
    try {
      filename = m ? decodeURIComponent(m[2] as string) : undefined;
    } catch {
      filename = undefined;
    }
    const id = m?.[1];
    if (id === undefined || filename === undefined) {
      answer(res, 404, "No such upload");
      return true;
    }
    switch (req.method) {
      case "OPTIONS":
        res.writeHead(204, CORS);
        res.end();
        return true;
      case "PUT":
        void put(files, req, res, id, filename);
        return true;
      case "GET":
      case "HEAD":
        void get(files, req, res, id, filename);
        return true;
      default:
        answer(res, 405, "Only GET, HEAD, PUT and OPTIONS are allowed here", { allow: "GET, HEAD, PUT, OPTIONS" });
        return true;
    }
  };
}

async function put(files: UploadFiles, req: http.IncomingMessage, res: http.ServerResponse, id: string, filename: string): Promise<void> {
  const slot = files.slots.get(id);
  if (!slot || slot.filename !== filename) return answer(res, 404, "No such slot");
  if (!tokenMatches(req.headers.authorization, slotToken(files.secret, slot))) {
    return answer(res, 403, "The Authorization header the slot gave is required");
  }
  if (slot.uploadedAt !== undefined || files.inProgress.has(id)) return answer(res, 409, "This slot has been used");
  if (files.now() >= slot.expiresAt) return answer(res, 410, "This slot has expired; request a new one");
  const length = req.headers["content-length"];
  if (length === undefined) return answer(res, 411, "Content-Length is required");
  if (!/^\d+$/.test(length) || Number(length) !== slot.size) {
    return answer(res, Number(length) > slot.size ? 413 : 400, `The slot is for exactly ${slot.size} bytes`);
  }
  const type = req.headers["content-type"];
  if (type !== undefined ? mediaType(type) !== mediaType(slot.contentType) : mediaType(slot.contentType) !== "application/octet-stream") {
    return answer(res, 400, `The slot is for content type ${slot.contentType}`);
  }
  files.inProgress.add(id);
  const partial = path.join(files.incomingDir, id);
  let received = 0;
  try {
    await mkdir(files.incomingDir, { recursive: true, mode: 0o700 });
    await mkdir(files.dir, { recursive: true, mode: 0o700 });
    const fh = await open(partial, "w", 0o600);
    try {
      // Streamed to disk: at most one chunk in memory, never more than the slot's size written.
      for await (const chunk of req) {
        received += (chunk as Buffer).length;
        if (received > slot.size) break;
        await fh.write(chunk as Buffer);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (received !== slot.size) {
      await rm(partial, { force: true });
      files.inProgress.delete(id);
      return answer(res, received > slot.size ? 413 : 400, `The slot is for exactly ${slot.size} bytes, ${received > slot.size ? "more" : received} came`);
    }
    const final = path.join(files.dir, id);
    await rename(partial, final);
    const dir = await open(files.dir, "r");
    try {
      await dir.sync(); // the rename is durable before the slot says uploaded
    } finally {
      await dir.close();
    }
    files.commit(() => files.slots.markUploaded(id, files.now()), (written) => {
      files.inProgress.delete(id);
      if (!written) {
        // The account went while the body came: its file must not stay.
        void rm(final, { force: true });
        return answer(res, 410, "This slot is gone");
      }
      // §6: 201 Created once the file is stored.
      res.writeHead(201, { ...CORS, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end("Created\n");
    });
  } catch (err) {
    files.inProgress.delete(id);
    await rm(partial, { force: true });
    files.warn("an upload failed", { id, error: (err as Error).message });
    answer(res, 500, "Storing the file failed");
  }
}

/** Images are shown where they are linked; anything else is a download (no script of an upload runs in our origin). */
function isInline(type: string): boolean {
  const t = mediaType(type);
  return t.startsWith("image/") && t !== "image/svg+xml";
}

async function get(files: UploadFiles, req: http.IncomingMessage, res: http.ServerResponse, id: string, filename: string): Promise<void> {
  const slot = files.slots.get(id);
  if (!slot || slot.filename !== filename || slot.uploadedAt === undefined) return answer(res, 404, "No such file");
  const file = path.join(files.dir, id);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return answer(res, 404, "No such file");
  }
  const etag = `"${id}"`;
  const maxAge = files.expireDays > 0
    ? Math.max(0, Math.floor((slot.uploadedAt + files.expireDays * 86_400_000 - files.now()) / 1000))
    : 365 * 86_400;
  const headers: Record<string, string> = {
    ...CORS,
    "content-type": slot.contentType,
    "content-length": String(size),
    "content-disposition": `${isInline(slot.contentType) ? "inline" : "attachment"}; filename*=UTF-8''${encodeURIComponent(filename)}`,
    // The file at a URL never changes: cache it as long as it is kept.
    "cache-control": `public, max-age=${maxAge}, immutable`,
    etag,
    "last-modified": new Date(slot.uploadedAt).toUTCString(),
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
  };
  if (req.headers["if-none-match"] === etag) {
    const { "content-length": _omitted, ...rest } = headers;
    res.writeHead(304, rest);
    res.end();
    return;
  }
  res.writeHead(200, headers);
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on("error", (err) => {
    files.warn("reading an uploaded file failed", { id, error: err.message });
    res.destroy();
  });
  stream.pipe(res);
}
