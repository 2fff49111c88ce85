/** The first-party client table's redirect matching and client authentication, and PKCE S256. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONSOLE_CLIENT_ID,
  clientAuthenticates,
  consoleClient,
  firstPartyClient,
  GCLOUD_ADC_CLIENT_ID,
  GCLOUD_CLIENT_ID,
  redirectKind,
  WARRANT_CLI_CLIENT_ID,
} from "../../src/domain/oauth/first-party-clients.js";
import { challengeWellFormed, s256, verifierMatches } from "../../src/domain/oauth/pkce.js";

const ORIGINS = ["http://127.0.0.1:8080", "https://warrant.example.com"];

test("loopback redirects: any port, exact otherwise; the CLI client takes IP literals only", () => {
  const gcloud = firstPartyClient(GCLOUD_CLIENT_ID)!;
  const cli = firstPartyClient(WARRANT_CLI_CLIENT_ID)!;
  for (const uri of [
    "http://localhost:8085/",
    "http://127.0.0.1:8184/",
    "http://[::1]:1/",
    "http://localhost:65535/",
  ])
    assert.equal(redirectKind(gcloud, uri, ORIGINS), "redirect", uri);
  for (const uri of [
    "http://localhost:65536/",
    "http://localhost:0/",
    "http://localhost/",
    "http://localhost:8085",
    "http://localhost:8085/x",
    "http://localhost:8085/?a=b",
    "https://localhost:8085/",
    "http://LOCALHOST:8085/",
    "http://localhost:08085/",
  ])
    assert.equal(redirectKind(gcloud, uri, ORIGINS), undefined, uri);
  assert.equal(redirectKind(cli, "http://127.0.0.1:5000/", ORIGINS), "redirect");
  assert.equal(redirectKind(cli, "http://[::1]:5000/", ORIGINS), "redirect");
  assert.equal(redirectKind(cli, "http://localhost:5000/", ORIGINS), undefined);
});

test("gcloud's paste pages are shown by Warrant, each for its own client", () => {
  const gcloud = firstPartyClient(GCLOUD_CLIENT_ID)!;
  const adc = firstPartyClient(GCLOUD_ADC_CLIENT_ID)!;
  assert.equal(redirectKind(gcloud, "https://sdk.cloud.google.com/authcode.html", ORIGINS), "display");
  assert.equal(
    redirectKind(adc, "https://sdk.cloud.google.com/applicationdefaultauthcode.html", ORIGINS),
    "display",
  );
  assert.equal(redirectKind(adc, "https://sdk.cloud.google.com/authcode.html", ORIGINS), undefined);
});

test("the console's redirect is exactly {origin}/console/auth/callback of the server's own origins", () => {
  const c = firstPartyClient(CONSOLE_CLIENT_ID)!;
  assert.deepEqual(consoleClient(ORIGINS), {
    clientId: CONSOLE_CLIENT_ID,
    redirectUris: [
      "http://127.0.0.1:8080/console/auth/callback",
      "https://warrant.example.com/console/auth/callback",
    ],
  });
  assert.equal(redirectKind(c, "https://warrant.example.com/console/auth/callback", ORIGINS), "redirect");
  assert.equal(redirectKind(c, "https://warrant.example.com/console/auth/callback/", ORIGINS), undefined);
  assert.equal(redirectKind(c, "https://other.example.com/console/auth/callback", ORIGINS), undefined);
  assert.equal(redirectKind(c, "http://127.0.0.1:9999/", ORIGINS), undefined);
});

test("client authentication: published secrets must match, public clients send none", () => {
  const gcloud = firstPartyClient(GCLOUD_CLIENT_ID)!;
  assert.ok(clientAuthenticates(gcloud, "ZmssLNjJy2998hD4CTg2ejr2"));
  assert.ok(!clientAuthenticates(gcloud, "ZmssLNjJy2998hD4CTg2ejr3"));
  assert.ok(!clientAuthenticates(gcloud, undefined));
  const cli = firstPartyClient(WARRANT_CLI_CLIENT_ID)!;
  assert.ok(clientAuthenticates(cli, undefined));
  assert.ok(!clientAuthenticates(cli, "anything"));
});

test("PKCE S256 (RFC 7636 appendix B)", () => {
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  assert.equal(s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  assert.ok(verifierMatches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
  assert.ok(!verifierMatches(`${verifier}x`, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
  assert.ok(!verifierMatches("short", s256("short")));
  assert.ok(challengeWellFormed("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
  assert.ok(!challengeWellFormed("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="));
});
