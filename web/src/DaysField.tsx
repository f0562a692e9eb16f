/** A retention period's number of days (1–36500, the node's bounds: protocol/rest.ts), for the node default and a room's own policy. */
import { tc } from "./compliance-strings";

export const MAX_DAYS = 36_500;

/** The whole number of days typed, or null when it is not one the node accepts. */
export function parseDays(text: string): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= MAX_DAYS ? n : null;
}

export function DaysField({ name, value, disabled, onInput }: { name: string; value: string; disabled: boolean; onInput: (v: string) => void }) {
  return (
    <span class="inline">
      <input
        type="number"
        name={name}
        min={1}
        max={MAX_DAYS}
        step={1}
        required={!disabled}
        disabled={disabled}
        class="days"
        aria-label={tc("daysUnit")}
        value={value}
        onInput={(e) => onInput(e.currentTarget.value)}
      />{" "}
      {tc("daysUnit")}
    </span>
  );
}
