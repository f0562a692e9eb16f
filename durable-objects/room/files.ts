/**
 * Files in a room: an upload is recorded (its bytes are already in the file
 * store), visible to its uploader until a message shares it, then to every
 * member; recalling the message deletes it. Who may see a file is decided
 * here, at the moment of asking.
 */
import type { Attachment } from "../../protocol/models";
import { AppError } from "../shared/app-error";
import type { Caller } from "../shared/identity";
import type { RoomState } from "./room-state";
import type { RoomStore } from "./store/room-store";

export interface UploadedFile {
  id: string;
  name: string;
  size: number;
  contentType: string;
  sha256: string;
  storageKey: string;
}

export class RoomFiles {
  constructor(
    private readonly state: RoomState,
    private readonly store: RoomStore,
    /** told of each upload: one no message shares within a day is removed (upload-sweep.ts) */
    private readonly uploaded: (createdAt: number) => void,
  ) {}

  /** Record an uploaded file (bytes already stored). It is shared when a message names it. */
  register(caller: Caller, f: UploadedFile): Attachment {
    this.state.requireMember(caller.userId);
    const createdAt = Date.now();
    this.store.files.insert({ ...f, uploaderId: caller.userId, createdAt, messageSeq: null });
    this.uploaded(createdAt);
    return { id: f.id, name: f.name, size: f.size, contentType: f.contentType, sha256: f.sha256 };
  }

  /** A file's metadata, for a current member only; null looks like "no such file" to everyone else. */
  forDownload(caller: Caller, fileId: string): Omit<UploadedFile, "id"> | null {
    if (!this.state.isMember(caller.userId)) return null;
    const f = this.store.files.get(fileId);
    // Unshared uploads are visible to their uploader only.
    if (!f || (f.messageSeq === null && f.uploaderId !== caller.userId)) return null;
    // Each download answered is recorded first (fail closed: no record, no bytes). A ranged
    // re-fetch of the same file (a resumed download, a media player seeking) is recorded each time too.
    this.store.transaction(() => this.store.audit.record({ actor: caller.userId, action: "file.downloaded", roomId: this.state.meta?.id ?? null, detail: { file: fileId, name: f.name.slice(0, 200), size: f.size } }));
    return { name: f.name, size: f.size, contentType: f.contentType, sha256: f.sha256, storageKey: f.storageKey };
  }

  /**
   * Claim `userId`'s upload for the message they are sending: only their own,
   * and only one no message shares yet. The claim is written with the message
   * (RoomStore.insertMessage), so a message that fails to store claims nothing.
   */
  claimUpload(userId: string, fileId: string): Attachment {
    const f = this.store.files.get(fileId);
    if (!f || f.uploaderId !== userId) throw new AppError("invalid_request", `no file ${fileId} uploaded by you in this room`);
    if (f.messageSeq !== null) throw new AppError("invalid_request", `file ${fileId} is already shared in a message`);
    return { id: f.id, name: f.name, size: f.size, contentType: f.contentType, sha256: f.sha256 };
  }

  /**
   * A message is recalled: its files go with it. Inside the recall's
   * transaction; the bytes are deleted from the file store through the
   * outbox, retried until done (kept under a legal hold).
   */
  deleteWithMessage(seq: number, now: number, keepBytes = false): void {
    for (const f of this.store.files.ofMessage(seq)) {
      this.store.files.delete(f.id);
      // Under a legal hold the bytes stay (the hold's copy names them: messages.ts keepForHold).
      if (!keepBytes) this.store.outbox.enqueue("", { type: "file.delete", storageKey: f.storageKey }, now);
    }
  }
}
