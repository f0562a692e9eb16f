/**
 * A text field for a name with a limit (room names, display names, topics):
 * never cut silently. As the text nears the limit a counter appears ("72/80"),
 * counted as the node counts (characters, i.e. code points, of the NFC form,
 * trimmed: protocol/names.ts), and past it the counter turns red and the form
 * refuses to submit; the person decides what to drop.
 *
 * No `maxLength`: it counts UTF-16 units (an emoji is two), so it would cut
 * "团队🎉…" earlier than the node's limit, and silently.
 */
import { t } from "./i18n";

/** Characters as the node counts them for a name's limit. */
export function nameLength(value: string): number {
  let n = 0;
  for (const _ of value.normalize("NFC").trim()) n++;
  return n;
}

/** The counter shows from this share of the limit on. */
const SHOW_FROM = 0.75;

export function NameField(props: { label: string; name: string; value: string; limit: number; onInput: (v: string) => void; required?: boolean; disabled?: boolean; error?: string | null }) {
  const n = nameLength(props.value);
  const over = n > props.limit;
  const id = `count-${props.name}`;
  const errorId = `error-${props.name}`;
  const described = [n >= props.limit * SHOW_FROM ? id : "", props.error ? errorId : ""].filter(Boolean).join(" ");
  return (
    <label class="name-field">
      {props.label}
      <input
        name={props.name}
        dir="auto"
        required={props.required}
        disabled={props.disabled}
        value={props.value}
        aria-invalid={over || !!props.error || undefined}
        aria-describedby={described || undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      {n >= props.limit * SHOW_FROM && (
        <span id={id} class={over ? "counter over" : "counter muted small"} data-testid={`counter-${props.name}`} aria-live="polite">
          {over ? t("nameTooLong", { n, limit: props.limit, over: n - props.limit }) : `${n}/${props.limit}`}
        </span>
      )}
      {/* What the node said about this field (its `field` in the error), under the input. */}
      {props.error && (
        <span id={errorId} class="error small field-error" role="alert">
          {props.error}
        </span>
      )}
    </label>
  );
}
