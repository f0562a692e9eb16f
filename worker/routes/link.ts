/**
 * `/link/v1/*`: what other nodes of the cluster may ask this one. Not under
 * /api: no session, no cookie — every request must be signed by a node of the
 * cluster file and addressed to this node (durable-objects/shared/link-auth.ts),
 * and every answer is signed, bound to the request's nonce. Anything else gets
 * nothing: 404 when this node runs alone, 401 when the signature does not check.
 */
import { errorText, log } from "../../durable-objects/shared/log";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { Env } from "../../durable-objects/shared/env";
import { clusterOf, nodeKey } from "../../durable-objects/shared/cluster";
import { LINK_HEADERS, LINK_PROTOCOL_VERSION, ReplayGuard, signResponse, verifyRequest } from "../../durable-objects/shared/link-auth";
import { CHANNEL_ACKS_HEADER, CHANNEL_ACKS_PARAM, CHANNEL_KEY_HEADER, CHANNEL_KEY_PARAM, CHANNEL_SENDS_PARAM, channelOffer, channelSecret } from "../../durable-objects/shared/link-channel";
import { LINK_CHANNEL_HEADER, channelHandOver } from "../../durable-objects/mirror/link-socket";
import { registerMirror } from "../../durable-objects/mirror/registration";
import { asAppError } from "../../durable-objects/shared/app-error";
import type { DirectoryFeedPage, PingAnswer } from "../../protocol/cluster";
import { directoryStub, homeRoom, linkStub, resolveRoom, resolveUser, storedMirror } from "../../durable-objects/shared/objects";
import { linkAvatars } from "./link-avatars";
import { linkErasures } from "./link-erasures";
import { linkPresence } from "./link-presence";
import { linkReply, type LinkEnv } from "./link-reply";
import { ROOM_ID_RE, homeNode } from "../../protocol/ids";
import { LinkCall, LinkSendItem, RoomPush, TRANSIENT_SEND_CODES, type LinkSendResult, type LinkSendsAnswer, type RoomPushAnswer } from "../../protocol/cluster";
import type { Caller } from "../../durable-objects/shared/identity";
import { linkVisitors } from "../visitors/home-routes";
import { decideSend, notYours, refusal } from "../../durable-objects/link/send-decision";

/**
 * A room homed on this node, registered here; null when there is no such room
 * (nothing is created by asking). Any other failure (the directory could not
 * answer: a storage fault, an object restarting) is thrown, never turned into
 * null: a caller that answers null with a permanent `not_found` would make the
 * sending node drop from its durable queue a send it already answered
 * `202 queued` (link/send-queue.ts keeps only what is refused for good).
 */
export async function resolveLocalRoom(env: Env, roomId: string) {
  if (typeof roomId !== "string" || homeNode(roomId) !== env.NODE_NAME) return null;
  try {
    await resolveRoom(env, roomId);
  } catch (err) {
    if (asAppError(err)?.code === "not_found") return null;
    throw err;
  }
  return homeRoom(env, roomId);
}
import type { InboxUpdate, RoomActivity } from "../../durable-objects/user/inbox-update";

/**
 * May node `from` act for `userId`? For its own people, always. For a person of
 * this node, only with a session this node issued and still holds: they signed
 * in at `from` as a visitor (worker/visitors/), and whatever ended the session
 * here (sign-out, password change, deactivation) ends this too.
 */
async function mayActFor(env: Env, from: string, userId: string, sessionId: string): Promise<boolean> {
  if (homeNode(userId) === from) return true;
  if (homeNode(userId) !== env.NODE_NAME) return false;
  const user = await resolveUser(env, userId);
  return !!user && (await user.hasSession(sessionId));
}

/** `{items: [{userId, …}]}` with at most 500 items, each naming a user id; null otherwise. */
function parseItems(body: string): ({ userId: string } & Record<string, unknown>)[] | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  const items = (value as { items?: unknown } | null)?.items;
  if (!Array.isArray(items) || items.length > 500) return null;
  return items.every((i) => i && typeof i === "object" && typeof (i as { userId?: unknown }).userId === "string") ? (items as ({ userId: string } & Record<string, unknown>)[]) : null;
}


/** Link bodies are small JSON documents (batches of frames, directory pages). */
const MAX_LINK_BODY = 4 * 1024 * 1024;
/** Nonces seen by this isolate's link endpoints (link-files.ts shares it). */
export const guard = new ReplayGuard();


