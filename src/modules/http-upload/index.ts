// XEP-0363 HTTP File Upload (urn:xmpp:http:upload:0): a component at
// upload.<domain> for each served domain hands the domain's users slots (a
// PUT URL with its Authorization header, and the GET URL), and Parley's own
// HTTP listener takes the uploads and serves the files (http.ts).
//
// Slots are module storage (upload_slots, migrations/090_http_upload.sql),
// written in the turn's transaction, so a slot is durable before the IQ
// result that announces it leaves; files are <data>/uploads/<id>. Limits:
// the largest file (max_file_bytes, announced per §3 in a XEP-0128 form), a
// per-user quota of bytes held, a total one, slots per user per hour; files
// expire after expire_days, unused slots after slot_seconds.
//
// Hooks: account-deleted (the account's files and slots go), server-stopping
// (the expiry sweep's timer). HTTP: the /upload/ route (httpRoute).
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError, type StanzaErrorSpec } from "../../xmpp/errors.js";
import { tryParseJid, type Jid } from "../../jid/jid.js";
import type { ComponentInfo, ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { UploadConfig } from "../../config.js";
import { loadOrCreateSecret } from "../../server/server-secret.js";
import { UPLOAD_DIR_NAME } from "../../ops/backup.js";
import { SlotStore } from "./slot-store.js";
import { UPLOAD_PATH, mediaType, slotToken, uploadRoute } from "./http.js";

export const NS_UPLOAD = "urn:xmpp:http:upload:0";
const NS_DATA = "jabber:x:data";
const SECRET_NAME = "http-upload-tokens";
/** PUTs in progress write here, beside (not in) the uploads directory. */
const INCOMING_DIR_NAME = "uploads-incoming";
const SWEEP_BATCH = 500;
const HOUR_MS = 3_600_000;
/** The ids this module makes (18 random bytes, base64url); nothing else in the directory is touched. */
const SLOT_ID = /^[A-Za-z0-9_-]{24}$/;

/** The component domains: the template with each served domain. */
export function uploadDomains(config: UploadConfig, domains: readonly string[]): Map<string, string> {
  return new Map(domains.map((d) => [config.domain.replace("{domain}", d).toLowerCase(), d]));
}

/** A file name fit for a URL path segment and a Content-Disposition: no separators, no control characters. */
export function validFilename(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && Buffer.byteLength(name) <= 255 &&
    !/[/\\\u0000-\u001f\u007f]/.test(name);
}

/** `allowed` entries are type/subtype or type/* (lower-case); an empty list allows any. */
export function typeAllowed(allowed: readonly string[], contentType: string): boolean {
  if (allowed.length === 0) return true;
  const t = mediaType(contentType);
  const major = t.split("/")[0];
  return allowed.some((a) => a === t || (a.endsWith("/*") && a.slice(0, -2) === major));
}

const bad = (text: string): StanzaError => new StanzaError({ condition: "bad-request", text });

interface SlotRequest { filename: string; size: number; contentType: string }

/** §4 the request's attributes, with Prosody's words for what is wrong (http_upload.scs). */
function parseRequest(payload: XmlElement, config: UploadConfig): SlotRequest {
  const filename = payload.attrs.filename ?? "";
  if (!validFilename(filename)) throw bad("Invalid filename");
  const sizeText = payload.attrs.size ?? "";
  const size = /^\d{1,16}$/.test(sizeText) ? Number(sizeText) : NaN;
  if (!Number.isSafeInteger(size) || size <= 0) throw bad("File size must be positive integer");
  const contentType = (payload.attrs["content-type"] ?? "application/octet-stream").trim();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;.*)?$/i.test(contentType) || /[\u0000-\u001f\u007f]/.test(contentType)) {
    throw bad("Invalid content type");
  }
  // §5: too large says how large a file may be.
  if (size > config.maxFileBytes) {
    throw new StanzaError({
      condition: "not-acceptable", text: "File too large",
      extra: el("file-too-large", NS_UPLOAD, {}, el("max-file-size", NS_UPLOAD, {}, String(config.maxFileBytes))),
    });
  }
  if (!typeAllowed(config.allowedTypes, contentType)) throw new StanzaError({ condition: "not-acceptable", text: "File type not allowed" });
  return { filename, size, contentType };
}

