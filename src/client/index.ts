/**
 * `warrant/client`: Application Default Credentials for TypeScript, for Warrant and Google alike.
 * One class per credential type behind one ADC chain; no dependency on Warrant's server code.
 * See docs/client.md.
 */
export {
  type AdcOptions,
  type ApplicationDefault,
  credentialFromFile,
  credentialFromJson,
  getApplicationDefault,
  wellKnownFile,
} from "./adc.js";
export { type BrowserLoginOptions, type BrowserLoginResult, browserLogin } from "./browser-login.js";
export { AccessTokenCredential, type AccessTokenOptions } from "./credentials/access-token.js";
export { AuthorizedUserCredential, type AuthorizedUserFile } from "./credentials/authorized-user.js";
export {
  ComputeCredential,
  type ComputeOptions,
  metadataBaseUrl,
  metadataServerAvailable,
} from "./credentials/compute.js";
export { type AccessToken, Credential, type CredentialOptions } from "./credentials/credential.js";
export { ImpersonatedCredential, type ImpersonatedOptions } from "./credentials/impersonated.js";
export {
  ServiceAccountCredential,
  type ServiceAccountKeyFile,
  type ServiceAccountOptions,
} from "./credentials/service-account.js";
export { AdcError, CredentialError, type ServerErrorDetail } from "./errors.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./http.js";
