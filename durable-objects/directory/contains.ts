/**
 * `column` contains `q`, ignoring ASCII case (as SQLite's LIKE does), with no
 * wildcard in `q`: "a_b" finds "a_b" only, "100%" finds "100%". LIKE needs an
 * ESCAPE clause for its backslashes to mean anything; without one, a name
 * with `_` or `%` in it could never be found.
 */
import { sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

export function containsText(column: SQLiteColumn, q: string): SQL {
  const pattern = `%${q.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
  return sql`${column} LIKE ${pattern} ESCAPE '\\'`;
}
