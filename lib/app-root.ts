import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isOwnCode } from './package-root.js'

/**
 * The app's root, when the `root` option does not name it: the folder of the nearest package.json
 * above the app's file that called createTracker. The working directory is no guide (started from
 * another folder, the same bug would become a new issue and the store would land elsewhere), and
 * neither is always the main script, process.argv[1]: under a test runner, pm2 or a CLI wrapper
 * that is the tool's file, in its node_modules. The caller is the app's own file in each of those
 * cases, so it comes first; the main script is next (a tracker created from code in
 * node_modules only), and the working directory is the last resort (the REPL, `node -e`).
 */
export function findAppRoot(): string {
  for (const file of [callerFile(), process.argv[1]]) {
    if (!file || !path.isAbsolute(file) || isDependency(file)) continue
    const root = nearestPackageFolder(path.dirname(file))
    if (root !== null) return root
  }
  return process.cwd()
}

/** The first file on the stack that is the app's: not Node's own, not faultline's, not a dependency's. */
function callerFile(): string | undefined {
  for (const name of stackFileNames()) {
    const file = name.startsWith('file://') ? safeFilePath(name) : name
    if (file && path.isAbsolute(file) && !isOwnCode(file) && !isDependency(file)) return file
  }
  return undefined
}

/**
 * The file names on the current stack, read from V8's call sites rather than from the printed
 * stack, which the app may have reformatted (Error.prepareStackTrace) or cut (Error.stackTraceLimit).
 */
function stackFileNames(): string[] {
  const prepare = Error.prepareStackTrace
  const limit = Error.stackTraceLimit
  try {
    Error.prepareStackTrace = (_error, sites) => sites
    Error.stackTraceLimit = 50
    const holder: { stack?: unknown } = {}
    Error.captureStackTrace(holder, findAppRoot)
    const sites = holder.stack as NodeJS.CallSite[] | undefined
    return Array.isArray(sites) ? sites.map((site) => site.getFileName() ?? '').filter(Boolean) : []
  } catch {
    return []
  } finally {
    Error.prepareStackTrace = prepare
    Error.stackTraceLimit = limit
  }
}

function safeFilePath(url: string): string | undefined {
  try {
    return fileURLToPath(url)
  } catch {
    return undefined
  }
}

function isDependency(file: string): boolean {
  return file.split(/[\\/]/).includes('node_modules')
}

function nearestPackageFolder(dir: string): string | null {
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}
