/**
 * `GET /link/v1/users/{id}/avatar`: the avatar of a person homed on this node,
 * for another node of the cluster whose people see them (worker/avatars.ts
 * asks). At most 256 KB, so it travels as a signed JSON answer (base64url),
 * not as a framed stream like room files (link-files.ts); the asking node
 * checks the bytes against the hash its directory holds before serving them.
 *
 * Only ids of this node's own people are looked up, in the directory only:
 * a made-up id touches no object (as for every id from outside).
 */
import { Hono } from "hono";
import { b64url } from "../../durable-objects/shared/bytes";
import { directoryStub } from "../../durable-objects/shared/objects";
import { USER_ID_RE, homeNode } from "../../protocol/ids";
import { readStoredAvatar } from "../avatars";
import { linkReply, type LinkEnv } from "./link-reply";

/** The answer: the current avatar's hash and its bytes. */
export interface LinkAvatarAnswer {
  avatar: string;
  data: string;
}

export const linkAvatars = new Hono<LinkEnv>().get("/:id/avatar", async (c) => {
  const id = c.req.param("id");
  const user = USER_ID_RE.test(id) && homeNode(id) === c.env.NODE_NAME ? await directoryStub(c.env).getUser(id) : null;
  const bytes = user?.avatar ? await readStoredAvatar(c.env, id, user.avatar) : null;
  if (!user?.avatar || !bytes) return linkReply(c, 404, { error: { code: "not_found", message: "no such avatar" } });
  return linkReply(c, 200, { avatar: user.avatar, data: b64url(bytes) } satisfies LinkAvatarAnswer);
});
