/**
 * Ids as they arrive on the wire, and the client's idempotency key: the
 * schemas request bodies (rest.ts), socket frames (frames.ts) and device
 * frames (device.ts) share. A file of their own so that the frames do not
 * pull every request body into a client's bundle.
 */
import { z } from "zod";
import { CLIENT_ID_CHARS, CLIENT_ID_MAX, ROOM_ID_RE, USER_ID_RE, MESSAGE_ID_RE, FILE_ID_RE } from "./ids";
import { MAX_ATTACHMENTS } from "./limits";

export const UserIdSchema = z.string().regex(USER_ID_RE, "not a user id");
export const RoomIdSchema = z.string().regex(ROOM_ID_RE, "not a room id");
export const MessageIdSchema = z.string().regex(MESSAGE_ID_RE, "not a message id");
export const FileIdSchema = z.string().regex(FILE_ID_RE, "not a file id");
/** Files to share with a message: uploaded first (POST /api/v1/rooms/{id}/files) by the sender, into the same room. */
export const AttachmentIdsSchema = z.array(FileIdSchema).min(1).max(MAX_ATTACHMENTS);

/** A client's own id for a message, so a retry is recognised (idempotency key). */
export const ClientIdSchema = z
  .string()
  .min(1)
  .max(CLIENT_ID_MAX)
  .regex(new RegExp(`^[${CLIENT_ID_CHARS}]+$`), "letters, digits, '.', '_', ':' or '-'");
