// Types for files-sweep.mjs.
export function sweepPartialUploads(filesDir: string): { removed: string[]; bytes: number };
