/**
 * Every export goes through `startExport`: who may export (node
 * administrators), what (a room homed here, or a person of this node, both
 * found through the id resolver, so an unknown id touches no object and
 * creates no file), the audit record (fail closed: none, no export), and the
 * streamed answer.
 *
 * Where the export is made, and why here: the Worker writes the zip (or CSV)
 * on the fly as the HTTP answer of `GET /api/v1/admin/export`, pulling
 * history from the room objects a page at a time (RPC) and files from the
 * file store, so memory stays flat. One implementation serves the web
 * client's "Export" buttons and `npm run export` (ops/export.mjs, a thin
 * client of this endpoint), and it works wherever the node runs (a
 * self-hosted node, or a Cloudflare deployment where the SQLite files are
 * out of reach of node-side tools). Reading the data folder directly with
 * better-sqlite3 (as backups do) would have meant a second writer for the
 * same format and a second set of rules for who may see what.
 *
 * A room homed on another node is refused (409 `not_home_node`): this node's
 * mirror holds only what its own members were sent, which is not the room's
 * record; the home node's administrators export it there.
 *
 * Progress: the answer is chunked; `X-Export-Messages` says up front how many
 * messages a room export holds (the web client shows bytes received so far,
 * the CLI bytes and that total). A failure half-way aborts the stream: the
 * zip then lacks its central directory and manifest, and no reader takes it
 * for a complete export (the CLI keeps it only under `<out>.partial`).
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { AppError, notFound } from "../../durable-objects/shared/app-error";
import { directoryStub, resolveRoom, resolveUser } from "../../durable-objects/shared/objects";
import { homeNode } from "../../protocol/ids";
import type { ExportManifest, ExportQuery } from "../../protocol/export";
import { contentDisposition } from "../content-disposition";
import { roomExport } from "./room-export";
import { userExport } from "./user-export";

/** What one export writes (its bytes through `out`, in order; `out`'s promise is the backpressure). */
export interface ExportTarget {
  run(out: (chunk: Uint8Array) => Promise<void>, meta: Pick<ExportManifest, "node" | "version" | "exportedAt" | "exportedBy" | "query">): Promise<void>;
}

export async function startExport(c: Context<AppEnv>, query: ExportQuery): Promise<Response> {
  const caller = c.get("caller");
  const env = c.env;
  if (!caller.isAdmin) throw new AppError("forbidden", "only administrators can export");
  let target: ExportTarget;
  let name: string;
  const headers = new Headers();
  if (query.room !== undefined) {
    if (homeNode(query.room) !== env.NODE_NAME) {
      // Checked before resolving: the resolver would hand back this node's mirror.
      await resolveRoom(env, query.room); // an unknown id is still 404, not a hint that it exists elsewhere
      throw new AppError("not_home_node", `room ${query.room} is homed on node ${homeNode(query.room)}: export it there (this node holds only a mirror)`);
    }
    const room = await resolveRoom(env, query.room);
    const head = await room.exportHead(caller); // 404 for a room registered but never created
    headers.set("X-Export-Messages", String(head.messageCount));
    target = roomExport(env, caller, room, query.format);
    name = `outpost-room-${query.room.replace("@", "-")}`;
  } else {
    const user = (await resolveUser(env, query.user!)) && (await directoryStub(env).getUser(query.user!));
    if (!user) throw notFound("user");
    target = userExport(env, caller, user, query.format);
    name = `outpost-user-${query.user!.replace("@", "-")}`;
  }
  const exportedAt = Date.now();
  name += `-${new Date(exportedAt).toISOString().slice(0, 10)}.${query.format}`;

  // The audit record (`export.room` / `export.user`) is committed before the
  // answer exists: if it cannot be written this throws (503 storage_error) and
  // no byte is sent. It goes to the directory's chain, for both kinds: a
  // person's export reads many rooms (no one room's transaction could hold it),
  // and one path for both keeps one rule; the directory's RPC returns only
  // after the record's commit (its output gate), and the node-signed
  // checkpoint covers it at once. The room's chain would only ever see room
  // exports, and nothing of a room changes with an export.
  await directoryStub(env).recordExport(caller.userId, query.room !== undefined ? { roomId: query.room } : { userId: query.user! }, query.format);

  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const out = async (chunk: Uint8Array) => {
    await writer.ready;
    await writer.write(chunk);
  };
  const meta = {
    node: env.NODE_NAME,
    version: env.VERSION,
    exportedAt,
    exportedBy: caller.userId,
    query: query.room !== undefined ? { room: query.room } : { user: query.user! },
  };
  c.executionCtx.waitUntil(
    target.run(out, meta).then(
      () => writer.close(),
      (err: unknown) => {
        console.error("export failed", JSON.stringify(meta.query), (err as Error)?.message ?? err);
        return writer.abort(err);
      },
    ),
  );
  headers.set("Content-Type", query.format === "zip" ? "application/zip" : "text/csv; charset=utf-8");
  headers.set("Content-Disposition", contentDisposition("attachment", name));
  headers.set("Cache-Control", "no-store");
  headers.set("X-Content-Type-Options", "nosniff");
  return new Response(readable, { status: 200, headers });
}
