/**
 * Telling a damaged database from a passing storage fault.
 *
 * Transient (disk full, I/O error): nothing was stored, the same request can
 * succeed later — 503 `storage_error`, "try again".
 * Permanent (the file is not SQLite, or its pages are corrupt): no retry will
 * ever succeed and an administrator has to restore or repair the file — 500
 * `room_unavailable`, and a log line naming the room and its file, so the
 * admin knows which of thousands of `<hex>.sqlite` files to look at
 * (`npm run doctor` checks them all).
 *
 * What workerd reports (measured on workerd 1.20260426, test/faults/corrupt-room.test.ts):
 * - a file it cannot open as SQLite (header overwritten: SQLITE_NOTADB), or
 *   whose schema page is corrupt (SQLITE_CORRUPT): the object never starts —
 *   its constructor does not run, every call fails with the opaque
 *   "internal error; reference = …" (the SQLite error is only in the node's
 *   log). Disk full on a commit looks exactly the same to JavaScript, so the
 *   Worker tells them apart by asking the object once more (worker/room-faults.ts).
 * - corrupt data pages: the query that touches them throws
 *   "database disk image is malformed: SQLITE_CORRUPT", visible to the object.
 */
import { errorText, log } from "./log";
import { storageErrors } from "./node-metrics";
import { AppError, asAppError } from "./app-error";

const PERMANENT = /SQLITE_CORRUPT|SQLITE_NOTADB|database disk image is malformed|file is not a database|malformed database schema/i;

/** A fault no retry can fix: the database file is damaged. */
export function isPermanentStorageFault(err: unknown): boolean {
  return err instanceof Error && PERMANENT.test(err.message);
}

/** The answer for a room whose database cannot be opened or read. */
export function roomUnavailable(): AppError {
  return new AppError(
    "room_unavailable",
    "this room's data cannot be opened on this node. Nothing was changed; an administrator has to look at it (the node's log names the file)",
  );
}

/**
 * Where an object's database lives under the node's data directory: one
 * folder per class named by its `uniqueKey` (`outpost-<class>`, see
 * ops/node-config.mjs `uniqueKeyFor`), one `<object id hex>.sqlite` in it.
 */
export function objectFile(className: string, objectIdHex: string): string {
  return `objects/outpost-${className}/${objectIdHex}.sqlite`;
}

/** The log line for a damaged room: which room, which file, what SQLite said, what to do. */
export function roomFaultLine(roomId: string, objectIdHex: string, err: unknown): string {
  const what = err instanceof Error ? err.message : String(err);
  return (
    `room ${roomId} cannot be opened: its database ${objectFile("RoomObject", objectIdHex)} (under the data directory) is damaged or unreadable ` +
    `(${what}). Other rooms are not affected. Run \`npm run doctor\` to check every file; restore this one from a backup.`
  );
}

/**
 * A write that SQLite refused (disk full, I/O error). workerd reports these as
 * an opaque "internal error" from sql.exec; the caller gets `storage_error`
 * (503: nothing was stored, retry later). The runtime also resets the object,
 * closing its sockets, so no ack can leave for a write that did not happen.
 * A damaged file (SQLITE_CORRUPT) is no passing fault: `room_unavailable`.
 * An AppError thrown inside the write (a check) passes through as it is.
 */
export function storageFailure(err: unknown): Error {
  if (asAppError(err)) return err as Error;
  const damaged = isPermanentStorageFault(err);
  storageErrors.inc({ kind: damaged ? "damaged" : "write" });
  log("error", "storage.error", { kind: damaged ? "damaged" : "write", error: errorText(err) });
  if (damaged) return roomUnavailable();
  return new AppError("storage_error", "the node could not store this (disk full or I/O error); nothing was saved, try again later");
}
