/**
 * The browser and operating system a User-Agent names, as Sentry shows them: enough to tell
 * "Chrome 120 on Windows" from "Safari 17 on iOS", not a full parser. Unknown agents give nothing.
 */

export interface AgentFacts {
  browser?: { name: string; version?: string }
  os?: { name: string; version?: string }
}

/** Longer agents are not real ones; reading them would only cost time. */
const MAX_AGENT = 512

// the order matters: Edge and Opera name Chrome too, Chrome names Safari
const BROWSERS: Array<[string, RegExp]> = [
  ['Edge', /\bEdgA?\/(\d+(?:\.\d+)?)/],
  ['Opera', /\bOPR\/(\d+(?:\.\d+)?)/],
  ['Samsung Internet', /\bSamsungBrowser\/(\d+(?:\.\d+)?)/],
  ['Firefox', /\b(?:Firefox|FxiOS)\/(\d+(?:\.\d+)?)/],
  ['Chrome', /\b(?:HeadlessChrome|Chrome|CriOS|Chromium)\/(\d+(?:\.\d+)?)/],
  ['Safari', /\bVersion\/(\d+(?:\.\d+)?).*\bSafari\//],
]

const SYSTEMS: Array<[string, RegExp]> = [
  ['Windows', /\bWindows NT (\d+\.\d+)/],
  ['iOS', /\b(?:iPhone|iPad|iPod).*?\bOS (\d+(?:_\d+)?)/],
  ['Android', /\bAndroid (\d+(?:\.\d+)?)/],
  ['macOS', /\bMac OS X (\d+(?:[._]\d+)?)/],
  ['Chrome OS', /\bCrOS\b/],
  ['Linux', /\bLinux\b/],
]

export function parseUserAgent(agent: string | undefined): AgentFacts {
  if (!agent || agent.length > MAX_AGENT) return {}
  const facts: AgentFacts = {}
  for (const [name, pattern] of BROWSERS) {
    const match = pattern.exec(agent)
    if (match) {
      facts.browser = { name, version: match[1] }
      break
    }
  }
  for (const [name, pattern] of SYSTEMS) {
    const match = pattern.exec(agent)
    if (match) {
      facts.os = match[1] ? { name, version: match[1].replace(/_/g, '.') } : { name }
      break
    }
  }
  return facts
}
