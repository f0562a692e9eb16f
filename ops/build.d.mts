// Types for build.mjs.
import type { LogLevel } from "esbuild";

export const repoRoot: string;
export const DEFAULT_ENTRY: string;
export const DEFAULT_OUTFILE: string;
/** Bundles the Worker; resolves with the absolute path of the bundle. */
export function build(options?: { entry?: string; outfile?: string; logLevel?: LogLevel }): Promise<string>;
