export const NODE_KEY_FILE: string;
export interface NodeKey { publicKey: string; privateKey: string }
export function generateNodeKey(): Promise<NodeKey>;
export function ensureNodeKey(dataDir: string): Promise<NodeKey & { created: boolean; file: string }>;
