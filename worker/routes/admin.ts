/** `/admin` (node administrators): the compliance export (worker/export/start.ts). */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { readQuery } from "../http";
import { requireAdmin } from "../middleware/auth";
import { ExportQuery } from "../../protocol/export";
import { startExport } from "../export/start";

export const admin = new Hono<AppEnv>().get("/export", requireAdmin(), async (c) => startExport(c, readQuery(c, ExportQuery)));
