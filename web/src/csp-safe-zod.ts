/**
 * Imported first by main.tsx, before any module that defines a schema: zod
 * probes for `new Function` (to compile fast parsers) when schemas are built,
 * and the node's CSP (script-src 'self', no unsafe-eval) refuses it and
 * reports a violation. jitless skips the probe; parsing stays correct.
 */
import { z } from "zod";

z.config({ jitless: true });
