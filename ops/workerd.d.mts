// Types for workerd.mjs.
import type { ChildProcess, StdioOptions } from "node:child_process";
import type { IncomingHttpHeaders } from "node:http";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function workerdBinary(): string;
export function spawnWorkerd(configPath: string, options?: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions; cwd?: string; verbose?: boolean }): ChildProcess;
export function exited(child: ChildProcess): Promise<ExitInfo>;
export function stopWorkerd(child: ChildProcess, options?: { graceMs?: number }): Promise<ExitInfo>;
export function request(
  url: string,
  options?: { method?: string; headers?: Record<string, string>; body?: string | Buffer; insecure?: boolean; timeoutMs?: number },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>;
export function newInstanceToken(): string;
export function waitForHealthy(url: string, options?: { timeoutMs?: number; child?: ChildProcess; intervalMs?: number; instance?: string }): Promise<void>;
