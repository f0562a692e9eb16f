// Types for admin-password.mjs.
export const ADMIN_USERNAME: string;
export function adminPasswordProblem(password: string): Promise<string | null>;
