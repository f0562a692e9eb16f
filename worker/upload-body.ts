/**
 * The body of an upload request, read once, in order, by one reader: as raw
 * bytes (`Content-Type` is the file's type) or as `multipart/form-data` with
 * exactly one file part (what `curl -F`, HTML forms and most SDKs send). Either
 * way the route sees the same thing: the file's type, the name the client gave
 * it, and its bytes as they arrive, never the whole file in memory.
 *
 * Why a refused upload is read to its end before the answer: an HTTP/1.1
 * server that answers while the client is still sending and then closes the
 * connection makes the kernel reset it (unread bytes were pending), and a
 * client that sends its whole body before reading the answer (Node's fetch,
 * most SDKs) then sees ECONNRESET instead of the 404 or 415 it was sent.
 * workerd itself reads on for only 64 KiB or one second. So on any refusal
 * the route calls `discardRest()`, which reads and drops the rest of the body
 * up to `budget` bytes in all, the most a legitimate upload could send, and
 * then gives up (the node stops reading and the connection is closed).
 */
import { AppError } from "../durable-objects/shared/app-error";
import { parsePartDisposition } from "./content-disposition";
import { boundaryOf, MultipartError, MultipartParser, type MultipartEvent } from "./multipart";

/** What a form may carry besides the file's bytes: part headers, other fields, boundaries. */
export const FORM_OVERHEAD_BYTES = 1024 * 1024;

/** A form with more parts than this is refused (a file and a few fields is what clients send). */
export const MAX_FORM_PARTS = 100;

/** Reads a request body chunk by chunk, counting, and refuses to read past `budget` bytes. */
export class RequestBody {
  /** bytes read so far */
  total = 0;
  private finished = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | null;
  private readonly declared: number | null;
  private readonly expectsContinue: boolean;

  constructor(
    request: Request,
    /** the most this request may send, in bytes */
    readonly budget: number,
  ) {
    this.reader = request.body ? request.body.getReader() : null;
    const length = request.headers.get("content-length");
    this.declared = length !== null && /^\d+$/.test(length) ? Number(length) : null;
    this.expectsContinue = /100-continue/i.test(request.headers.get("expect") ?? "");
    if (!this.reader) this.finished = true;
  }

  get hasBody(): boolean {
    return this.reader !== null;
  }

  /** The declared Content-Length, if any. */
  get declaredLength(): number | null {
    return this.declared;
  }

  /** The next chunk, or null at the end. Throws `too_large` past the budget; a client abort rejects. */
  async read(): Promise<Uint8Array | null> {
    if (this.finished || !this.reader) return null;
    const { done, value } = await this.reader.read();
    if (done) {
      this.finished = true;
      return null;
    }
    this.total += value.byteLength;
    if (this.total > this.budget) throw new AppError("too_large", `this request's body exceeds ${this.budget} bytes`);
    return value;
  }

  /**
   * Read and drop whatever the client is still sending, so that it can read the
   * answer (see the top of this file). Bounded: stops at `budget` bytes in all. Not
   * attempted when the client declared more than that (it cannot succeed), or waits
   * for `100 Continue` and has sent nothing yet (workerd never sends one, so it
   * reads our answer first and sends no body at all; curl does this).
   */
  async discardRest(): Promise<void> {
    if (this.finished || !this.reader) return;
    const hopeless = this.declared !== null && this.declared > this.budget;
    if (!hopeless && !(this.expectsContinue && this.total === 0)) {
      try {
        while (this.total <= this.budget) {
          const { done, value } = await this.reader.read();
          if (done) {
            this.finished = true;
            return;
          }
          this.total += value.byteLength;
        }
      } catch {
        return; // the client went away: nobody to answer
      }
    }
    this.finished = true;
    await this.reader.cancel().catch(() => {});
  }
}

/** An upload's file, whichever way it was sent. */
export interface UploadSource {
  /** media type, lower-case, without parameters (not yet checked against the allowed list) */
  type: string;
  /** the name the client gave the file inside the body (a form part's filename), or null */
  filename: string | null;
  /** true when the body is a form (so its Content-Length is not the file's size) */
  form: boolean;
  /**
   * The next bytes of the file, or null once the file and the body have ended
   * properly. Throws AppError (`invalid_request`, `too_large`) on a malformed body;
   * a client abort rejects with the runtime's error.
   */
  next(): Promise<Uint8Array | null>;
}

