/**
 * Progress of a long ops command (backup, restore, verify) on stderr: on a
 * terminal one line rewritten in place (at most ten times a second); in a log
 * or a pipe a plain line at every tenth of the work, so a log stays short and
 * readable.
 *
 * @example
 *   const progress = progressLine("backup", { files: 120, bytes: 5e8 });
 *   progress.add(0, 1 << 20);   // bytes as they pass
 *   progress.add(1, 0);         // a file done
 *   progress.end();
 */

const MB = 1024 * 1024;

/** @param {number} bytes */
export const mb = (bytes) => (bytes / MB).toFixed(1);

/**
 * @param {string} label
 * @param {{ files: number, bytes: number }} total  bytes may be an estimate (a database grows while copied)
 * @param {NodeJS.WriteStream} [stream]
 */
export function progressLine(label, total, stream = process.stderr) {
  const tty = Boolean(stream.isTTY);
  let files = 0;
  let bytes = 0;
  let lastDraw = 0;
  let lastTenth = -1;
  let lastPrinted = "";
  const text = () => `${label}: ${files}/${Math.max(total.files, files)} files, ${mb(bytes)}/${mb(Math.max(total.bytes, bytes))} MB`;
  const draw = (final = false) => {
    if (tty) {
      const now = Date.now();
      if (!final && now - lastDraw < 100) return;
      lastDraw = now;
      stream.write(`\r${text()}\x1b[K${final ? "\n" : ""}`);
      return;
    }
    const share = Math.max(total.files ? files / total.files : 1, total.bytes ? Math.min(1, bytes / total.bytes) : 1);
    const tenth = Math.floor(share * 10);
    const line = text();
    if ((final || tenth > lastTenth) && line !== lastPrinted) {
      lastTenth = tenth;
      lastPrinted = line;
      stream.write(`${line}\n`);
    }
  };
  return {
    /** @param {number} doneFiles @param {number} doneBytes */
    add(doneFiles, doneBytes) {
      files += doneFiles;
      bytes += doneBytes;
      draw();
    },
    end() {
      draw(true);
    },
  };
}
