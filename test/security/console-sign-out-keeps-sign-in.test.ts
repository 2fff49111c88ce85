/**
 * Attack: sit down at a browser whose user signed out of the console, click "Sign in", and be let in
 * without a password. The console signs in through Warrant's authorization server, which keeps a
 * sign-in session of its own (a cookie, so that other clients can skip the password form); sign-out
 * ended the console's session but not that one, so the next sign-in passed straight through. Sign-out
 * must end both, server-side, so that a copy of the old cookie opens nothing either.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cookieNames } from "../../src/server/api/oauth2/authorize.js";
import { sessionCookieName } from "../../src/server/console/console.js";
import { CookieJar, consoleSignIn, userWithPassword } from "../console/support.js";
import { type Harness, startHarness } from "../support/harness.js";

const CONSOLE_COOKIE = sessionCookieName(true);
// The harness serves http://127.0.0.1: a secure context, so the `__Host-` names.
const SIGNIN_COOKIE = cookieNames(true).session;
const ALICE = "alice@example.com";
const PW = "a password long enough";

describe("console sign-out ends the sign-in at the authorization server", { timeout: 60_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
    await userWithPassword(h, ALICE, PW);
  });
  after(async () => h?.close());

  /** Starts a console sign-in with `cookie`: what the authorization server answers its redirect with. */
  const startSignIn = async (cookie: string) => {
    const login = await fetch(`${h.url}/console/auth/login?next=/console/iam`, {
      redirect: "manual",
      headers: { cookie },
    });
    assert.equal(login.status, 303);
    const auth = await fetch(new URL(login.headers.get("location")!, h.url), {
      redirect: "manual",
      headers: { cookie: [cookie, ...login.headers.getSetCookie().map((c) => c.split(";")[0])].join("; ") },
    });
    const body = await auth.text();
    return { status: auth.status, passwordForm: /name="password"/.test(body) };
  };

  it("after sign-out, signing in asks for the password again, even with a copy of the old cookie", async () => {
    const jar = new CookieJar();
    assert.equal((await consoleSignIn(h, ALICE, PW, jar)).status, 303);
    const signInCookie = jar.cookies.get(SIGNIN_COOKIE);
    assert.ok(signInCookie, `the authorization server set ${SIGNIN_COOKIE}: ${jar.raw.join("\n")}`);

    // While signed in there, a new sign-in passes without the form (what sign-out must end).
    const before = await startSignIn(`${SIGNIN_COOKIE}=${signInCookie}`);
    assert.equal(before.passwordForm, false, "a live sign-in session skips the password form");
    assert.ok(before.status >= 300 && before.status < 400, `redirected back: ${before.status}`);

    const out = await fetch(`${h.url}/console/auth/logout`, {
      method: "POST",
      headers: { cookie: jar.header(), origin: new URL(h.url).origin, "x-warrant-console": "1" },
    });
    assert.equal(out.status, 204);
    jar.take(out);
    const cleared = out.headers.getSetCookie();
    assert.ok(
      cleared.some((c) => c.startsWith(`${CONSOLE_COOKIE}=;`) && /Max-Age=0/.test(c)),
      cleared.join("\n"),
    );
    assert.ok(
      cleared.some((c) => c.startsWith(`${SIGNIN_COOKIE}=;`) && /Max-Age=0/.test(c)),
      `sign-out clears ${SIGNIN_COOKIE}: ${cleared.join("\n")}`,
    );
    assert.equal(jar.cookies.get(SIGNIN_COOKIE), undefined);

    const after = await startSignIn(jar.header());
    assert.equal(after.status, 200);
    assert.ok(after.passwordForm, "the password is asked for again");
    const replayed = await startSignIn(`${SIGNIN_COOKIE}=${signInCookie}`);
    assert.equal(replayed.status, 200);
    assert.ok(replayed.passwordForm, "the old sign-in cookie, replayed, opens nothing");
  });
});
