// A Parley server as its own process (`parley start`), for tests that must
// restart or kill a real server.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./paths.js";

export const PARLEY_BIN = path.join(repoRoot(), "bin", "parley.js");

export interface ServerProcess {
  port: number;
  directTlsPort: number;
  httpPort: number;
  child: ChildProcess;
  log(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

export async function spawnServer(dataDir: string, extraArgs: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [PARLEY_BIN, "start", "--c2s-port", "0", "--direct-tls-port", "0", "--http-port", "0", "--s2s-port", "0", "--data", dataDir,
    // With a configuration file, its log_level (at least info, for the start line) is left to it: a flag would override it on SIGHUP too.
    ...(extraArgs.includes("--config") ? [] : ["--log-level", "info"]), ...extraArgs], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.setEncoding("utf8");
  const ports = await new Promise<[number, number, number]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time: ${log}`)), 15_000);
    child.stderr?.on("data", (d: string) => {
      log += d;
      const m = /"c2s":"127\.0\.0\.1:(\d+)","directTls":"127\.0\.0\.1:(\d+)","websocket":"wss?:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve([Number(m[1]), Number(m[2]), Number(m[3])]); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited early (${code}): ${log}`)); });
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const [port, directTlsPort, httpPort] = ports;
  return {
    port,
    directTlsPort,
    httpPort,
    child,
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}