export function refuse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

export function linkAuth(): MiddlewareHandler<LinkEnv> {
  return async function linkAuth(c, next) {
    const cluster = clusterOf(c.env);
    if (!cluster || !c.env.NODE_PRIVATE_KEY) return refuse(404, "not_found", "no such endpoint");
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > MAX_LINK_BODY) return refuse(413, "too_large", "link bodies are limited");
    const body = c.req.raw.body ? new Uint8Array(await c.req.arrayBuffer()) : new Uint8Array(0);
    if (body.byteLength > MAX_LINK_BODY) return refuse(413, "too_large", "link bodies are limited");
    const url = new URL(c.req.url);
    const verdict = await verifyRequest(cluster, guard, { method: c.req.method, path: url.pathname + url.search, headers: c.req.raw.headers, body });
    if (!verdict.ok) {
      log("warn", "link.request_refused", { why: verdict.why, from: (c.req.header(LINK_HEADERS.from) ?? "?").slice(0, 64), method: c.req.method, path: url.pathname.slice(0, 300) });
      return refuse(401, "unauthorized", `not a signed request of a node of this cluster (${verdict.why})`);
    }
    c.set("linkFrom", verdict.from);
    c.set("linkNonce", verdict.nonce);
    c.set("linkBody", new TextDecoder().decode(body));
    await next();
  };
}

