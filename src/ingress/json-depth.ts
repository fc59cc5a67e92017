/**
 * A bound on JSON nesting, checked on the raw text before anything recursive touches it.
 *
 * `JSON.parse` copes with very deep input, but what comes after does not: hashing the resource
 * (`JSON.stringify`), trigger matching and logging all recurse, and a body nested ~10,000 levels
 * deep overflowed the stack (HTTP 500, and a sender that retries it for a minute). Real FHIR
 * resources are a few dozen levels deep at most (a Bundle entry holding a QuestionnaireResponse
 * with nested items), so anything deeper is refused as malformed (400).
 */

/** Deepest nesting of objects and arrays accepted in a notification body. */
export const MAX_JSON_DEPTH = 100;

/** True when `text` nests objects/arrays deeper than `limit` (strings are skipped, escapes honoured). */
export function exceedsJsonDepth(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  // Nesting deeper than `limit` takes more than `limit` opening brackets. Counting them with the
  // native indexOf settles almost every notification (a few dozen brackets) for a fraction of the
  // character scan's cost, which was a tenth of the ingest CPU.
  if (!hasMoreOpeningBrackets(text, limit)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** True when `text` holds more than `limit` of `{` and `[` together (inside strings or not). */
function hasMoreOpeningBrackets(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1; i = text.indexOf(bracket, i + 1)) {
      if (++count > limit) return true;
    }
  }
  return false;
}
