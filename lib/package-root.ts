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
