// What a configuration would serve, found by doing what `parley start` does
// short of listening: the modules `modules_enabled` names are loaded into a
// kernel over a scratch, in-memory event store, and their hooks are asked
// what a client would be told — XEP-0030 disco#info of each served domain and
// of an account there, and the stream features modules add (RFC 6120 §4.3.2).
// The listeners come from the configuration. Nothing here knows a feature by
// name: `parley check features` reads this, and the conditions of specs.ts.
import type { ServerConfig } from "../config.js";
import { EventStore } from "../events/store.js";
import { Kernel } from "../kernel/kernel.js";
import { AccountRuntime } from "../kernel/account.js";
import type { Identity } from "../kernel/events.js";
import { enabledModules } from "../modules/index.js";
import { parseJid, type Jid } from "../jid/jid.js";
import { Logger } from "../util/logger.js";
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { WEBSOCKET_PATH } from "../net/websocket-listener.js";
import { HOST_META_PATH } from "../net/host-meta.js";
import { BOSH_PATH } from "../net/bosh.js";

/** What each listener of the configuration is, by name; absent: Parley has no such listener. */
export type ListenerName = "c2s-starttls" | "c2s-direct-tls" | "websocket" | "bosh" | "component" | "host-meta" | "s2s";

export interface DiscoInfo {
  readonly features: ReadonlySet<string>;
  readonly identities: readonly Identity[];
  /** The FORM_TYPE of each XEP-0128 data form. */
  readonly forms: readonly string[];
}

/** A service a domain's disco#items lists (XEP-0030 §4), with its disco#info. */
export interface DiscoItem extends DiscoInfo {
  readonly jid: string;
}

export interface DomainCapabilities {
  readonly domain: string;
  readonly host: DiscoInfo;
  /** What an account of the domain answers to its own disco#info. */
  readonly account: DiscoInfo;
  readonly items: readonly DiscoItem[];
}

export interface Capabilities {
  /** The modules that would load, in order. */
  readonly modules: readonly string[];
  /** Each listener and where it listens, e.g. "127.0.0.1:5222". */
  readonly listeners: Readonly<Partial<Record<ListenerName, string>>>;
  /** What the modules add to the stream features (`stream-features` hook), as "namespace name". */
  readonly streamFeatures: { readonly preAuth: readonly string[]; readonly postAuth: readonly string[] };
  readonly domains: readonly DomainCapabilities[];
}

const NS_DATA = "jabber:x:data";

function formType(form: XmlElement): string {
  const field = form.getChildren("field", NS_DATA).find((f) => f.attrs.var === "FORM_TYPE");
  return field?.getChildText("value", NS_DATA) ?? "";
}

function featureNames(features: readonly XmlElement[]): string[] {
  return features.map((f) => `${f.ns} ${f.name}`);
}

/** Loads the configured modules (an unknown name throws UnknownModuleError, as at start) and asks them. */
export function capabilitiesOf(config: ServerConfig): Capabilities {
  const store = EventStore.open(":memory:");
  let kernel: Kernel | undefined;
  try {
    kernel = new Kernel({
      config,
      log: new Logger("silent"),
      store,
      defaultDomain: config.domains[0] ?? "localhost",
      accountExists: () => false,
      // No account actor runs: nothing is delivered while the hooks are asked.
      continueInAccount: () => {},
      withRunningAccount: () => false,
    });
    kernel.loadModules(enabledModules(config.modulesEnabled, { store }));
    return ask(kernel, config);
  } finally {
    // As at shutdown: modules flush what they buffer (nothing was asked of them but disco).
    kernel?.hooks.fire("server-stopping", {});
    store.close();
  }
}

