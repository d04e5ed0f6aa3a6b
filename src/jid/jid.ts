// XMPP addresses (JIDs): RFC 7622 §3 (format, §3.1 splitting, §3.2 domainpart,
// §3.3 localpart, §3.4 resourcepart) and §3.5 (examples, used by the unit tests).
//
// What of PRECIS (RFC 8264/8265/8266) is done, and what is not:
//
// - localpart (UsernameCaseMapped, RFC 8265 §3.3, as RFC 7622 §3.3 requires):
//   done: width mapping of the Halfwidth and Fullwidth Forms block (U+FF01..U+FFEE)
//   to its compatibility decomposition; case mapping with String#toLowerCase();
//   NFC; rejection of the characters RFC 7622 §3.3.1 excludes (" & ' / : < > @);
//   an approximation of the IdentifierClass (RFC 8264 §4.2, §9) built from Unicode
//   properties: printable ASCII, or a letter/digit/mark (Ll Lu Lo Nd Lm Mn Mc) that
//   has no compatibility decomposition, is not an old Hangul conjoining jamo and is
//   not one of the RFC 5892 §2.6 DISALLOWED exceptions; the RFC 5892 §2.6 PVALID
//   exceptions are accepted. So controls, spaces, symbols (♚), letter-numbers (Ⅳ),
//   non-ASCII punctuation, unassigned code points and format characters are refused.
//   Not done: the contextual rules (CONTEXTJ/CONTEXTO, RFC 5892 Appendix A): ZWJ,
//   ZWNJ, U+00B7 and the like are simply refused; the Bidi rule (RFC 5893); the
//   PRECIS derived-property tables of a fixed Unicode version (we follow whatever
//   Unicode version the running V8 has).
// - domainpart (RFC 7622 §3.2): done: one trailing dot stripped; ideographic full
//   stops mapped to "."; case mapping with toLowerCase() then NFC (approximating the
//   IDNA2008 mappings of RFC 5895); empty labels, controls, whitespace and ASCII
//   other than letters, digits, "-", "_" and "." refused; IP literals ("[::1]")
//   checked as IPv6 addresses. Not done: IDNA2008 A-label/U-label conversion and
//   validation (RFC 5891), LDH hyphen rules, the 63-octet label limit.
// - resourcepart (OpaqueString, RFC 8265 §4.2, as RFC 7622 §3.4 requires): done:
//   non-ASCII spaces mapped to U+0020; NFC; controls and lone surrogates refused.
//   Not done: the rest of the FreeformClass rules (unassigned, default-ignorable and
//   private-use code points are let through), because resources are opaque device
//   names and refusing a newer emoji would only break clients.
//
// Lengths (1..1023 octets of UTF-8 per part) are checked on the prepared form.
import { isIPv6 } from "node:net";

/** Octet limit of each part of a JID (RFC 7622 §3.2, §3.3, §3.4). */
export const MAX_PART_OCTETS = 1023;

/** A JID that could not be parsed or prepared. `reason` names the problem, `input` the offending text. */
export class JidError extends Error {
  constructor(readonly input: string, readonly reason: string) {
    super(`invalid JID '${input.length > 80 ? `${input.slice(0, 80)}…` : input}': ${reason}`);
    this.name = "JidError";
  }
}

/** An immutable, prepared JID. Absent parts are empty strings. */
export class Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  #full: string | undefined;
  #bareString: string | undefined;
  #bare: Jid | undefined;

  /**
   * Prepares and validates each part; `local` and `resource` are "" when absent.
   * Throws JidError. Prefer `parseJid` or `jid`.
   */
  constructor(local: string, domain: string, resource = "") {
    const input = compose(local, domain, resource);
    this.local = local === "" ? "" : prepareLocalpart(local, input);
    this.domain = prepareDomainpart(domain, input);
    this.resource = resource === "" ? "" : prepareResourcepart(resource, input);
  }

  /** The JID without its resource (this JID itself when it is already bare). */
  bare(): Jid {
    if (this.resource === "") return this;
    this.#bare ??= new Jid(this.local, this.domain);
    return this.#bare;
  }

  isBare(): boolean {
    return this.resource === "";
  }

  /** `local@domain` or `domain`. */
  bareString(): string {
    this.#bareString ??= compose(this.local, this.domain, "");
    return this.#bareString;
  }

  /** `local@domain/resource` with absent parts left out. */
  toString(): string {
    this.#full ??= compose(this.local, this.domain, this.resource);
    return this.#full;
  }

  equals(other: Jid): boolean {
    return this.local === other.local && this.domain === other.domain && this.resource === other.resource;
  }

  /** Whether both JIDs have the same bare JID, whatever their resources. */
  equalsBare(other: Jid): boolean {
    return this.local === other.local && this.domain === other.domain;
  }
}

