/**
 * Files being attached in the composer, per room: uploaded at once (with
 * progress), sent with the next message. Failed ones stay, with a translated
 * reason, until dismissed. Images get a local preview (a blob: URL).
 */
import { OutpostApiError, type Attachment } from "../../sdk/index";
import { api, changed } from "./store";
import { t } from "./i18n";
import { MAX_ATTACHMENTS } from "../../protocol/limits";
import { errorText } from "./error-messages";

export interface Upload {
  key: number;
  roomId: string;
  name: string;
  size: number;
  type: string;
  loaded: number;
  status: "uploading" | "done" | "error";
  error?: string;
  attachment?: Attachment;
  /** blob: URL of a local image, for the chip */
  preview?: string;
  abort: AbortController;
}

export const uploads: Upload[] = [];
/** A note for the whole composer (too many files). */
export const notes = new Map<string, string>();
let counter = 0;

export function roomUploads(roomId: string): Upload[] {
  return uploads.filter((u) => u.roomId === roomId);
}

export function addFiles(roomId: string, files: Iterable<File>): void {
  const list = [...files];
  if (!list.length) return;
  const room = roomUploads(roomId).filter((u) => u.status !== "error");
  const left = MAX_ATTACHMENTS - room.length;
  if (list.length > left) notes.set(roomId, t("tooManyFiles", { n: MAX_ATTACHMENTS }));
  else notes.delete(roomId);
  for (const file of list.slice(0, Math.max(0, left))) start(roomId, file);
  changed();
}

function start(roomId: string, file: File): void {
  const u: Upload = {
    key: ++counter,
    roomId,
    name: file.name || "file",
    size: file.size,
    type: file.type || "application/octet-stream",
    loaded: 0,
    status: "uploading",
    abort: new AbortController(),
    preview: /^image\/(png|jpeg|gif|webp)$/.test(file.type) ? URL.createObjectURL(file) : undefined,
  };
  uploads.push(u);
  api
    .uploadFile(roomId, file, {
      name: u.name,
      signal: u.abort.signal,
      onProgress: (loaded) => {
        u.loaded = loaded;
        changed();
      },
    })
    .then((a) => {
      u.status = "done";
      u.loaded = u.size;
      u.attachment = a;
    })
    .catch((err: unknown) => {
      if (err instanceof OutpostApiError && err.code === "aborted") return;
      u.status = "error";
      u.error = describe(err, u);
      if (u.preview) URL.revokeObjectURL(u.preview);
      u.preview = undefined;
    })
    .finally(changed);
}

function describe(err: unknown, u: Upload): string {
  if (err instanceof OutpostApiError) {
    if (err.code === "too_large" || err.status === 413) return t("fileTooLarge", { name: u.name });
    if (err.code === "unsupported_media_type" || err.status === 415) return t("fileTypeNotAllowed", { name: u.name, type: u.type });
  }
  return t("uploadFailed", { name: u.name, message: errorText(err) });
}

export function removeUpload(u: Upload): void {
  u.abort.abort();
  if (u.preview) URL.revokeObjectURL(u.preview);
  const i = uploads.indexOf(u);
  if (i >= 0) uploads.splice(i, 1);
  notes.delete(u.roomId);
  changed();
}

/** The uploaded files of a room, taken for sending (the chips go away; failed ones stay). */
export function takeReady(roomId: string): Attachment[] {
  const ready = roomUploads(roomId).filter((u) => u.status === "done");
  for (const u of ready) removeUpload(u);
  return ready.map((u) => u.attachment!);
}

export function busy(roomId: string): boolean {
  return roomUploads(roomId).some((u) => u.status === "uploading");
}
