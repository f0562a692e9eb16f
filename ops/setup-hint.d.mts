// Types for setup-hint.mjs.
export function newSetupToken(): string;
export function printSetupHint(
  url: string,
  token: string,
  options?: { adminPassword?: string; log?: (line: string) => void },
): Promise<boolean | null>;