/** Builds a JID from its parts ("" or omitted for an absent local or resource part). Throws JidError. */
export function jid(local: string, domain: string, resource?: string): Jid {
  return new Jid(local, domain, resource ?? "");
}

/**
 * Parses a JID string (RFC 7622 §3.1): the resourcepart is everything after the
 * first "/", the localpart everything before the first "@" that precedes it.
 * Throws JidError.
 */
export function parseJid(s: string): Jid {
  const cached = PARSED.get(s);
  if (cached) return cached;
  const parsed = parseUncached(s);
  // The same addresses come back on every stanza of a conversation: Jids are
  // immutable, so one parse serves them all. Bounded: cleared when full.
  if (PARSED.size >= PARSED_LIMIT) PARSED.clear();
  PARSED.set(s, parsed);
  return parsed;
}

const PARSED = new Map<string, Jid>();
const PARSED_LIMIT = 10_000;

function parseUncached(s: string): Jid {
  // No valid JID is this long even before preparation (NFC shrinks at most 3:1);
  // refusing early keeps the work on hostile input bounded.
  if (s.length > 4 * (3 * MAX_PART_OCTETS + 2)) throw new JidError(s, "too long");
  const slash = s.indexOf("/");
  const head = slash < 0 ? s : s.slice(0, slash);
  const resource = slash < 0 ? undefined : s.slice(slash + 1);
  const at = head.indexOf("@");
  const local = at < 0 ? undefined : head.slice(0, at);
  const domain = at < 0 ? head : head.slice(at + 1);
  if (local === "") throw new JidError(s, "empty localpart before '@'");
  if (resource === "") throw new JidError(s, "empty resourcepart after '/'");
  if (domain === "") throw new JidError(s, "empty domainpart");
  try {
    return new Jid(local ?? "", domain, resource ?? "");
  } catch (err) {
    // Report the caller's input, not our recomposition of it.
    if (err instanceof JidError) throw new JidError(s, err.reason);
    throw err;
  }
}

/** `parseJid` that answers undefined instead of throwing. */
export function tryParseJid(s: string): Jid | undefined {
  try {
    return parseJid(s);
  } catch (err) {
    if (err instanceof JidError) return undefined;
    throw err;
  }
}

function compose(local: string, domain: string, resource: string): string {
  const bare = local === "" ? domain : `${local}@${domain}`;
  return resource === "" ? bare : `${bare}/${resource}`;
}

function describe(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return cp > 0x20 && cp !== 0x7f && !/[\p{C}\p{Z}]/u.test(ch) ? `'${ch}' (${hex})` : hex;
}

function checkLength(part: string, name: string, input: string): void {
  const octets = Buffer.byteLength(part, "utf8");
  if (octets === 0) throw new JidError(input, `empty ${name}`);
  if (octets > MAX_PART_OCTETS) throw new JidError(input, `${name} is ${octets} octets long, more than ${MAX_PART_OCTETS}`);
}

// --- localpart ---------------------------------------------------------------

