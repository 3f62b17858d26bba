import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The package's own root: the nearest folder above this file that holds `views/`.
 * Walking up works the same from `lib/x.ts` (tests) and `dist/lib/x.js` (the build).
 */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(path.join(dir, 'views')) && existsSync(path.join(dir, 'package.json'))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('faultline: cannot find its views/ folder; the package looks incomplete, reinstall it')
    dir = parent
  }
}

/** The package root, found once. */
export const packageRoot = findPackageRoot()

/** Where the EJS templates live. */
export const viewsDir = path.join(packageRoot, 'views')

/**
 * faultline's own code (its Express layer wrapper shows up in every route's stack) is never the
 * app's: its frames are left out of stored stacks, and it is never taken for the app's root. The
 * folders of its code, built (`dist/`) or as TypeScript sources (as its tests run them, or a
 * source map points back to them); never `test/` or `examples/`, which play the app.
 */
const ownDirs = ['dist', 'lib', 'common', 'adapters', 'testing'].map((dir) => path.join(packageRoot, dir) + path.sep)
export function isOwnCode(abs: string): boolean {
  return ownDirs.some((dir) => abs.startsWith(dir))
}
