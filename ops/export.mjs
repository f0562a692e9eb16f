/**
 * `npm run export -- --room ID | --user ID [--format zip|csv] --out FILE`:
 * a compliance export of one room (its whole history, members, files) or of
 * everything one person has on this node (a GDPR access request), written to
 * FILE. docs/OPERATIONS.md ("Export") describes what the zip holds.
 *
 * A thin client of the running node's `GET /api/v1/admin/export`: the export
 * itself is made by the Worker (worker/export/start.ts says why there), so the
 * command and the web client's Export buttons give the same bytes, and every
 * export is checked and audited in one place. The node is found as `npm start`
 * finds it (OUTPOST_CONFIG, OUTPOST_LISTEN; `--url` overrides). The caller is
 * an administrator's bearer token in OUTPOST_TOKEN (from `POST
 * /api/v1/auth/login`, or a session the admin made for this), never a
 * command-line argument, which other users of the machine could read in `ps`.
 *
 * The answer streams into `FILE.partial`, with progress on stderr, and is
 * renamed to FILE only when the node finished it: an export cut short never
 * looks complete.
 *
 * Exit code: 0 written; 1 the node refused (its error code and message are
 * printed: 403 forbidden, 404 not_found, …); 2 usage or connection trouble.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadNodeConfig } from "./node-config.mjs";
import { mb } from "./progress-line.mjs";

const USAGE = "usage: OUTPOST_TOKEN=<admin token> npm run export -- (--room ROOM_ID | --user USER_ID) [--format zip|csv] --out FILE [--url NODE_URL]";

/** @param {string[]} argv */
export function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(room|user|format|out|url)$/.exec(argv[i]);
    if (!m || argv[i + 1] === undefined) throw new Error(`unexpected argument ${argv[i]}\n${USAGE}`);
    args[m[1]] = argv[++i];
  }
  if ((args.room === undefined) === (args.user === undefined)) throw new Error(`give exactly one of --room or --user\n${USAGE}`);
  if (!args.out) throw new Error(`--out FILE is required\n${USAGE}`);
  const format = args.format ?? "zip";
  if (format !== "zip" && format !== "csv") throw new Error(`--format is zip or csv\n${USAGE}`);
  return { room: args.room, user: args.user, format, out: path.resolve(args.out), url: args.url };
}

/**
 * Run one export to `out`. Resolves with what was written; rejects with an
 * Error whose `exitCode` is 1 (the node refused) or 2 (anything else).
 *
 * @param {{ url: string, token: string, room?: string, user?: string, format: string, out: string,
 *   stderr?: NodeJS.WriteStream }} options
 */
export async function runExport({ url, token, room, user, format, out, stderr = process.stderr }) {
  const query = new URLSearchParams(room !== undefined ? { room } : { user: /** @type {string} */ (user) });
  query.set("format", format);
  const res = await fetch(`${url}/api/v1/admin/export?${query}`, { headers: { authorization: `Bearer ${token}` } }).catch((err) => {
    throw Object.assign(new Error(`cannot reach the node at ${url}: ${err.cause?.code ?? err.message}`), { exitCode: 2 });
  });
  if (!res.ok || !res.body) {
    const body = /** @type {{ error?: { code: string, message: string } } | null} */ (await res.json().catch(() => null));
    const e = body?.error;
    throw Object.assign(new Error(e ? `${res.status} ${e.code}: ${e.message}` : `the node answered ${res.status}`), { exitCode: 1 });
  }
  const messages = res.headers.get("x-export-messages");
  const partial = `${out}.partial`;
  const file = fs.openSync(partial, "w", 0o600);
  let bytes = 0;
  let lastDraw = 0;
  const tty = Boolean(stderr.isTTY);
  let nextLine = 0;
  const label = `export ${room ?? user}${messages ? ` (${messages} messages)` : ""}`;
  const draw = (final = false) => {
    if (tty) {
      if (!final && Date.now() - lastDraw < 100) return;
      lastDraw = Date.now();
      stderr.write(`\r${label}: ${mb(bytes)} MB\x1b[K${final ? "\n" : ""}`);
    } else if (final || bytes >= nextLine) {
      // In a log: a line per 10 MB, so a log stays short.
      nextLine = bytes + 10 * 1024 * 1024;
      stderr.write(`${label}: ${mb(bytes)} MB${final ? ", done" : ""}\n`);
    }
  };
  const started = Date.now();
  try {
    for await (const chunk of res.body) {
      fs.writeSync(file, chunk);
      bytes += chunk.byteLength;
      draw();
    }
    fs.fsyncSync(file);
  } catch (err) {
    fs.closeSync(file);
    throw Object.assign(new Error(`the export was cut short after ${mb(bytes)} MB (${/** @type {Error} */ (err).message}); the part received is in ${partial}`), { exitCode: 2 });
  }
  fs.closeSync(file);
  fs.renameSync(partial, out);
  draw(true);
  return { bytes, ms: Date.now() - started, messages: messages === null ? null : Number(messages) };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(/** @type {Error} */ (err).message);
    process.exit(2);
  }
  const token = process.env.OUTPOST_TOKEN;
  if (!token) {
    console.error(`OUTPOST_TOKEN is not set: an administrator's bearer token (POST /api/v1/auth/login)\n${USAGE}`);
    process.exit(2);
  }
  let url = args.url;
  if (!url) {
    try {
      url = loadNodeConfig().url;
    } catch (err) {
      console.error(`export: ${/** @type {Error} */ (err).message}`);
      process.exit(2);
    }
  }
  try {
    const done = await runExport({ ...args, url: url.replace(/\/+$/, ""), token });
    console.log(`${args.out}: ${mb(done.bytes)} MB in ${(done.ms / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error(`export: ${/** @type {Error} */ (err).message}`);
    process.exit(/** @type {{ exitCode?: number }} */ (err).exitCode ?? 2);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
