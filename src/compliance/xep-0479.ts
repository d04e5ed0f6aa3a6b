// XEP-0479: XMPP Compliance Suites 2023 (version 0.1.0, 2023-05-04), §2, the
// server columns ("Server" and "Advanced Server") of each category's table.
// §1: "A feature is considered supported if all comma separated feature
// providers listed in the 'Providers' column are implemented (unless otherwise
// noted)"; every category other than Core also needs "all features from the core
// compliance category" (§2.2–§2.5). Rows a server has nothing to do for (N/A in
// both server columns: /me, chat states, message correction, Jingle…) are left out.
export const SUITE = { xep: "XEP-0479", title: "XMPP Compliance Suites 2023", version: "0.1.0" } as const;

export type Category = "Core" | "Web" | "IM" | "Mobile" | "A/V Calling";
export const CATEGORIES: readonly Category[] = ["Core", "Web", "IM", "Mobile", "A/V Calling"];

export type Level = "Server" | "Advanced Server";
export const LEVELS: readonly Level[] = ["Server", "Advanced Server"];

/** In one server column: required (✓), not required (✕), or N/A. */
export type Need = "required" | "no" | "n/a";

export interface Requirement {
  readonly category: Category;
  readonly feature: string;
  readonly server: Need;
  readonly advanced: Need;
  /** Spec ids of src/compliance/specs.ts; all are needed. */
  readonly providers: readonly string[];
  readonly note?: string;
}

const COMPONENT = "XEP-0479 allows a component or a server module; a claim names it";

export const REQUIREMENTS: readonly Requirement[] = [
  // §2.1 Core Compliance Suite
  { category: "Core", feature: "Core features", server: "required", advanced: "required", providers: ["RFC 6120"] },
  { category: "Core", feature: "TLS", server: "required", advanced: "required", providers: ["RFC 7590"] },
  { category: "Core", feature: "Direct TLS", server: "no", advanced: "required", providers: ["XEP-0368"],
    note: "server support means accepting Direct TLS connections" },
  { category: "Core", feature: "Feature discovery", server: "required", advanced: "required", providers: ["XEP-0030"] },
  { category: "Core", feature: "Feature broadcasts", server: "no", advanced: "required", providers: ["XEP-0115"] },
  { category: "Core", feature: "Server Extensibility", server: "required", advanced: "required", providers: ["XEP-0114"] },
  { category: "Core", feature: "Event publishing", server: "no", advanced: "required", providers: ["XEP-0163"] },
  // §2.2 Web Compliance Suite
  { category: "Web", feature: "Web Connection Mechanisms", server: "required", advanced: "required", providers: ["RFC 7395", "XEP-0206", "XEP-0124"],
    note: `both RFC 7395 and BOSH (XEP-0206 on XEP-0124); ${COMPONENT}` },
  { category: "Web", feature: "Connection Mechanism Discovery", server: "no", advanced: "n/a", providers: ["XEP-0156"] },
  // §2.3 IM Compliance Suite
  { category: "IM", feature: "Core features", server: "required", advanced: "required", providers: ["RFC 6121"] },
  { category: "IM", feature: "User Avatar Compatibility", server: "no", advanced: "required", providers: ["XEP-0398", "XEP-0153"] },
  { category: "IM", feature: "vcard-temp", server: "required", advanced: "required", providers: ["XEP-0054"] },
  { category: "IM", feature: "Outbound Message Synchronization", server: "required", advanced: "required", providers: ["XEP-0280"] },
  { category: "IM", feature: "User Blocking", server: "no", advanced: "required", providers: ["XEP-0191"] },
  { category: "IM", feature: "Group Chat", server: "required", advanced: "required", providers: ["XEP-0045", "XEP-0249"], note: COMPONENT },
  { category: "IM", feature: "Advanced Group Chat", server: "no", advanced: "required", providers: ["XEP-0048", "XEP-0313 (MUC)", "XEP-0402", "XEP-0410"],
    note: `XEP-0313 here is the archive of the rooms; ${COMPONENT}` },
  { category: "IM", feature: "Persistent Storage of Private Data via PubSub", server: "no", advanced: "required", providers: ["XEP-0223"], note: COMPONENT },
  { category: "IM", feature: "Private XML Storage", server: "no", advanced: "required", providers: ["XEP-0049"], note: "only recommended for legacy bookmarks" },
  { category: "IM", feature: "Stream Management", server: "no", advanced: "required", providers: ["XEP-0198"] },
  { category: "IM", feature: "History Storage / Retrieval", server: "no", advanced: "required", providers: ["XEP-0313"] },
  { category: "IM", feature: "File Upload", server: "required", advanced: "required", providers: ["XEP-0363"], note: COMPONENT },
  // §2.4 Mobile Compliance Suite
  { category: "Mobile", feature: "Stream Management", server: "required", advanced: "required", providers: ["XEP-0198"] },
  { category: "Mobile", feature: "Client State Indication", server: "required", advanced: "required", providers: ["XEP-0352"] },
  { category: "Mobile", feature: "Third Party Push Notifications", server: "no", advanced: "required", providers: ["XEP-0357"], note: COMPONENT },
  // §2.5 A/V Calling Compliance Suite
  { category: "A/V Calling", feature: "STUN/TURN server discovery", server: "required", advanced: "required", providers: ["XEP-0215"] },
];

export function needAt(r: Requirement, level: Level): Need {
  return level === "Server" ? r.server : r.advanced;
}
