import ejs from 'ejs'

/**
 * Characters that render as nothing yet change what is around them: bidirectional overrides
 * (U+202E turns "exe.txt" around), direction marks, NUL and the other C0 controls but tab and
 * newlines. Error text is attacker-controlled, so the panel and the emails show them instead.
 */
const HIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** EJS's HTML escaping, with hidden characters written out as their code point: `[U+202E]`. */
export function escapeHtml(value: unknown): string {
  return ejs.escapeXML(value as string).replace(HIDDEN, (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
}