/** The media type a Content-Type names (lower-case, no parameters). */
export function mediaType(contentType: string | null | undefined, fallback: string): string {
  return (contentType ?? fallback).split(";")[0].trim().toLowerCase() || fallback;
}

/**
 * Open the upload in `body`: multipart/form-data is read up to its file part's
 * headers (so the part's type and name are known); anything else is the file itself.
 */
export async function openUpload(request: Request, body: RequestBody): Promise<UploadSource> {
  const contentType = request.headers.get("content-type");
  if (mediaType(contentType, "application/octet-stream") !== "multipart/form-data") {
    return { type: mediaType(contentType, "application/octet-stream"), filename: null, form: false, next: () => body.read() };
  }
  try {
    return await openForm(boundaryOf(contentType), body);
  } catch (err) {
    throw err instanceof MultipartError ? new AppError("invalid_request", err.message) : err;
  }
}

/**
 * The file part of a form. Which part is the file: the first with a `filename`
 * (what browsers, curl -F and FormData send for a file), or else one named
 * `file`. Other fields before or after it are skipped unread (the route has no
 * use for them, and refusing them would break forms that add a field); a second
 * file is refused, so that no client believes both were stored.
 */
async function openForm(boundary: string, body: RequestBody): Promise<UploadSource> {
  const parser = new MultipartParser(boundary);
  const queue: MultipartEvent[] = [];
  let parts = 0;
  let inputDone = false;
  const fill = async (): Promise<void> => {
    const chunk = await body.read();
    if (chunk === null) {
      inputDone = true;
      queue.push(...parser.end());
    } else queue.push(...parser.push(chunk));
  };
  const wrap = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (err) {
      throw err instanceof MultipartError ? new AppError("invalid_request", err.message) : err;
    }
  };
  const isFile = (headers: Map<string, string>) => {
    parts += 1;
    if (parts > MAX_FORM_PARTS) throw new AppError("invalid_request", `a form may have at most ${MAX_FORM_PARTS} parts`);
    const disposition = parsePartDisposition(headers.get("content-disposition") ?? "");
    return disposition.filename !== null || disposition.name === "file" ? disposition : null;
  };

  // Skip to the file part's headers.
  const file = await wrap(async () => {
    for (;;) {
      while (queue.length === 0) {
        if (inputDone) throw new AppError("invalid_request", "the form has no file part (send the file as a part with a filename)");
        await fill();
      }
      const ev = queue.shift()!;
      if (ev.type === "end") throw new AppError("invalid_request", "the form has no file part (send the file as a part with a filename)");
      if (ev.type !== "part") continue;
      const disposition = isFile(ev.headers);
      if (!disposition) continue;
      const encoding = (ev.headers.get("content-transfer-encoding") ?? "binary").toLowerCase();
      if (!["binary", "8bit", "7bit"].includes(encoding)) {
        throw new AppError("invalid_request", `Content-Transfer-Encoding ${encoding.slice(0, 40)} is not supported; send the file's bytes as they are`);
      }
      // RFC 7578 §4.4: a file part without a type is application/octet-stream.
      return { type: mediaType(ev.headers.get("content-type"), "application/octet-stream"), filename: disposition.filename };
    }
  });

  let inFile = true;
  return {
    ...file,
    form: true,
    next: () =>
      wrap(async () => {
        for (;;) {
          if (queue.length === 0) {
            if (inputDone) return null;
            await fill();
            continue;
          }
          const ev = queue.shift()!;
          if (ev.type === "data") {
            if (inFile) return ev.bytes;
          } else if (ev.type === "part-end") {
            inFile = false;
          } else if (ev.type === "part") {
            if (isFile(ev.headers)) throw new AppError("invalid_request", "send one file per request (this form has more than one)");
          }
          // Other fields' data, and after "end" the epilogue, are read to the end of
          // the body (so the connection stays usable) and dropped.
        }
      }),
  };
}
