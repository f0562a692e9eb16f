/**
 * What a node's name may be: 1 to 32 lower-case letters, digits or '-', not
 * starting or ending with '-'. The name ends every id the node homes
 * (`r_…@shanghai`), so the ids' patterns (protocol/ids.ts) are built from it.
 *
 * Plain JavaScript so that the node's own config check (ops/node-config.mjs,
 * run by Node without a TypeScript loader) uses this very pattern.
 *
 * @example
 *   NODE_NAME_RE.test("new-york")   // true
 *   NODE_NAME_RE.test("-edge")      // false
 */

/** The pattern's source, without anchors, for composing the id patterns. */
export const NODE_NAME = "[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?";

export const NODE_NAME_RE = new RegExp(`^${NODE_NAME}$`);
