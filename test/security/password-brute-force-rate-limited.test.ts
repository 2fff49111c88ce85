/**
 * Attack: password guessing at the sign-in page — many guesses at one account, or one guess at
 * many accounts from one address (spraying). Failed attempts are limited per account and per
 * client address; once limited, even the right password is refused, and the answer is the same
 * whether or not the account exists.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { SIGNIN_LIMITS } from "../../src/server/auth/sign-in.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, createUserWithPassword, pkcePair, signIn } from "../support/signin.js";

describe("password guessing is rate-limited", () => {
  let h: Harness;
  let query: string;
  before(async () => {
    h = await startHarness();
    await createUserWithPassword(h, "vic@example.com", "vic's real password");
    query = authorizeQuery({
      client_id: WARRANT_CLI_CLIENT_ID,
      redirect_uri: "http://127.0.0.1:40007/",
      state: "s",
      code_challenge: pkcePair().challenge,
      code_challenge_method: "S256",
    });
  });
  after(() => h.close());

  const alert = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];

  test("per account: after the limit, the right password is refused too", async () => {
    for (let i = 0; i < SIGNIN_LIMITS.perUser; i++) {
      const r = await signIn(h, query, "vic@example.com", `guess number ${i}`);
      assert.equal(r.res.status, 401);
    }
    const right = await signIn(h, query, "vic@example.com", "vic's real password");
    assert.equal(right.res.status, 429);
    assert.match(alert(right.html)!, /Too many failed sign-in attempts/);
    assert.ok(Number(right.res.headers.get("retry-after")) > 0);
    assert.equal(right.location, undefined);
    // An account that does not exist is limited the same way (nothing tells them apart).
    for (let i = 0; i < SIGNIN_LIMITS.perUser; i++)
      assert.equal((await signIn(h, query, "ghost@example.com", `guess ${i}`)).res.status, 401);
    const ghost = await signIn(h, query, "ghost@example.com", "another guess");
    assert.equal(ghost.res.status, 429);
    assert.equal(alert(ghost.html), alert(right.html));
  });

  test("per address: spraying many accounts from one address is limited", async () => {
    // 2×perUser failures were made above from this address.
    const left = SIGNIN_LIMITS.perAddress - 2 * SIGNIN_LIMITS.perUser;
    for (let i = 0; i < left; i++)
      assert.equal((await signIn(h, query, `user${i}@example.com`, "Winter2026!")).res.status, 401);
    const next = await signIn(h, query, "someone-new@example.com", "Winter2026!");
    assert.equal(next.res.status, 429);
  });
});
