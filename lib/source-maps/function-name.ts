/**
 * The original name of a mapped frame's function. A minifier renames functions (`checkout` becomes
 * `i`), and a source map names the original only where a renamed identifier is written: where the
 * function is defined (`function i(`, `i=()=>`) and where it is called (`i()`). So the name is
 * read at the definition of the frame's raw name nearest before the frame's place in the generated
 * file; else at the call site in the calling frame; else the raw name stays.
 */
import { generatedLines, positionIn, type LoadedMap } from './map-cache.js'

/** a name from a map is cut to this, as V8's names are when a stack is parsed */
const MAX_NAME = 1024
/** how far before a frame's place a definition is looked for, in characters and in lines */
const SEARCH_CHARS = 2 * 1024 * 1024
const SEARCH_LINES = 500
/** definitions remembered per map, by frame place and name */
const MAX_DEFINITIONS = 2000
const definitions = new WeakMap<LoadedMap, Map<string, string | null>>()

/** The function's original name: see above. `callerName` is the name the map gives the calling frame's call site. */
export function originalFunction(raw: string | undefined, loaded: LoadedMap, line: number, column: number, callerName: string | undefined): string | undefined {
  const short = raw === undefined ? undefined : shortName(raw)
  const name = (short === undefined ? null : definedName(loaded, line, column, short)) ?? callerName
  if (!name) return raw
  // 'Service.handle' defined as 'handle': the raw name says more
  if (short === name) return raw
  return name.length > MAX_NAME ? name.slice(0, MAX_NAME) : name
}

/** `i` of `Object.i`, `new i` or `async i`; undefined when the raw name is no plain identifier. */
function shortName(raw: string): string | undefined {
  const name = raw.replace(/^(?:new|async) /, '')
  const short = name.slice(name.lastIndexOf('.') + 1)
  return /^[A-Za-z_$][\w$]*$/.test(short) ? short : undefined
}

/** The map's name for the nearest definition of `name` before the 1-based line and column (`name` when the map gives none), or null when none is found. */
function definedName(loaded: LoadedMap, line: number, column: number, name: string): string | null {
  let known = definitions.get(loaded)
  if (known === undefined) definitions.set(loaded, (known = new Map()))
  const key = `${line}:${column}:${name}`
  const cached = known.get(key)
  if (cached !== undefined) return cached
  const found = findDefinition(loaded, line, column, name)
  if (known.size >= MAX_DEFINITIONS) known.clear()
  known.set(key, found)
  return found
}

function findDefinition(loaded: LoadedMap, line: number, column: number, name: string): string | null {
  const lines = generatedLines(loaded)
  if (lines === null || line > lines.length) return null
  const id = name.replace(/\$/g, '\\$')
  // `function i(`, `function* i(`, or `i = function`, `i = (a) =>`, `i = async a =>`
  const definition = new RegExp(`\\bfunction(?:\\s+|\\s*\\*\\s*)(${id})\\s*\\(|(?:^|[^\\w$.])(${id})\\s*=\\s*(?:async\\b\\s*)?(?:function\\b|\\([^()]*\\)\\s*=>|[\\w$]+\\s*=>)`, 'dg')
  let searched = 0
  for (let at = line; at >= 1 && line - at < SEARCH_LINES && searched < SEARCH_CHARS; at--) {
    const full = lines[at - 1]
    const end = at === line ? Math.min(full.length, column - 1) : full.length
    const start = Math.max(0, end - (SEARCH_CHARS - searched))
    searched += end - start
    let last: number | null = null
    const text = full.slice(start, end)
    for (let match = definition.exec(text); match !== null; match = definition.exec(text)) {
      const indices = match.indices!
      last = start + (indices[1] ?? indices[2])![0]
    }
    if (last === null) continue
    // defined under a name the map does not change: the raw name is the original
    return positionIn(loaded, at, last + 1)?.name ?? name
  }
  return null
}