function quotaError(text: string, retry?: number): StanzaError {
  // §5 Example 6: a quota is resource-constraint (wait), with when to retry if known.
  const spec: StanzaErrorSpec = { condition: "resource-constraint", type: "wait", text };
  if (retry !== undefined) spec.extra = el("retry", NS_UPLOAD, { stamp: new Date(retry).toISOString().replace(/\.\d{3}Z$/, "Z") });
  return new StanzaError(spec);
}

function componentInfo(config: UploadConfig): ComponentInfo {
  return {
    identities: [{ category: "store", type: "file", name: "HTTP File Upload" }],
    features: [NS.discoInfo, NS_UPLOAD],
    // §3: the size limit in a XEP-0128 form, to spare a round trip.
    forms: [el("x", NS_DATA, { type: "result" },
      el("field", NS_DATA, { var: "FORM_TYPE", type: "hidden" }, el("value", NS_DATA, {}, NS_UPLOAD)),
      el("field", NS_DATA, { var: "max-file-size" }, el("value", NS_DATA, {}, String(config.maxFileBytes))))],
  };
}

function discoInfo(info: ComponentInfo): XmlElement {
  return el("query", NS.discoInfo, {},
    ...info.identities.map((i) => el("identity", NS.discoInfo, { category: i.category, type: i.type, name: i.name })),
    ...info.features.map((f) => el("feature", NS.discoInfo, { var: f })),
    ...(info.forms ?? []));
}

function hostForUrl(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}

