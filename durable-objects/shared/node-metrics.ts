/**
 * Every metric an Outpost node exports at `GET /metrics` (docs/OPERATIONS.md
 * lists them), and the few hooks the Worker and the objects call to move them.
 * Everything here is O(1) per event and does no I/O, so it can sit on the
 * message path; a scrape renders what is in memory and wakes no object.
 *
 * To add a gauge: one `gauge(name, help, () => value)` line below.
 */
import { LINK_TAG } from "./link-channel";
import { counter, gauge, histogram, type Labels } from "./metrics";

const startedAt = Date.now();

gauge("outpost_start_time_seconds", "When this node's process started (Unix time); counters count from here.", () => startedAt / 1000);

// ---------------------------------------------------------------- HTTP

/** Label `route` is the route pattern (`/api/v1/rooms/:id/messages`), never the raw path: bounded, and no ids. */
export const httpRequests = counter("outpost_http_requests_total", "HTTP requests answered, by method, route pattern and status.");
export const httpErrors = counter("outpost_http_errors_total", "HTTP requests answered with an error, by route pattern and error code.");

// ---------------------------------------------------------------- messages

export const messagesSent = counter("outpost_messages_sent_total", "Messages stored by this node's rooms (REST and socket sends; retries not counted).");

/**
 * Seconds from a send reaching the room to its acknowledgement being released
 * (the commit is on disk: workerd holds the ack until then). Buckets from 1 ms
 * to 2.5 s: a healthy node acks in a few ms; the bench's busy-room p99 is tens
 * of ms; above a second something is wrong (disk, a saturated node).
 */
export const sendToAck = histogram("outpost_message_ack_seconds", "Time from a message reaching its room to the ack (commit on disk); sampled, at most one send per room per 100 ms.", [
  0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]);

/** Per object: when the last timed send arrived (see timeAck). */
const lastTimed = new WeakMap<DurableObjectStorage, number>();
/** At most one timed send per object per this many ms. */
const SAMPLE_MS = 100;

/**
 * Count a stored message and time its ack: `startedAt` is Date.now() when the
 * send arrived (workerd moves the clock at I/O events only, so that is the
 * frame's or RPC's arrival); `storage.sync()` resolves once the commit holding
 * the message is on disk, which is when the output gate releases the ack.
 *
 * Sampled: at most one send per object per 100 ms is timed. A person's sends
 * in a quiet room are all timed; a busy room gives ~10 samples a second.
 * Timing every send cost ~25 µs of workerd CPU per message (~9% of a send,
 * measured old vs new node, 3 × 3,000 socket sends): the sync() promise, not
 * the counting, which stays exact.
 */
export function timeAck(storage: DurableObjectStorage, startedAt: number): void {
  messagesSent.inc();
  if (startedAt - (lastTimed.get(storage) ?? -Infinity) < SAMPLE_MS) return;
  lastTimed.set(storage, startedAt);
  void storage.sync().then(
    () => sendToAck.observe((Date.now() - startedAt) / 1000),
    () => {}, // a failed commit is counted as a storage error where it is seen
  );
}

// ---------------------------------------------------------------- storage

/** `kind`: `write` (disk full, I/O error: nothing stored) or `damaged` (a database that cannot be read). */
export const storageErrors = counter("outpost_storage_errors_total", "Storage operations that failed, by kind (write, damaged).");

// ---------------------------------------------------------------- sockets

export type SocketKind = "room" | "device" | "mirror";
/** Open sockets per object, set by the object from `getWebSockets()` (so a wake after a reset corrects it). */
const socketsByObject = new Map<string, { kind: SocketKind; n: number }>();

/**
 * An object's open sockets now. Called on accept, close and error, and when the
 * object is constructed (a hibernated object's sockets stay open, and module
 * state outlives the object, so the count stays right while it sleeps).
 */
export function reportSockets(kind: SocketKind, ctx: DurableObjectState, closing?: WebSocket): void {
  let n = 0;
  for (const ws of ctx.getWebSockets()) if (ws !== closing && ws.readyState === WebSocket.OPEN && !ctx.getTags(ws).includes(LINK_TAG)) n++;
  const key = ctx.id.toString();
  if (n) socketsByObject.set(key, { kind, n });
  else socketsByObject.delete(key);
}

gauge("outpost_websockets_open", "Open WebSockets by kind (room, device, mirror).", () => {
  const byKind: Record<SocketKind, number> = { room: 0, device: 0, mirror: 0 };
  for (const { kind, n } of socketsByObject.values()) byKind[kind] += n;
  return Object.entries(byKind).map(([kind, n]): [Labels, number] => [{ kind }, n]);
});

// ---------------------------------------------------------------- queues

/**
 * Rooms with undelivered outbox items (membership news, file deletions), as
 * they last reported: a room reports when a delivery run stops short (and 0
 * when it empties). A room whose items wait from before a restart reports when
 * its alarm retries them, within seconds of the start.
 */
const outboxByRoom = new Map<string, number>();
export function reportOutbox(roomId: string, depth: number): void {
  if (depth > 0) outboxByRoom.set(roomId, depth);
  else outboxByRoom.delete(roomId);
}
gauge("outpost_room_outbox_depth", "Undelivered room outbox items, summed over rooms.", () => {
  let n = 0;
  for (const d of outboxByRoom.values()) n += d;
  return n;
});
gauge("outpost_room_outbox_rooms", "Rooms with undelivered outbox items.", () => outboxByRoom.size);

/** Per peer node: its link's send queue and whether it is up. */
const links = new Map<string, { queued: number; up: boolean }>();
export function reportLink(peer: string, queued: number, up: boolean): void {
  links.set(peer, { queued, up });
}
gauge("outpost_link_send_queue_depth", "Messages queued for a peer node, by peer.", () => [...links].map(([peer, l]): [Labels, number] => [{ peer }, l.queued]));
gauge("outpost_link_up", "1 while the link to a peer node is up, 0 when it is down or not yet known, by peer.", () =>
  [...links].map(([peer, l]): [Labels, number] => [{ peer }, l.up ? 1 : 0]),
);

// ---------------------------------------------------------------- audit trail

/**
 * When the directory last signed its checkpoint of every audit chain's head
 * (directory/audit-copy.ts): set when it signs, and when it wakes (from the
 * stored one). Null until then: no sample rather than a made-up age.
 */
let auditCheckpointAt: number | null = null;
export function reportAuditCheckpoint(at: number | null | undefined): void {
  if (typeof at === "number" && (auditCheckpointAt === null || at > auditCheckpointAt)) auditCheckpointAt = at;
}
/**
 * The age of the node-signed checkpoint, not of the newest record: a record
 * is proof against later cuts only once a checkpoint covers it, so this is
 * what an operator alerts on (signing stuck, the node key unreadable, objects'
 * records not reaching the directory). It is re-signed within moments of every
 * audited action, sign-ins included; on a node nobody uses it simply grows.
 */
gauge("outpost_audit_head_age_seconds", "Seconds since the directory signed its checkpoint of the audit chains' heads (absent until the directory has woken).", () =>
  auditCheckpointAt === null ? [] : Math.max(0, (Date.now() - auditCheckpointAt) / 1000),
);
