/** A refusal the caller is meant to read: rendered as `{ error: { code, message } }` with `status`. */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  /** False when this refusal is not to be reported to the audit (a repeat 429 within the report window). */
  audited = true;
  /**
   * An object-level refusal answered as something else (another partner's job or object is a 404,
   * as a missing one is): reported to the audit like a 403. `resource` names what was refused when
   * the path does not.
   */
  refusal?: { readonly resource?: string };
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. `WWW-Authenticate` on a 401. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The body of every error response. */
export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** A zod error as one line naming each field: `body.shardSize: expected number; body: unrecognized key "foo"`. */
export function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>, root: string): string {
  return issues.map((i) => `${[root, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}
