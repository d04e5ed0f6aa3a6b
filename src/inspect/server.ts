// `parley inspect`: a local web page over the event log (src/inspect/queries.ts
// answers its questions). It opens the database read-only, so it may run
// beside a live server on the same data directory: SQLite's WAL lets it read
// while the server appends, and every request sees the newest commit.
//
// Who may look: the log holds every user's contacts. The page is served on
// loopback by default, and every request must carry the one-time token printed
// in the terminal (as ?token= once, then an HttpOnly cookie), so another local
// user or a web page in the same browser cannot read it. The Host header is
// checked too, against DNS rebinding.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { EventStore } from "../events/store.js";
import { parseLogPoint, type LogPoint } from "../replay/replay.js";
import {
  accountAt, accountAtVersion, contactStory, diffBetween, eventsAfter, stepAt, streams, timeline,
  versionAtPoint, MAX_PAGE, type TimelineQuery,
} from "./queries.js";
import { pairModelGraph } from "../roster/subscription-model.js";
import { INSPECT_CSS, inspectHtml } from "./page.js";

export interface InspectorOptions {
  store: EventStore;
  /** Shown in the page's title bar. */
  databaseFile: string;
  host: string;
  port: number;
  /** The access token; a random one when absent. */
  token?: string;
  /** How often the live view looks for new events (as `parley events --follow`). */
  pollMs?: number;
  /** Live views open at once; more are refused with 503. */
  maxLiveClients?: number;
}

export interface Inspector {
  /** The address to open, token included. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const COOKIE = "parley_inspect";

/** A request's parameter problem: answered 400 with the message. */
class BadRequest extends Error {}

function clientScript(): string {
  // Compiled from src/inspect/web/app.ts by tsconfig.web.json next to this file's output.
  const file = new URL("./web/app.js", import.meta.url);
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`the inspector's page script ${file.pathname} is missing (run 'npm run build'): ${(err as Error).message}`);
  }
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie ?? "";
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === COOKIE) return v.join("=");
  }
  return undefined;
}

function isLoopbackHost(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined) return undefined;
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader) ?? /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return m?.[1];
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  });
  res.end(body);
}

function json(res: ServerResponse, value: unknown): void {
  send(res, 200, "application/json; charset=utf-8", JSON.stringify(value));
}

function param(url: URL, name: string): string | undefined {
  const v = url.searchParams.get(name);
  return v === null || v === "" ? undefined : v;
}

function required(url: URL, name: string): string {
  const v = param(url, name);
  if (v === undefined) throw new BadRequest(`the '${name}' parameter is required`);
  return v;
}

