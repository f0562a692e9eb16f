// Types for common-passwords.mjs.
export const COMMON_PASSWORDS_MODULE: string;
export function readSourceList(): { list: string[]; version: string };
export function commonPasswordsToShip(list: readonly string[]): string[];
export function writeCommonPasswords(): { out: string; kept: number; from: number };
