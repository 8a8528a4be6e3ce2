/**
 * A tiny tagged-template HTML builder that escapes every interpolated value unless it is already
 * {@link Html} (another template's output, or an explicit {@link raw} fragment). Approval arguments
 * come from a model and from untrusted events, so escaping is the default and `raw` is the exception.
 *
 * @example
 * html`<p title="${title}">${text}</p>` // both escaped
 * html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>` // arrays are joined, items stay safe
 */

/** A fragment of HTML that is safe to emit as is. Only `html` and `raw` make one. */
export class Html {
  readonly #value: string;
  private constructor(value: string) {
    this.#value = value;
  }
  /** @internal used by `html` and `raw` only. */
  static of(value: string): Html {
    return new Html(value);
  }
  toString(): string {
    return this.#value;
  }
}

/** What may be interpolated: nothing (renders empty), text, numbers, safe fragments, or lists of them. */
export type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

function render(value: Interpolation): string {
  if (value instanceof Html) return value.toString();
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** The tag: literal parts are trusted (they are in the source), interpolations are escaped. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return Html.of(out);
}

/** Marks a trusted fragment (a constant stylesheet or script, never data) as safe to emit unescaped. */
export function raw(trusted: string): Html {
  return Html.of(trusted);
}

/** Joins fragments with a separator (itself escaped unless `Html`). */
export function join(items: readonly Interpolation[], separator: Interpolation): Html {
  return Html.of(items.map(render).join(render(separator)));
}

/** A path segment for a console URL: percent-encoded, so an id can never change the route or scheme. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
