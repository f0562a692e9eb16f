// Types for doctor.mjs.
export interface Owner {
  kind: "room" | "user" | "directory" | "workerd" | "unknown";
  id?: string;
  label?: string;
}
export interface CheckedFile {
  file: string;
  className: string;
  owner: Owner;
  ok: boolean;
  problem?: string;
}
export interface DoctorReport {
  dataDir: string;
  check: "integrity_check" | "quick_check";
  seconds: number;
  files: CheckedFile[];
  damaged: CheckedFile[];
  missing: { file: string; owner: Owner }[];
  notes: string[];
}
export function checkNode(dataDir: string, options?: { quick?: boolean; onProgress?: (done: number, total: number) => void }): DoctorReport;
