/**
 * Downloading a compliance export (`GET /api/v1/admin/export`) in the
 * browser, loaded on first use. The answer is read as a stream so the screen
 * can show how much has arrived (the node streams it: nothing tells the total
 * size up front, and a room export says its message count), then handed to
 * the browser as a download named as the node named it.
 *
 * The browser holds the export in memory until it is saved (a Blob); for a
 * room of many gigabytes of files `npm run export` on the node's machine is
 * the tool (docs/OPERATIONS.md says so).
 */
export interface ExportProgress {
  bytes: number;
  /** messages in a room export, when the node said */
  messages: number | null;
}

export async function downloadExport(query: { room: string } | { user: string }, format: "zip" | "csv", onProgress: (p: ExportProgress) => void): Promise<void> {
  const params = new URLSearchParams("room" in query ? { room: query.room } : { user: query.user });
  params.set("format", format);
  const res = await fetch(`/api/v1/admin/export?${params}`, { credentials: "same-origin" });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw Object.assign(new Error(body?.error?.message ?? `HTTP ${res.status}`), { status: res.status, code: body?.error?.code ?? "" });
  }
  const total = res.headers.get("x-export-messages");
  const progress: ExportProgress = { bytes: 0, messages: total === null ? null : Number(total) };
  const parts: Uint8Array[] = [];
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    progress.bytes += value.byteLength;
    onProgress({ ...progress });
  }
  const blob = new Blob(parts as BlobPart[], { type: res.headers.get("content-type") ?? "application/octet-stream" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName(res.headers.get("content-disposition")) ?? `outpost-export.${format}`;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked after the browser has taken the download over.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The `filename*` (RFC 8187, UTF-8) or `filename` of a Content-Disposition header. */
function fileName(header: string | null): string | null {
  if (!header) return null;
  const ext = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (ext) {
    try {
      return decodeURIComponent(ext[1]);
    } catch {
      // fall through to the plain name
    }
  }
  return /filename="([^"]*)"/i.exec(header)?.[1] ?? null;
}
