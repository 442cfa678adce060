import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/** The OpenAPI document, built once at boot from the controllers' decorators. */
export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('WE-AI API')
    .setDescription(
      'Partners upload a model and a dataset, submit a batch-inference job, follow it and download the integrated output; ' +
        'node owners read their earnings and nodes and withdraw; operators manage nodes and check the ledger. ' +
        'Every /v1 route takes Authorization: Bearer <API key or token> and is for one role (403 for the others); ' +
        'tokens come from /v1/auth/token (partner and operator API keys) or /v1/auth/owner/* (owners sign a challenge with their payout address). ' +
        'Errors are { error: { code, message } }; 429 answers carry Retry-After. See docs/http-security.md.',
    )
    .setVersion('1')
    .addTag('auth', 'access tokens for every role')
    .addTag('objects', 'partners: models, datasets and outputs')
    .addTag('jobs', 'partners: batch-inference jobs')
    .addTag('owner', 'node owners: earnings, withdrawals, nodes')
    .addTag('operator', 'operators: nodes, quarantine, ledger check')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'API key or EdDSA JWT',
      description: "a partner's or operator's API key, or an access token issued by /v1/auth/token or /v1/auth/owner/token",
    })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Serves the document at `/openapi.json` and Swagger UI at `/docs`. */
export function serveOpenApi(app: INestApplication, document: OpenAPIObject): void {
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', raw: ['json'] });
}
