/**
 * An export zip being written: JSON and JSON Lines entries, files from the
 * file store, and at the end `manifest.json` naming every other entry with
 * its size and SHA-256 (protocol/export.ts `ExportManifestSchema`).
 */
import { EXPORT_FORMAT, EXPORT_FORMAT_VERSION, type ExportManifest } from "../../protocol/export";
import type { Env } from "../../durable-objects/shared/env";
import { fileStoreOf } from "../../durable-objects/shared/file-store";
import { ZipWriter } from "./zip-writer";

const encoder = new TextEncoder();

/** A JSON Lines entry open for writing: one object per line. */
export interface JsonLines {
  line(record: unknown): Promise<void>;
  /** Several records at once (a page: one encode and one write instead of one per record). */
  lines(records: readonly unknown[]): Promise<void>;
  end(): Promise<void>;
}

export class ExportArchive {
  readonly zip: ZipWriter;
  private readonly entries: ExportManifest["entries"] = [];
  readonly notes: string[] = [];
  readonly counts: Record<string, number> = {};

  constructor(
    out: (chunk: Uint8Array) => Promise<void>,
    private readonly env: Env,
  ) {
    this.zip = new ZipWriter(out);
  }

  count(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  async json(path: string, value: unknown): Promise<void> {
    const done = await this.zip.add(path, encoder.encode(JSON.stringify(value, null, 2) + "\n"), { deflate: true });
    this.entries.push({ path, ...done });
  }

  jsonl(path: string): JsonLines {
    const entry = this.zip.entry(path, { deflate: true });
    return {
      line: (record) => entry.write(encoder.encode(JSON.stringify(record) + "\n")),
      lines: async (records) => {
        if (records.length) await entry.write(encoder.encode(records.map((r) => JSON.stringify(r)).join("\n") + "\n"));
      },
      end: async () => {
        this.entries.push({ path, ...(await entry.end()) });
      },
    };
  }

  /**
   * A stored file's bytes as entry `files/<id>/<name>`, streamed from the file
   * store; null (and a note) when the bytes are missing or the store fails, so
   * one lost file does not cost the whole export.
   */
  async file(f: { id: string; name: string; size: number; storageKey: string; roomId: string }): Promise<string | null> {
    const path = `files/${safeSegment(f.id)}/${safeSegment(f.name) || "file"}`;
    const stored = await fileStoreOf(this.env)
      ?.get(f.storageKey)
      .catch(() => null);
    if (!stored?.body || stored.size !== f.size) {
      await stored?.body?.cancel();
      this.notes.push(`file ${f.id} of room ${f.roomId} (${f.name}): its bytes are missing or damaged in the file store`);
      return null;
    }
    const entry = this.zip.entry(path, { deflate: false, zip64: f.size >= 0xfff00000 });
    const reader = stored.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await entry.write(value);
    }
    this.entries.push({ path, ...(await entry.end()) });
    this.count("fileBytes", f.size);
    return path;
  }

  /** Bytes in memory as one entry (an avatar). */
  async bytes(path: string, bytes: Uint8Array): Promise<void> {
    this.entries.push({ path, ...(await this.zip.add(path, bytes, { deflate: false })) });
  }

  /** The manifest, then the central directory: the archive is complete. */
  async finish(head: Pick<ExportManifest, "node" | "version" | "exportedAt" | "exportedBy" | "query">): Promise<void> {
    const manifest: ExportManifest = {
      format: EXPORT_FORMAT,
      formatVersion: EXPORT_FORMAT_VERSION,
      ...head,
      counts: this.counts,
      entries: this.entries,
      notes: this.notes,
    };
    await this.zip.add("manifest.json", encoder.encode(JSON.stringify(manifest, null, 2) + "\n"), { deflate: true });
    await this.zip.finish();
  }
}

/**
 * A name as one safe path segment inside the zip: no separators, no `..`, no
 * control characters, at most 120 characters (unzip tools write entries to
 * disk by these names, so an uploader's file name must not climb out).
 */
export function safeSegment(name: string): string {
  const cleaned = name
    .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, "_")
    .replace(/^\.+/, "_")
    .trim();
  return [...cleaned].slice(0, 120).join("");
}
