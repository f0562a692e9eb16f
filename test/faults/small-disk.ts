/**
 * A small disk for a node's data folder, for the disk-full fault tests
 * (disk-full.test.ts, audit-load.test.ts): a real tmpfs of a given size, so
 * the node meets a real ENOSPC where it writes, and a way to fill it to the
 * last byte and free it again.
 *
 * Mounting needs root (CI and the dev machines run as root).
 *
 * @example
 *   const mnt = mountSmallDisk("outpost-diskfull-", "12m");
 *   const free = fillDisk(mnt);  ...  free();
 *   unmountSmallDisk(mnt);
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";

/** A fresh folder with a tmpfs of `size` (as mount takes it: "12m") on it. */
export function mountSmallDisk(prefix: string, size: string): string {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]);
  return mnt;
}

/** Unmount and remove it; quiet when it is already gone (a failed set-up). */
export function unmountSmallDisk(mnt: string): void {
  try {
    execFileSync("umount", [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  } catch {
    // already gone
  }
}

/** Fill the disk until the kernel says ENOSPC; returns what frees the space again. */
export function fillDisk(mnt: string): () => void {
  const filler = path.join(mnt, "filler");
  const fd = fs.openSync(filler, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC");
  }
  fs.closeSync(fd);
  return () => fs.unlinkSync(filler);
}