export const httpUpload: ParleyModule = {
  name: "http_upload",
  load(api: ModuleApi) {
    const config = api.config.upload;
    const slots = new SlotStore(api.db);
    const secret = loadOrCreateSecret(api.db, SECRET_NAME);
    const dir = path.join(api.config.dataDir, UPLOAD_DIR_NAME);
    const incomingDir = path.join(api.config.dataDir, INCOMING_DIR_NAME);
    const inProgress = new Set<string>();
    const now = () => api.now().getTime();
    // The HTTP listener speaks TLS when a certificate is configured (src/net/websocket-listener.ts).
    const scheme = api.config.tls.certFile !== undefined ? "https" : "http";
    const baseUrl = () => config.publicUrl ?? api.config.http.publicUrl ?? `${scheme}://${hostForUrl(api.config.c2s.host)}:${api.httpPort()}`;
    const removeFile = (id: string) => {
      try {
        rmSync(path.join(dir, id), { force: true });
      } catch (err) {
        api.log.warn("removing an uploaded file failed", { id, error: (err as Error).message });
      }
    };

    api.httpRoute(uploadRoute({
      dir, incomingDir, slots, secret, expireDays: config.expireDays, now, inProgress,
      commit: (write, then) => {
        api.joinTurn();
        const written = write();
        api.whenDurable(() => then(written));
      },
      warn: (message, fields) => api.log.warn(message, fields),
    }));

    const requestSlot = (from: Jid, payload: XmlElement): XmlElement => {
      const req = parseRequest(payload, config);
      const owner = from.bareString();
      const t = now();
      const recent = slots.requestedSince(owner, t - HOUR_MS);
      if (recent.count >= config.slotsPerUserPerHour) {
        throw quotaError(`Quota reached: ${config.slotsPerUserPerHour} uploads an hour`, (recent.oldest ?? t) + HOUR_MS);
      }
      if (slots.bytesOf(owner, t) + req.size > config.quotaBytesPerUser) {
        throw quotaError(`Quota reached: your files may take ${config.quotaBytesPerUser} bytes; older ones expire or go with your account`);
      }
      if (config.totalQuotaBytes > 0 && slots.totalBytes(t) + req.size > config.totalQuotaBytes) {
        throw quotaError("The upload service is full");
      }
      const id = randomBytes(18).toString("base64url");
      const slot = { id, owner, filename: req.filename, size: req.size, contentType: req.contentType, createdAt: t, expiresAt: t + config.slotSeconds * 1000 };
      api.joinTurn(); // durable before the result that hands it out
      slots.add(slot);
      const url = `${baseUrl()}${UPLOAD_PATH}${id}/${encodeURIComponent(req.filename)}`;
      // §4 Example 4's order: get, then put with its header.
      return el("slot", NS_UPLOAD, {},
        el("get", NS_UPLOAD, { url }),
        el("put", NS_UPLOAD, { url }, el("header", NS_UPLOAD, { name: "Authorization" }, `Bearer ${slotToken(secret, slot)}`)));
    };

    for (const [domain, served] of uploadDomains(config, api.config.domains)) {
      api.component(domain, {
        name: "HTTP File Upload",
        info: () => componentInfo(config),
        accept(stanza, to) {
          if (stanza.name !== "iq") {
            if (stanza.name === "message" && stanza.attrs.type !== "error") api.bounce(stanza, { condition: "service-unavailable" });
            return;
          }
          const type = stanza.attrs.type;
          if (type !== "get" && type !== "set") return; // results and errors need no answer
          const payload = stanza.firstElement();
          const from = tryParseJid(stanza.attrs.from ?? "");
          const reply = (child: XmlElement) => api.route(el("iq", NS.client, { type: "result", id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from }, child));
          try {
            if (to.local !== "" || to.resource !== "" || !payload || !from) throw new StanzaError({ condition: "service-unavailable" });
            if (type === "get" && payload.is("query", NS.discoInfo) && payload.attrs.node === undefined) return reply(discoInfo(componentInfo(config)));
            if (type === "get" && payload.is("query", NS.discoItems)) return reply(el("query", NS.discoItems, {}));
            if (type === "get" && payload.is("request", NS_UPLOAD)) {
              // The domain's own users only (Prosody's default too): the files are on our disk.
              if (from.local === "" || from.domain !== served || !api.accountExists(from.bareString())) {
                throw new StanzaError({ condition: "forbidden", text: `Only users of ${served} may upload here` });
              }
              return reply(requestSlot(from, payload));
            }
            throw new StanzaError({ condition: "service-unavailable" });
          } catch (err) {
            if (err instanceof StanzaError) return api.bounce(stanza, err.spec);
            api.log.error("answering an upload request failed", { error: (err as Error).message });
            api.bounce(stanza, { condition: "internal-server-error" });
          }
        },
      });
    }

    // The account's files must not outlive it (nor reach whoever registers the name next).
    api.hook("account-deleted", ({ jid }) => {
      for (const id of slots.deleteOwner(jid.bareString())) removeFile(id);
    });

    let timer: NodeJS.Timeout | undefined;
    const sweep = (): void => {
      const t = now();
      const keptSince = config.expireDays > 0 ? t - config.expireDays * 86_400_000 : -1;
      const due = slots.expired(t, keptSince, SWEEP_BATCH).filter((id) => !inProgress.has(id));
      for (const id of due) {
        removeFile(id);
        slots.delete(id);
      }
      if (due.length > 0) api.log.info("expired uploads removed", { removed: due.length });
      timer = setTimeout(sweep, due.length === SWEEP_BATCH ? 0 : Math.min(HOUR_MS, config.slotSeconds * 1000));
      timer.unref();
    };
    api.hook("server-started", () => {
      // What a previous run left half-written cannot be finished; files whose
      // slot is gone (a crash between a deletion's commit and its unlinks) go.
      try {
        rmSync(incomingDir, { recursive: true, force: true });
        const ours = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && SLOT_ID.test(e.name));
        for (const f of ours) if (slots.get(f.name) === undefined) removeFile(f.name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") api.log.warn("tidying the uploads directory failed", { error: (err as Error).message });
      }
      timer = setTimeout(sweep, 0);
      timer.unref();
    });
    api.hook("server-stopping", () => { if (timer) clearTimeout(timer); });
  },
};
