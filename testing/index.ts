/**
 * faultline/testing: the store conformance suite, so that a store written outside faultline can
 * prove itself with the same tests as the stores inside it, under node:test or vitest.
 */
export { storeConformance, type ConformanceOptions, type TestRunner } from './store-conformance.js'
export { makeInput, issueId, type EventSpec } from './record-input.js'
