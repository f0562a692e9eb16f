/**
 * The start-up failures a person running `npm start` can fix, as one line each
 * instead of a stack: a listen address already taken (or not ours to take) and
 * a data folder the node cannot write.
 *
 * workerd reports a failed bind as a fatal kj::Exception followed by a line of
 * native stack addresses, which tell an operator nothing:
 *
 *   *** Fatal uncaught kj::Exception: kj/async-io-unix.c++:945: failed: ::bind(sockfd, …):
 *       Address already in use; toString() = 127.0.0.1:8787
 *   stack: …/workerd@51f7db6 …
 *
 * so start.mjs passes workerd's stderr through `WorkerdStderr`, which holds
 * back exactly those lines and reports the failure instead.
 */
import fs from "node:fs";
import path from "node:path";

/** @typedef {{ address: string, reason: string }} BindFailure */

const BIND_FAILURE = /^\*\*\* Fatal uncaught kj::Exception: .*::bind\(.*\): ([^;]+); toString\(\) = (\S+)/;

/**
 * `{ address, reason }` when `line` is workerd's fatal bind failure, else null.
 * @param {string} line
 * @returns {BindFailure | null}
 */
export function parseBindFailure(line) {
  const m = BIND_FAILURE.exec(line);
  return m ? { address: m[2], reason: m[1] } : null;
}

/**
 * The one line for a bind failure.
 * @param {BindFailure} failure
 * @param {string} listen  the address the node was told to listen on
 */
export function bindFailureMessage({ address, reason }, listen) {
  if (/already in use/i.test(reason)) {
    return `outpost: ${listen} is already in use — is another node running? set OUTPOST_LISTEN`;
  }
  return `outpost: cannot listen on ${listen} (${address}): ${reason} — set OUTPOST_LISTEN`;
}

/**
 * The one line for a data folder the node cannot write: `err` from writing in it
 * (or null when `err` is not a file-system error about that folder).
 *
 * @param {unknown} error
 * @param {string} dataDir
 * @returns {string | null}
 */
export function dataDirErrorMessage(error, dataDir) {
  const err = /** @type {{ code?: string, syscall?: string, path?: string } | null | undefined} */ (error);
  if (!err?.code || !err.syscall || (err.path && !isInside(err.path, dataDir))) return null;
  /** @type {Record<string, string>} */
  const reasons = {
    EROFS: "it is on a read-only file system",
    EACCES: "permission denied",
    EPERM: "permission denied",
    ENOSPC: "the disk is full",
    EDQUOT: "the disk quota is used up",
    ENOTDIR: "a part of its path is a file",
  };
  const why = reasons[err.code] ?? err.code;
  return `outpost: cannot write to the data folder ${dataDir}: ${why} (${err.code}) — set OUTPOST_DATA to a writable folder`;
}

/**
 * Null when the node can write in `dataDir` (or create it), else the one line.
 * Asked before writing anything: Node 20's recursive mkdir reports a read-only
 * file system as ENOENT, which would name the wrong cause.
 *
 * @param {string} dataDir
 * @returns {string | null}
 */
export function dataDirProblem(dataDir) {
  let existing = path.resolve(dataDir);
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  try {
    fs.accessSync(existing, fs.constants.W_OK);
    return null;
  } catch (err) {
    return dataDirErrorMessage({ code: /** @type {{ code?: string }} */ (err).code, syscall: "access" }, dataDir);
  }
}

/** @param {string} p @param {string} dir */
function isInside(p, dir) {
  const rel = path.relative(path.resolve(dir), path.resolve(p));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Forwards a workerd stderr stream line by line to `out`, except a fatal bind
 * failure (and the stack line after it), which goes to `onBindFailure` instead.
 */
export class WorkerdStderr {
  /**
   * @param {NodeJS.ReadableStream} stream
   * @param {{ out?: NodeJS.WritableStream, onBindFailure: (failure: BindFailure) => void }} options
   */
  constructor(stream, { out = process.stderr, onBindFailure }) {
    let pending = "";
    let swallowStack = false;
    /** @param {string} text */
    const line = (text) => {
      const failure = parseBindFailure(text);
      if (failure) {
        swallowStack = true;
        onBindFailure(failure);
        return;
      }
      if (swallowStack && text.startsWith("stack: ")) return;
      swallowStack = false;
      out.write(`${text}\n`);
    };
    stream.setEncoding?.("utf8");
    stream.on("data", (chunk) => {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        line(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    stream.on("end", () => {
      if (pending) line(pending);
      pending = "";
    });
  }
}
