// Starts a real Parley server for a test: a free loopback port, a fresh
// temporary data directory, accounts created up front.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultConfig, type ServerConfig } from "../../src/config.js";
import { ParleyServer } from "../../src/server/server.js";
import { Logger, type LogLevel } from "../../src/util/logger.js";
import { registerAccounts } from "../../src/accounts/account-service.js";

export interface TestServer {
  server: ParleyServer;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestServer(options: {
  accounts?: { jid: string; password: string }[];
  configure?: (c: ServerConfig) => void;
  dataDir?: string;
} = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "parley-test-"));
  const config = defaultConfig();
  config.dataDir = dataDir;
  config.c2s = { host: "127.0.0.1", port: 0, directTlsPort: 0 };
  config.http = { port: 0 };
  config.s2s.port = 0;
  config.scramIterations = 4096;
  config.logLevel = (process.env.PARLEY_TEST_LOG as LogLevel | undefined) ?? "silent";
  options.configure?.(config);
  const server = await ParleyServer.start(config, new Logger(config.logLevel));
  if (options.accounts && options.accounts.length > 0) {
    await registerAccounts(server.store, options.accounts, { kind: "admin", tool: "test" }, config.scramIterations);
  }
  return {
    server,
    port: server.c2sPort,
    dataDir,
    async stop() {
      await server.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
