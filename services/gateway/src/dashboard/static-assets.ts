import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

/** One file of the dashboard, read once at boot. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Where the dashboard's own files are: `services/gateway/static/app`. */
export const DASHBOARD_DIR = join(__dirname, '..', '..', 'static', 'app');

/**
 * The dashboard's files by URL name: its own pages and modules, plus the two libraries it loads
 * from node_modules (chart.js for the charts; ethers only when a development key signs in). The
 * set is fixed at boot: no path from a request ever reaches the file system.
 */
export function loadDashboardAssets(dir = DASHBOARD_DIR): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  const add = (name: string, path: string) => {
    const body = readFileSync(path);
    assets.set(name, { body, contentType: TYPES[extname(path)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` });
  };
  for (const file of readdirSync(dir)) if (TYPES[extname(file)]) add(file, join(dir, file));
  add('vendor/chart.umd.js', join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'));
  add('vendor/ethers.min.js', join(dirname(require.resolve('ethers')), '..', 'dist', 'ethers.min.js'));
  return assets;
}

/** DI token of the dashboard's files (a Map of URL name → asset). */
export const DASHBOARD_ASSETS = Symbol('DASHBOARD_ASSETS');
