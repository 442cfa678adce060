import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { DASHBOARD_ASSETS, type StaticAsset } from '../dashboard/static-assets';
import { ApiError } from '../http/api-error';

/** Scripts, styles and data from this origin only; no inline script, no framing, no referrer leaving the page. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The web dashboard: static pages under `/app/`, public like any web page. What a page shows comes
 * from the role routes it calls with the token the user signed in with, so a page opened by the
 * wrong role shows nothing but the 403 it got.
 */
@ApiExcludeController()
@Controller('app')
export class DashboardHttpController {
  constructor(@Inject(DASHBOARD_ASSETS) private readonly assets: Map<string, StaticAsset>) {}

  @Get()
  index(@Req() req: IncomingMessage, @Res() res: ServerResponse) {
    // `/app` without the slash would resolve the pages' relative links against `/`.
    if (!(req.url ?? '').split('?')[0]!.endsWith('/')) {
      res.writeHead(308, { location: '/app/' }).end();
      return;
    }
    this.send(req, res, 'index.html');
  }

  @Get('vendor/:file')
  vendor(@Param('file') file: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    this.send(req, res, `vendor/${file}`);
  }

  @Get(':file')
  file(@Param('file') file: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    this.send(req, res, file);
  }

  private send(req: IncomingMessage, res: ServerResponse, name: string): void {
    const asset = this.assets.get(name);
    if (!asset) throw new ApiError(404, 'not-found', `no dashboard file ${JSON.stringify(name.slice(0, 100))}`);
    const headers = { ...SECURITY_HEADERS, 'content-type': asset.contentType, etag: asset.etag, 'cache-control': 'no-cache' };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(asset.body.length) }).end(asset.body);
  }
}