function intParam(url: URL, name: string, fallback?: number): number | undefined {
  const v = param(url, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new BadRequest(`'${name}' must be a whole number, got '${v}'`);
  return Number(v);
}

function pointParam(url: URL, name: string): LogPoint | undefined {
  const v = param(url, name);
  if (v === undefined) return undefined;
  try {
    return parseLogPoint(v);
  } catch (err) {
    throw new BadRequest(`'${name}': ${(err as Error).message}`);
  }
}

function timeParam(url: URL, name: string): string | undefined {
  const v = param(url, name);
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new BadRequest(`'${name}' must be a time such as 2026-11-24T15:00:00Z, got '${v}'`);
  return new Date(t).toISOString();
}

function timelineQuery(url: URL): Omit<TimelineQuery, "cursor" | "order"> {
  const q: Omit<TimelineQuery, "cursor" | "order"> = { limit: intParam(url, "limit", 100) ?? 100 };
  const stream = param(url, "stream");
  if (stream !== undefined) q.stream = stream;
  const types = param(url, "type");
  if (types !== undefined) q.types = types.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
  const from = timeParam(url, "from");
  if (from !== undefined) q.fromTime = from;
  const until = timeParam(url, "until");
  if (until !== undefined) q.untilTime = until;
  return q;
}

function requireAccount(store: EventStore, jid: string): void {
  if (store.streamVersion(`account:${jid}`) === 0) throw new BadRequest(`there are no events for ${jid}`);
}

export async function startInspector(options: InspectorOptions): Promise<Inspector> {
  const { store } = options;
  const token = options.token ?? randomBytes(18).toString("base64url");
  const pollMs = options.pollMs ?? 250;
  const maxLive = options.maxLiveClients ?? 16;
  const script = clientScript();
  const live = new Set<ServerResponse>();
  const loopbackOnly = isLoopbackHost(options.host);

  const api: Record<string, (url: URL) => unknown> = {
    "/api/summary": () => ({ databaseFile: options.databaseFile, lastSeq: store.lastSeq(), maxPage: MAX_PAGE }),
    "/api/streams": (url) => streams(store, param(url, "prefix") ?? "", param(url, "after"), intParam(url, "limit", 100) ?? 100),
    "/api/events": (url) => {
      const q: TimelineQuery = { ...timelineQuery(url) };
      const cursor = intParam(url, "cursor");
      if (cursor !== undefined) q.cursor = cursor;
      if (param(url, "order") === "asc") q.order = "asc";
      return timeline(store, q);
    },
    "/api/account": (url) => {
      const jid = required(url, "jid");
      requireAccount(store, jid);
      const version = intParam(url, "version");
      if (version !== undefined) return accountAtVersion(store, jid, version);
      return accountAt(store, jid, pointParam(url, "at"));
    },
    "/api/version": (url) => {
      const jid = required(url, "jid");
      requireAccount(store, jid);
      const at = pointParam(url, "at");
      if (!at) throw new BadRequest("the 'at' parameter is required: an event number or a time");
      return { version: versionAtPoint(store, jid, at) };
    },
    "/api/step": (url) => {
      const jid = required(url, "jid");
      requireAccount(store, jid);
      return stepAt(store, jid, intParam(url, "version", 0) ?? 0);
    },
    "/api/diff": (url) => {
      const jid = required(url, "jid");
      requireAccount(store, jid);
      const from = pointParam(url, "from");
      const to = pointParam(url, "to");
      if (!from || !to) throw new BadRequest("'from' and 'to' are required: event numbers or times");
      return diffBetween(store, jid, from, to);
    },
    "/api/story": (url) => {
      const jid = required(url, "jid");
      requireAccount(store, jid);
      return contactStory(store, jid, required(url, "contact"));
    },
    "/api/model": () => pairModelGraph(),
  };

  function openLive(url: URL, res: ServerResponse): void {
    if (live.size >= maxLive) { send(res, 503, "text/plain; charset=utf-8", `at most ${maxLive} live views at once`); return; }
    const q = timelineQuery(url);
    let after = intParam(url, "after") ?? store.lastSeq();
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
    res.write(`: following after #${after}\n\n`);
    live.add(res);
    let quiet = 0;
    const timer = setInterval(() => {
      try {
        const last = store.lastSeq();
        if (last > after) {
          // A burst larger than a page is sent a page per tick, so one client cannot hold the loop.
          const batch = eventsAfter(store, after, { ...q, limit: MAX_PAGE });
          const through = batch.length === MAX_PAGE ? (batch[batch.length - 1]?.seq ?? last) : last;
          for (const e of batch) res.write(`id: ${e.seq}\nevent: event\ndata: ${JSON.stringify(e)}\n\n`);
          res.write(`event: position\ndata: ${JSON.stringify({ lastSeq: through })}\n\n`);
          after = through;
          quiet = 0;
        } else if (++quiet * pollMs >= 15_000) {
          res.write(": still here\n\n");
          quiet = 0;
        }
      } catch (err) {
        res.write(`event: failure\ndata: ${JSON.stringify({ error: (err as Error).message })}\n\n`);
      }
    }, pollMs);
    res.on("close", () => { clearInterval(timer); live.delete(res); });
  }

  const server: Server = createServer((req, res) => {
    try {
      const hostname = hostnameOf(req.headers.host);
      if (loopbackOnly && (hostname === undefined || !isLoopbackHost(hostname))) {
        send(res, 421, "text/plain; charset=utf-8", "this inspector answers only to a loopback address");
        return;
      }
      const url = new URL(req.url ?? "/", "http://inspect.invalid");
      if (req.method !== "GET") { send(res, 405, "text/plain; charset=utf-8", "read-only: only GET"); return; }
      const offered = url.searchParams.get("token") ?? undefined;
      if (url.pathname === "/" && offered !== undefined) {
        if (!sameToken(offered, token)) { send(res, 401, "text/plain; charset=utf-8", "wrong token: open the address 'parley inspect' printed"); return; }
        // Trade the token in the address for a cookie, so it leaves the address bar and the history.
        res.writeHead(303, { Location: "/", "Set-Cookie": `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`, "Cache-Control": "no-store" });
        res.end();
        return;
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (!sameToken(cookieToken(req) ?? bearer, token)) {
        send(res, 401, "text/plain; charset=utf-8", "open the address 'parley inspect' printed in its terminal (it carries a one-time token)");
        return;
      }
      if (url.pathname === "/") { send(res, 200, "text/html; charset=utf-8", inspectHtml(options.databaseFile)); return; }
      if (url.pathname === "/app.js") { send(res, 200, "text/javascript; charset=utf-8", script); return; }
      if (url.pathname === "/style.css") { send(res, 200, "text/css; charset=utf-8", INSPECT_CSS); return; }
      if (url.pathname === "/api/live") { openLive(url, res); return; }
      const handler = api[url.pathname];
      if (!handler) { send(res, 404, "application/json; charset=utf-8", JSON.stringify({ error: `no such page: ${url.pathname}` })); return; }
      json(res, handler(url));
    } catch (err) {
      const status = err instanceof BadRequest ? 400 : 500;
      if (!res.headersSent) send(res, status, "application/json; charset=utf-8", JSON.stringify({ error: (err as Error).message }));
      else res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`parley inspect cannot listen on ${options.host}:${options.port}: ${err.message}`)));
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    token,
    async close() {
      for (const res of live) res.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