/** disco#items of the domain, and the disco#info each item answers (the reply caught on its way back). */
function componentItems(kernel: Kernel, requester: Jid, domain: string): DiscoItem[] {
  const build = { requester, domain, node: undefined, nodeFound: false, items: [] as { jid: string; node?: string }[] };
  kernel.hooks.fire("disco-items/host", build);
  return build.items.filter((i) => i.node === undefined).map((item) => {
    let reply: XmlElement | undefined;
    kernel.router.addDestination(domain, { kind: "local host", accept: (stanza) => { reply = stanza; } });
    try {
      kernel.router.route(el("iq", NS.client, { type: "get", id: "capabilities", from: requester.toString(), to: item.jid }, el("query", NS.discoInfo)));
    } finally {
      kernel.router.removeDestination(domain);
    }
    const query = reply?.getChild("query", NS.discoInfo);
    return {
      jid: item.jid,
      features: new Set((query?.getChildren("feature", NS.discoInfo) ?? []).map((f) => f.attrs.var ?? "")),
      identities: (query?.getChildren("identity", NS.discoInfo) ?? []).map((i) => ({ category: i.attrs.category ?? "", type: i.attrs.type ?? "", name: i.attrs.name })),
      forms: (query?.getChildren("x", NS_DATA) ?? []).map(formType),
    };
  });
}

/** What the loaded modules answer, per served domain, and the listeners of the configuration. */
function ask(kernel: Kernel, config: ServerConfig): Capabilities {
  const stage = (s: "pre-auth" | "post-auth") => {
    const features: XmlElement[] = [];
    kernel.hooks.fire("stream-features", { stage: s, authenticating: s === "pre-auth", features, domain: config.domains[0] ?? "localhost" });
    return featureNames(features);
  };

  const domains = config.domains.map((domain): DomainCapabilities => {
    const requester = parseJid(`capabilities@${domain}`);
    const host = { requester, domain, node: undefined, nodeFound: false, identities: [] as Identity[], features: new Set<string>(), extensions: [] as XmlElement[] };
    kernel.hooks.fire("disco-info/host", host);
    const account = new AccountRuntime(requester);
    const own = { requester, account, node: undefined, nodeFound: false, identities: [] as Identity[], features: new Set<string>(), extensions: [] as XmlElement[] };
    kernel.hooks.fire("disco-info/account", own);
    return {
      domain,
      host: { features: host.features, identities: host.identities, forms: host.extensions.map(formType) },
      account: { features: own.features, identities: own.identities, forms: own.extensions.map(formType) },
      // The components that list themselves in the domain's disco#items
      // (ModuleApi.component), each asked its disco#info as a client would ask it.
      items: componentItems(kernel, requester, domain),
    };
  });

  const { host } = config.c2s;
  // The HTTP port speaks TLS when a certificate is configured.
  const httpTls = config.tls.certFile !== undefined;
  return {
    modules: kernel.modulesLoaded,
    // Every listener Parley has is on (port 0 picks a free port), BOSH unless
    // bosh.enabled is false; components (XEP-0114) once one is configured.
    listeners: {
      "c2s-starttls": `${host}:${config.c2s.port}`,
      "c2s-direct-tls": `${host}:${config.c2s.directTlsPort}`,
      websocket: `${httpTls ? "wss" : "ws"}://${host}:${config.http.port}${WEBSOCKET_PATH}`,
      ...(config.s2s.enabled ? { s2s: `${config.s2s.host}:${config.s2s.port}` } : {}),
      // XEP-0114: the component module listens once a component is configured.
      ...(config.modulesEnabled.includes("component") && config.components.components.length > 0 ? { component: `${config.components.host}:${config.components.port}` } : {}),
      "host-meta": `${httpTls ? "https" : "http"}://${host}:${config.http.port}${HOST_META_PATH}`,
      ...(config.bosh.enabled ? { bosh: `${httpTls ? "https" : "http"}://${host}:${config.http.port}${BOSH_PATH}` } : {}),
    },
    streamFeatures: { preAuth: stage("pre-auth"), postAuth: stage("post-auth") },
    domains,
  };
}
