/** Bad command line: unknown command/flag, missing argument. Exit code 2, like gcloud/argparse. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A user-facing failure with an optional hint of what to do next. Exit code 1 unless told otherwise. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A non-2xx answer from the Warrant API, carrying Google's error envelope fields. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly httpStatus: number,
    message: string,
    /** Canonical status such as PERMISSION_DENIED or ABORTED, when the server sent one. */
    readonly status?: string,
    readonly reason?: string,
    readonly method?: string,
    readonly url?: string,
  ) {
    super(message);
  }
}

export function hintForApiError(err: ApiError): string | undefined {
  switch (err.httpStatus) {
    case 400:
      return "Check the arguments; `--help` on the command shows what it expects.";
    case 401:
      return (
        "The access token was rejected. Check the credential file (--credential-file / WARRANT_CREDENTIAL_FILE), " +
        'or point this shell at the running server with `eval "$(warrant env)"`.'
      );
    case 403:
      if (err.reason === "insufficientPermissions")
        return "The access token's OAuth scopes do not cover this call; roles cannot fix that. Use a token with a broader scope (e.g. cloud-platform).";
      return (
        "The principal lacks the permission named above. Grant it a role that includes it, e.g. " +
        "`warrant projects add-iam-policy-binding PROJECT --member=PRINCIPAL --role=ROLE` (as an admin)."
      );
    case 404:
      return "Check the resource name and the project (--project, WARRANT_PROJECT or `warrant config get project`).";
    case 409:
      return "The resource already exists or was changed concurrently; re-read it and retry.";
    default:
      if (err.httpStatus >= 500)
        return "The server failed; see the `warrant serve` log (WARRANT_DEBUG=1 there).";
      return undefined;
  }
}
