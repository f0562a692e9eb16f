// Types for password-policy.mjs.
export const MIN_PASSWORD_LENGTH: number;
export const COMMON_PASSWORD_COUNT: number;
export type PasswordRule = "too_short" | "contains_username" | "common" | "repetitive";
export function passwordProblem(password: string, username: string, isCommon: (lowerCased: string) => boolean): { rule: PasswordRule; message: string } | null;
