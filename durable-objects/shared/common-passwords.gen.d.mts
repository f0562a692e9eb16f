// Types for common-passwords.gen.mjs, which scripts/common-passwords.mjs writes
// (`npm run build:web` and every Worker build run it; the .mjs is not committed).
/** The most common passwords, lower-case, most common first; only those a length check would not already refuse. */
declare const COMMON_PASSWORDS: readonly string[];
export default COMMON_PASSWORDS;