export const link = new Hono<LinkEnv>()
  .use("*", linkAuth())
  // People of this node signing in at the calling node (worker/visitors/home-routes.ts).
  .route("/visitors", linkVisitors)
  .post("/ping", async (c) => {
    const from = c.get("linkFrom");
    const [directoryVersion, presenceWanted] = await Promise.all([directoryStub(c.env).feedVersion(), linkStub(c.env, from).presenceWanted(from)]);
    return linkReply(c, 200, { node: c.env.NODE_NAME, version: c.env.VERSION, protocol: LINK_PROTOCOL_VERSION, time: Date.now(), directoryVersion, presenceWanted } satisfies PingAnswer);
  })
  // The sending node's people's presence (link-presence.ts).
  .route("/presence", linkPresence)
  // Avatars of this node's people, for the other nodes' people (link-avatars.ts).
  .route("/users", linkAvatars)
  // Erasure of the sending node's people from the rooms homed here (link-erasures.ts).
  .route("/erasures", linkErasures)
  // A room homed on the sending node tells members homed here what happened
  // (durable-objects/shared/inbox-delivery.ts). The sender speaks only for its own
  // rooms, and only about members of this node that exist.
  .post("/inbox/updates", async (c) => {
    const items = parseItems(c.get("linkBody"));
    if (!items) return linkReply(c, 400, { error: { code: "invalid_request", message: "items: [{userId, update}]" } });
    for (const item of items) {
      const update = item.update as InboxUpdate;
      const roomId = update?.type === "room.added" ? update.room?.roomId : (update as { roomId?: string })?.roomId;
      if (typeof roomId !== "string" || homeNode(roomId) !== c.get("linkFrom")) return linkReply(c, 403, { error: { code: "forbidden", message: "a node speaks only for its own rooms" } });
      const user = await resolveUser(c.env, item.userId);
      if (!user) return linkReply(c, 404, { error: { code: "not_found", message: `no user ${item.userId} here` } });
      await user.applyInboxUpdate(update);
    }
    return linkReply(c, 200, { ok: true });
  })
  .post("/inbox/activity", async (c) => {
    const items = parseItems(c.get("linkBody"));
    if (!items) return linkReply(c, 400, { error: { code: "invalid_request", message: "items: [{userId, activity}]" } });
    const results = await Promise.all(
      items.map(async (item) => {
        const activity = item.activity as RoomActivity;
        if (typeof activity?.roomId !== "string" || homeNode(activity.roomId) !== c.get("linkFrom")) return null;
        const user = await resolveUser(c.env, item.userId);
        return user ? user.applyActivity(activity).catch(() => null) : null;
      }),
    );
    return linkReply(c, 200, { results });
  })
  // The home of a room pushes what changed to this node's mirror of it (mirror-object.ts).
  .post("/rooms/:id/push", async (c) => {
    const roomId = c.req.param("id");
    if (!ROOM_ID_RE.test(roomId) || homeNode(roomId) !== c.get("linkFrom")) return linkReply(c, 403, { error: { code: "forbidden", message: "a node pushes only its own rooms" } });
    const push = RoomPush.safeParse(JSON.parse(c.get("linkBody") || "null"));
    if (!push.success || push.data.room.id !== roomId) return linkReply(c, 400, { error: { code: "invalid_request", message: "not a room push" } });
    // Registered before the mirror is first touched: local requests for this id reach it from now on.
    await registerMirror(c.env, push.data);
    return linkReply(c, 200, (await storedMirror(c.env, roomId).applyPush(push.data)) satisfies RoomPushAnswer);
  })
  // The same pushes over one WebSocket per (room, node): shared/link-channel.ts. The
  // upgrade is signed like any link request (checked above); the answer is signed over
  // this node's ephemeral key, and the mirror gets the channel's secret with the socket.
  .get("/rooms/:id/stream", async (c) => {
    const roomId = c.req.param("id");
    const from = c.get("linkFrom");
    if (!ROOM_ID_RE.test(roomId) || homeNode(roomId) !== from) return linkReply(c, 403, { error: { code: "forbidden", message: "a node pushes only its own rooms" } });
    // Channels turned off for this node (a proxy in front of it drops upgrades): the answer of a node older than channels.
    if (clusterOf(c.env)?.nodes.find((n) => n.name === c.env.NODE_NAME)?.channels === false) return linkReply(c, 404, { error: { code: "not_found", message: "this node takes pushes as requests" } });
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return linkReply(c, 426, { error: { code: "invalid_request", message: "this endpoint speaks WebSocket: send an Upgrade request" } });
    const offer = await channelOffer();
    const secret = await channelSecret(offer.privateKey, c.req.query(CHANNEL_KEY_PARAM) ?? "", c.get("linkNonce"));
    if (!secret) return linkReply(c, 400, { error: { code: "invalid_request", message: "no valid channel key" } });
    // A home that understands batched answers asks for them (shared/link-channel.ts); an older one is answered push by push.
    const batched = c.req.query(CHANNEL_ACKS_PARAM) === "batch";
    // … and one that takes its members' sends on the channel says so (the mirror uses the link's queue otherwise).
    const sends = c.req.query(CHANNEL_SENDS_PARAM) === "1";
    const res = await storedMirror(c.env, roomId).fetch(new Request("https://mirror/link-channel", { headers: { upgrade: "websocket", [LINK_CHANNEL_HEADER]: channelHandOver(from, roomId, secret, batched, sends) } }));
    if (res.status !== 101 || !res.webSocket) return linkReply(c, 503, { error: { code: "room_unavailable", message: "the mirror did not take the channel" } });
    const signature = await signResponse(await nodeKey(c.env), { nonce: c.get("linkNonce"), status: 101, from: c.env.NODE_NAME, to: from, body: offer.publicKey });
    return new Response(null, { status: 101, webSocket: res.webSocket, headers: { [CHANNEL_KEY_HEADER]: offer.publicKey, [LINK_HEADERS.signature]: signature, [LINK_HEADERS.version]: String(LINK_PROTOCOL_VERSION), ...(batched ? { [CHANNEL_ACKS_HEADER]: "batch" } : {}) } });
  })
  // A member homed on the sending node acts in a room homed here: the room decides, as for anyone.
  .post("/rooms/:id/call", async (c) => {
    const roomId = c.req.param("id");
    const call = LinkCall.safeParse(JSON.parse(c.get("linkBody") || "null"));
    if (!call.success) return linkReply(c, 400, { error: { code: "invalid_request", message: "not a room call" } });
    if (!(await mayActFor(c.env, c.get("linkFrom"), call.data.caller.userId, call.data.caller.sessionId))) return linkReply(c, 403, { error: { code: "forbidden", message: "a node acts only for its own users" } });
    const room = await resolveLocalRoom(c.env, roomId);
    if (!room) return linkReply(c, 404, { error: { code: "not_found", message: "no such room, or you may not see it" } });
    const caller: Caller = { ...call.data.caller, isAdmin: false };
    const [a, b] = call.data.args as never[];
    const value = await (async () => {
      switch (call.data.method) {
        case "join":
          return room.join({ userId: caller.userId, username: caller.username, displayName: caller.displayName });
        case "inboxSummary":
          return room.inboxSummary(caller.userId);
        case "setSendReceipts":
          return room.setSendReceipts(caller.userId, a);
        // The member's home node speaks for its own people's names (checked above).
        case "memberProfileChanged":
          return room.memberProfileChanged(caller.userId, caller.displayName);
        case "typing":
          return room.remoteTyping(caller.userId);
        case "info":
          return room.info(caller);
        case "history":
          return room.history(caller, a);
        case "getMessage":
          return room.getMessage(caller, a);
        case "edit":
          return room.edit(caller, a, b);
        case "remove":
          return room.remove(caller, a);
        case "react":
          return room.react(caller, a, b);
        case "markRead":
          return room.markRead(caller, a);
        case "receipts":
          return room.receipts(caller);
        case "search":
          return room.search(caller, a);
        case "addMember":
          return room.addMember(caller, a);
        case "removeMember":
          return room.removeMember(caller, a);
        case "setRole":
          return room.setRole(caller, a, b);
        case "rename":
          return room.rename(caller, a);
        case "updateRoom":
          return room.updateRoom(caller, a);
      }
    })();
    return linkReply(c, 200, { value: value ?? null });
  })
  // Sends of the sending node's members into rooms homed here, in the order they were
  // queued there. Each is stored once (clientId); a passing fault stops the batch.
  .post("/sends", async (c) => {
    // Every item checked before any is stored: a bad one in the middle refuses the batch, not half of it.
    const items = parseItems(c.get("linkBody"))?.map((raw) => LinkSendItem.safeParse(raw));
    if (!items) return linkReply(c, 400, { error: { code: "invalid_request", message: "items: [LinkSendItem]" } });
    if (items.some((p) => !p.success)) return linkReply(c, 400, { error: { code: "invalid_request", message: "not a send" } });
    const results: LinkSendResult[] = [];
    for (const parsed of items) {
      const item = parsed.data!;
      if (!(await mayActFor(c.env, c.get("linkFrom"), item.userId, item.sessionId))) {
        results.push(notYours(item));
        continue;
      }
      let room;
      try {
        room = await resolveLocalRoom(c.env, item.roomId);
      } catch (err) {
        // The room could not be looked up just now: a passing fault, as below (the rest waits, in order).
        const e = asAppError(err);
        if (!e) log("error", "link.room_lookup_failed", { room: item.roomId, error: errorText(err) });
        return linkReply(c, 200, { results, stopped: e && TRANSIENT_SEND_CODES.has(e.code) ? e.code : "internal" } satisfies LinkSendsAnswer);
      }
      if (!room) {
        results.push(refusal(item, "not_found", "no such room, or you may not see it"));
        continue;
      }
      const r = await decideSend((caller, input) => room.send(caller, input), item);
      // Passing faults: stop here, the sender's node keeps the rest in order and tries again.
      if ("stopped" in r) return linkReply(c, 200, { results, stopped: r.stopped } satisfies LinkSendsAnswer);
      results.push(r);
    }
    return linkReply(c, 200, { results, stopped: null } satisfies LinkSendsAnswer);
  })
  .get("/directory/users", async (c) => {
    const after = Number(c.req.query("after") ?? "0");
    if (!Number.isSafeInteger(after) || after < 0) return linkReply(c, 400, { error: { code: "invalid_request", message: "after: a feed position" } });
    return linkReply(c, 200, (await directoryStub(c.env).feedPage(after)) satisfies DirectoryFeedPage);
  });

/** An error of a link endpoint as a signed answer (unsigned only when the request was never verified). */
export async function linkError(err: unknown, c: Context<LinkEnv>): Promise<Response> {
  const e = asAppError(err);
  if (!e) log("error", "link.request_failed", { method: c.req.method, path: new URL(c.req.url).pathname.slice(0, 300), error: errorText(err) });
  const status = e?.status ?? 500;
  const body = { error: { code: e?.code ?? "internal", message: e?.detail ?? "internal error" } };
  return c.get("linkNonce") ? linkReply(c, status, body) : Response.json(body, { status });
}

link.onError(linkError);
link.notFound((c) => (c.get("linkNonce") ? linkReply(c, 404, { error: { code: "not_found", message: "no such link endpoint" } }) : refuse(404, "not_found", "no such endpoint")));
