/**
 * Attacks on the console's session: fixation (an attacker plants a session id in the victim's
 * browser before the victim signs in, then rides the victim's session), a sign-in answer injected
 * into another browser or with another `state`, and a session that outlives sign-out. Defences:
 * a new 256-bit id at every sign-in with whatever id the browser had ended; the pending sign-in
 * bound to the browser that started it and consumed once; sign-out deletes the session
 * server-side and revokes its refresh token; the cookie is `__Host-`, Secure, HttpOnly, Lax.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sessionCookieName } from "../../src/server/console/console.js";
import { CookieJar, consoleSignIn, userWithPassword } from "../console/support.js";
import { type Harness, startHarness } from "../support/harness.js";

const COOKIE = sessionCookieName(true);
const ALICE = "alice@example.com";
const MALLORY = "mallory@example.com";
const PW = "a password long enough";

describe("console: session fixation, injected sign-ins, sign-out", { timeout: 120_000 }, () => {
  let h: Harness;
  const whoIs = async (id: string | undefined) => {
    const r = await fetch(`${h.url}/console/auth/session`, { headers: { cookie: `${COOKIE}=${id}` } });
    const body = (await r.json()) as { signedIn: boolean; email?: string };
    return body.signedIn ? body.email : "signed out";
  };

  before(async () => {
    h = await startHarness({ agents: false });
    await userWithPassword(h, ALICE, PW);
    await userWithPassword(h, MALLORY, PW);
  });
  after(async () => h?.close());

  it("sets the session cookie __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, without Domain", async () => {
    const jar = new CookieJar();
    const r = await consoleSignIn(h, ALICE, PW, jar);
    assert.equal(r.status, 303);
    assert.equal(r.headers.get("location"), "/console/iam");
    const set = jar.raw.find((c) => c.startsWith(`${COOKIE}=`))!;
    assert.ok(set, jar.raw.join("\n"));
    for (const attr of ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"])
      assert.match(set, new RegExp(`; ${attr}(;|$)`));
    assert.doesNotMatch(set, /Domain=/i);
    const id = jar.cookies.get(COOKIE)!;
    assert.equal(Buffer.from(id, "base64url").length, 32);
    assert.equal(await whoIs(id), ALICE);
    // What the browser can read of the session: the e-mail, never a token.
    const body = await (
      await fetch(`${h.url}/console/auth/session`, { headers: { cookie: `${COOKIE}=${id}` } })
    ).text();
    assert.doesNotMatch(body, /token|eyJ/i);
  });

  it("a session id planted before sign-in is replaced, and the planted one is dead", async () => {
    // Mallory signs in herself and plants her session id in Alice's browser.
    const mallory = new CookieJar();
    await consoleSignIn(h, MALLORY, PW, mallory);
    const planted = mallory.cookies.get(COOKIE)!;
    assert.equal(await whoIs(planted), MALLORY);
    const victim = new CookieJar();
    victim.cookies.set(COOKIE, planted);
    await consoleSignIn(h, ALICE, PW, victim);
    const alice = victim.cookies.get(COOKIE)!;
    assert.notEqual(alice, planted, "a new id at sign-in");
    assert.equal(await whoIs(alice), ALICE);
    assert.equal(await whoIs(planted), "signed out", "the planted id was ended, it never names Alice");
    // A made-up id is never adopted either.
    const madeUp = Buffer.alloc(32, 7).toString("base64url");
    const other = new CookieJar();
    other.cookies.set(COOKIE, madeUp);
    await consoleSignIn(h, ALICE, PW, other);
    assert.notEqual(other.cookies.get(COOKIE), madeUp);
    assert.equal(await whoIs(madeUp), "signed out");
  });

  it("a sign-in answer delivered to another browser, or with another state, makes no session", async () => {
    // The attacker's own answer (code + state) injected into the victim's browser, which started no sign-in.
    const attacker = new CookieJar();
    let stolen: URL | undefined;
    await consoleSignIn(h, MALLORY, PW, attacker, {
      beforeCallback: (u) => {
        stolen = u;
        return new URL("/console/auth/callback?state=x&code=y", h.url);
      },
    });
    const victim = new CookieJar();
    const injected = await fetch(stolen!.href, { redirect: "manual" });
    victim.take(injected);
    assert.equal(injected.status, 303);
    assert.match(injected.headers.get("location")!, /signInError=/);
    assert.equal(victim.cookies.get(COOKIE), undefined);
    // The browser's own sign-in, answered with a state it did not send: refused, and used up.
    const jar = new CookieJar();
    let real: URL | undefined;
    const r = await consoleSignIn(h, ALICE, PW, jar, {
      beforeCallback: (u) => {
        real = new URL(u);
        u.searchParams.set("state", "another-state");
        return u;
      },
    });
    assert.match(r.headers.get("location")!, /signInError=.*does%20not%20belong/);
    assert.equal(jar.cookies.get(COOKIE), undefined);
    const retry = await fetch(real!.href, { redirect: "manual", headers: { cookie: jar.header() } });
    assert.match(retry.headers.get("location")!, /signInError=/, "the pending sign-in was consumed");
  });

  it("sign-out deletes the session server-side and revokes its refresh token", async () => {
    const jar = new CookieJar();
    await consoleSignIn(h, ALICE, PW, jar);
    const id = jar.cookies.get(COOKIE)!;
    const refreshToken = (await h.server.console.sessions.get(id))?.refreshToken;
    assert.ok(refreshToken, "the session holds a refresh token");
    const origin = new URL(h.url).origin;
    // Sign-out is CSRF-checked like any state-changing call.
    const forged = await fetch(`${h.url}/console/auth/logout`, {
      method: "POST",
      headers: { cookie: jar.header(), origin: "http://evil.example" },
    });
    assert.equal(forged.status, 403);
    assert.equal(await whoIs(id), ALICE);
    const out = await fetch(`${h.url}/console/auth/logout`, {
      method: "POST",
      headers: { cookie: jar.header(), origin, "x-warrant-console": "1" },
    });
    assert.equal(out.status, 204);
    assert.match(out.headers.get("set-cookie") ?? "", new RegExp(`^${COOKIE}=;.*Max-Age=0`));
    // The old cookie, replayed (say, from a copy the attacker took), opens nothing.
    assert.equal(await whoIs(id), "signed out");
    const api = await fetch(`${h.url}/console/api/v1/projects`, { headers: { cookie: `${COOKIE}=${id}` } });
    assert.equal(api.status, 401);
    const refreshed = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: "warrant-console",
        refresh_token: refreshToken,
      }),
    });
    assert.equal(refreshed.status, 400);
    assert.equal(((await refreshed.json()) as { error: string }).error, "invalid_grant");
  });
});
