/**
 * Uploading a file's bytes: with XMLHttpRequest in browsers (so progress is
 * reported while bytes go out), with fetch elsewhere or when the client was
 * given its own fetch (progress only at the end).
 */
import { AttachmentSchema, type Attachment } from "../protocol/models";
import { parseAnswer } from "./answers";
import { OutpostApiError } from "./errors";

export interface UploadOptions {
  /** stored name (default: the File's own name, else "file") */
  name?: string;
  /** called as bytes go out: with XMLHttpRequest (browsers) during the upload, with fetch only at the end */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

interface Target {
  url: string;
  /** "POST /rooms/…/files", for error messages */
  what: string;
  token: string | null;
  /** the client's own fetch, if it was given one (then XMLHttpRequest is not used) */
  fetch: typeof fetch | null;
}

export function uploadBlob(target: Target, file: Blob, options: UploadOptions): Promise<Attachment> {
  const { url, what, token } = target;
  const type = file.type || "application/octet-stream";
  if (typeof XMLHttpRequest === "undefined" || target.fetch) {
    const fetchImpl = target.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
    return (async () => {
      const headers: Record<string, string> = { accept: "application/json", "content-type": type };
      if (token) headers.authorization = `Bearer ${token}`;
      let res: Response;
      try {
        res = await fetchImpl(url, { method: "POST", headers, body: file, credentials: "same-origin", signal: options.signal });
      } catch (err) {
        throw options.signal?.aborted ? new OutpostApiError(0, "aborted", "the upload was cancelled") : new OutpostApiError(0, "network", `the node could not be reached (${(err as Error).message})`);
      }
      const out = parseAnswer(res.status, await res.text(), what, AttachmentSchema);
      options.onProgress?.(file.size, file.size);
      return out;
    })();
  }
  return new Promise<Attachment>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("content-type", type);
    xhr.setRequestHeader("accept", "application/json");
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => options.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      try {
        resolve(parseAnswer(xhr.status, xhr.responseText, what, AttachmentSchema));
      } catch (err) {
        reject(err);
      }
    };
    xhr.onerror = () => reject(new OutpostApiError(0, "network", "the node could not be reached"));
    xhr.onabort = () => reject(new OutpostApiError(0, "aborted", "the upload was cancelled"));
    if (options.signal) {
      if (options.signal.aborted) return reject(new OutpostApiError(0, "aborted", "the upload was cancelled"));
      options.signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}
