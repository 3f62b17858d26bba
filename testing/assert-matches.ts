import assert from 'node:assert/strict'

/**
 * Asserts that `actual` has every property `expected` names, with the same value, at any depth
 * (what vitest's toMatchObject checks). Arrays match item by item and must be as long. A mismatch
 * fails with node:assert's diff of the properties that were asked for.
 */
export function assertMatches(actual: unknown, expected: unknown, message?: string): void {
  const cut = onlyWhatIsExpected(actual, expected)
  // Node 26 refuses an explicit undefined message
  if (message === undefined) assert.deepStrictEqual(cut, expected)
  else assert.deepStrictEqual(cut, expected, message)
}

/** `actual` cut down to the properties `expected` names, so that a deep comparison looks at those alone. */
function onlyWhatIsExpected(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return actual
    return actual.map((item, i) => onlyWhatIsExpected(item, expected[i]))
  }
  if (isPlainObject(expected) && typeof actual === 'object' && actual !== null && !Array.isArray(actual)) {
    const cut: Record<string, unknown> = {}
    for (const key of Object.keys(expected)) {
      // a missing property stays missing, and the comparison names it
      if (key in actual) cut[key] = onlyWhatIsExpected((actual as Record<string, unknown>)[key], expected[key])
    }
    return cut
  }
  return actual
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}
