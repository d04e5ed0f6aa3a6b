// A Debian Prosody that federates: its own configuration and data directory,
// free loopback ports for c2s and s2s, STARTTLS required on s2s with a
// self-signed certificate, dialback on, s2s_secure_auth off (the certificates
// are not trusted, so dialback authenticates, RFC 6120 §13.7.2 / XEP-0220).
// Shared by the Parley–Prosody federation test and the bench's s2s scenario.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "./free-port.js";

// Prosody finds a peer by its SRV/A records only. For domains named in
// `s2s_routes` this plugin answers with a fixed address instead, as Parley's
// [s2s.routes] does, so several servers share one loopback on free ports.
// Only the STARTTLS service (xmpp-server) is routed; direct TLS (xmpps-server,
// XEP-0368) gets no target, which is what an absent SRV record gives.
const ROUTES_PLUGIN = `-- written by Parley's test/helpers/prosody-s2s.ts
module:set_global();
local service = require "net.resolvers.service";
local basic = require "net.resolvers.basic";
local routes = module:get_option("s2s_routes", {});
local original = service.new;
service.new = function (hostname, service_name, conn_type, extra)
	local route = routes[hostname];
	if not route then return original(hostname, service_name, conn_type, extra); end
	local resolver = basic.new(route.host, route.port, conn_type, extra);
	if service_name ~= "xmpp-server" then resolver.targets = {}; end
	return resolver;
end
function module.unload() service.new = original; end
`;

export interface FederatingProsodyOptions {
  /** The VirtualHost it serves. */
  readonly domain: string;
  /** Its s2s port, when a peer must know it before this one starts (default: a free one). */
  readonly s2sPort?: number;
  /** Domain → "host:port" to connect to instead of the domain's DNS records. */
  readonly routes?: Readonly<Record<string, string>>;
  /** Accounts: `internal_plain` for prosodyctl register, `internal_hashed` for SCRAM records written as files. */
  readonly authentication?: "internal_plain" | "internal_hashed";
  /** Everything into the log file (a test prints it on failure), or warnings only on stderr (logging costs a bench CPU). */
  readonly logLevel?: "debug" | "warn";
  /** Runs after the configuration is written and before Prosody starts: make the accounts here. */
  readonly setup?: (config: string, dataDir: string) => void | Promise<void>;
}

export interface FederatingProsody {
  readonly domain: string;
  readonly c2sPort: number;
  readonly s2sPort: number;
  readonly pid: number;
  readonly logFile: string;
  /** What it wrote to stderr and its log file so far. */
  log(): string;
  /** SIGTERM (SIGKILL after 10 s); resolves when it has exited and its directory is removed. */
  stop(): Promise<void>;
}

/** Prosody's data directory for a host: every non-alphanumeric byte %-escaped (util.datamanager). */
export function prosodyHostDir(dataDir: string, host: string): string {
  return path.join(dataDir, host.replace(/[^A-Za-z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

export async function startFederatingProsody(options: FederatingProsodyOptions): Promise<FederatingProsody> {
  const { domain } = options;
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-prosody-s2s-"));
  const stop = async (child?: ReturnType<typeof spawn>): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("exit", () => { clearTimeout(timer); resolve(); });
        child.kill("SIGTERM");
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const dataDir = path.join(dir, "data");
    mkdirSync(dataDir);
    mkdirSync(path.join(dir, "certs"));
    mkdirSync(path.join(dir, "plugins"));
    const cert = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
      "-keyout", path.join(dir, "certs", "p.key"), "-out", path.join(dir, "certs", "p.crt"),
      "-subj", `/CN=${domain}`, "-addext", `subjectAltName=DNS:${domain}`], { encoding: "utf8" });
    if (cert.status !== 0) throw new Error(`openssl could not make Prosody's certificate: ${cert.stderr}`);
    writeFileSync(path.join(dir, "plugins", "mod_s2s_routes.lua"), ROUTES_PLUGIN);
    const routes = Object.entries(options.routes ?? {}).map(([host, target]) => {
      const m = /^([^:]+):(\d+)$/.exec(target);
      if (!m) throw new Error(`route for ${host}: '${target}' is not host:port`);
      return `\t[${JSON.stringify(host)}] = { host = ${JSON.stringify(m[1])}; port = ${m[2]} };`;
    });
    const [c2sPort, s2sPort] = [await freePort(), options.s2sPort ?? await freePort()];
    const logFile = path.join(dir, "prosody.log");
    const config = path.join(dir, "prosody.cfg.lua");
    writeFileSync(config, `-- written by Parley's test/helpers/prosody-s2s.ts
pidfile = ${JSON.stringify(path.join(dir, "prosody.pid"))}
data_path = ${JSON.stringify(dataDir)}
plugin_paths = { ${JSON.stringify(path.join(dir, "plugins"))} }
-- CI containers run as root; Prosody refuses that unless told.
run_as_root = true
interfaces = { "127.0.0.1" }
network_backend = "epoll"
c2s_ports = { ${c2sPort} }
c2s_direct_tls_ports = { }
s2s_ports = { ${s2sPort} }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
-- No mod_limits: its throttles are not what a bench measures.
modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "blocklist"; "s2s_routes"; }
modules_disabled = { "offline"; }
s2s_routes = {
${routes.join("\n")}
}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_timeout = 3600
s2s_require_encryption = true
s2s_secure_auth = false
authentication = ${JSON.stringify(options.authentication ?? "internal_plain")}
storage = "internal"
log = ${options.logLevel === "warn" ? `{ warn = "*stderr" }` : `{ debug = ${JSON.stringify(logFile)} }`}
ssl = { certificate = ${JSON.stringify(path.join(dir, "certs", "p.crt"))}; key = ${JSON.stringify(path.join(dir, "certs", "p.key"))} }
VirtualHost ${JSON.stringify(domain)}
`);
    await options.setup?.(config, dataDir);
    const child = spawn("prosody", ["--config", config, "-F"], { stdio: ["ignore", "ignore", "pipe"], cwd: dir });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => { stderr = (stderr + d).slice(-4000); });
    const log = () => stderr + (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`prosody exited with ${child.exitCode} before listening: ${log()}`);
        const ok = await new Promise<boolean>((resolve) => {
          const s = net.connect(c2sPort, "127.0.0.1");
          s.once("connect", () => { s.destroy(); resolve(true); });
          s.once("error", () => resolve(false));
        });
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`prosody does not listen on ${c2sPort}: ${log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (err) {
      await stop(child);
      throw err;
    }
    return { domain, c2sPort, s2sPort, pid: child.pid ?? 0, logFile, log, stop: () => stop(child) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
