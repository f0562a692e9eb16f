import fs from "node:fs";
import path from "node:path";

/** Every `*.sqlite` under a data (or backup) folder, as full paths: the object databases a node wrote. */
export function sqliteFiles(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((rel) => rel.endsWith(".sqlite")).map((rel) => path.join(root, rel));
}