/** RFC 7622 §3.3.1: ASCII characters a localpart must not contain, beyond controls and space. */
const LOCAL_EXCLUDED = new Set(['"', "&", "'", "/", ":", "<", ">", "@"]);
/** IdentifierClass LetterDigits (RFC 5892 §2.1) by general category. */
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
/** Old Hangul jamo (Hangul_Syllable_Type L, V, T), left over after NFC; disallowed (RFC 5892 §2.9). */
const OLD_HANGUL_JAMO = /^[\u1100-\u11FF\uA960-\uA97C\uD7B0-\uD7C6\uD7CB-\uD7FB]$/u;
/** RFC 5892 §2.6 exceptions: PVALID though not letters/digits, and DISALLOWED though they are. */
const PVALID_EXCEPTIONS = new Set(["\u00DF", "\u03C2", "\u06FD", "\u06FE", "\u0F0B", "\u3007"]);
const DISALLOWED_EXCEPTIONS = new Set([
  "\u0640", "\u07FA", "\u302E", "\u302F", "\u3031", "\u3032", "\u3033", "\u3034", "\u3035", "\u303B",
]);

function prepareLocalpart(raw: string, input: string): string {
  const mapped = raw
    .replace(/[\uFF01-\uFFEE]/g, (c) => c.normalize("NFKC"))
    .toLowerCase()
    .normalize("NFC");
  for (const ch of mapped) {
    if (!identifierChar(ch)) throw new JidError(input, `localpart contains the forbidden character ${describe(ch)}`);
  }
  checkLength(mapped, "localpart", input);
  return mapped;
}

function identifierChar(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x80) return cp > 0x20 && cp < 0x7f && !LOCAL_EXCLUDED.has(ch);
  if (PVALID_EXCEPTIONS.has(ch)) return true;
  if (DISALLOWED_EXCEPTIONS.has(ch) || OLD_HANGUL_JAMO.test(ch)) return false;
  // HasCompat (RFC 8264 §9.17): a character that NFKC changes is a compatibility
  // variant (ligatures, circled letters, Roman numerals…) and looks like another.
  return LETTER_DIGIT.test(ch) && ch.normalize("NFKC") === ch;
}

// --- domainpart --------------------------------------------------------------

function prepareDomainpart(raw: string, input: string): string {
  // RFC 7622 §3.2: a final label separator is stripped (once: "a.." stays invalid).
  let domain = raw.replace(/[\u3002\uFF0E\uFF61]/g, ".");
  if (domain.endsWith(".")) domain = domain.slice(0, -1);
  if (domain === "") throw new JidError(input, "empty domainpart");
  if (domain.startsWith("[")) {
    // IP-literal (RFC 3986 §3.2.2) carrying an IPv6 address; zone IDs have no place in a JID.
    const inner = domain.endsWith("]") ? domain.slice(1, -1) : "";
    if (inner.includes("%") || !isIPv6(inner)) throw new JidError(input, "domainpart is not a valid IPv6 literal");
    return `[${inner.toLowerCase()}]`;
  }
  const mapped = domain.toLowerCase().normalize("NFC");
  for (const ch of mapped) {
    if (!domainChar(ch)) throw new JidError(input, `domainpart contains the forbidden character ${describe(ch)}`);
  }
  if (mapped.split(".").some((label) => label === "")) throw new JidError(input, "domainpart has an empty label");
  checkLength(mapped, "domainpart", input);
  return mapped;
}

function domainChar(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x80) return /^[a-z0-9._-]$/.test(ch);
  // Non-ASCII: U-labels are not validated further (no IDNA2008 here), but
  // invisible and blank characters never belong in a host name.
  return !/^[\p{C}\p{Z}]$/u.test(ch);
}

// --- resourcepart ------------------------------------------------------------

function prepareResourcepart(raw: string, input: string): string {
  // OpaqueString additional mapping (RFC 8265 §4.2.1): non-ASCII spaces become U+0020.
  const mapped = raw.replace(/[^\P{Zs} ]/gu, " ").normalize("NFC");
  for (const ch of mapped) {
    if (/^[\p{Cc}\p{Cs}]$/u.test(ch)) {
      throw new JidError(input, `resourcepart contains the forbidden character ${describe(ch)}`);
    }
  }
  checkLength(mapped, "resourcepart", input);
  return mapped;
}
