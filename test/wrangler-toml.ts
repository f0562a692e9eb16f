/**
 * wrangler.toml as the tests read it (test/config.test.ts, test/deploy.test.ts): parsed
 * with smol-toml, then checked against the shape the tests rely on, so a field that went
 * missing or changed type fails here, by name, instead of as `undefined` further on.
 * Unknown keys are kept: config.test.ts lists them to catch a new kind of binding.
 */
import fs from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { repoRoot } from "../ops/build.mjs";

const WranglerToml = z.looseObject({
  main: z.string(),
  compatibility_date: z.string(),
  compatibility_flags: z.array(z.string()),
  vars: z.record(z.string(), z.json()).optional(),
  durable_objects: z.looseObject({ bindings: z.array(z.looseObject({ name: z.string(), class_name: z.string() })) }).optional(),
  r2_buckets: z.array(z.looseObject({ binding: z.string(), bucket_name: z.string() })).optional(),
  migrations: z.array(z.looseObject({ new_sqlite_classes: z.array(z.string()).optional(), new_classes: z.array(z.string()).optional() })),
  rules: z.array(z.looseObject({ type: z.string(), globs: z.array(z.string()) })).optional(),
});
export type WranglerToml = z.infer<typeof WranglerToml>;

export function readWranglerToml(): WranglerToml {
  return WranglerToml.parse(parseToml(fs.readFileSync(path.join(repoRoot, "wrangler.toml"), "utf8")));
}
