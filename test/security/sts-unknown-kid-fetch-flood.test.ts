/**
 * Attack: make Warrant's STS a request amplifier — every exchange naming an unknown `kid`, or
 * aimed at a provider whose issuer is down, would otherwise send fresh requests to the issuer.
 * Keys are refetched at most every 30 s per provider and a failed fetch is remembered for 10 s.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { createFederation, exchange, wipBase } from "../support/wif.js";

describe("STS key fetches are bounded", () => {
  let h: Harness;
  let issuer: Issuer;
  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
  });
  after(async () => {
    await h.close();
    await issuer.close();
  });

  test("unknown kids: one discovery fetch for many exchanges; a genuine token still works", async () => {
    const fed = await createFederation(h, issuer, { poolId: "flood-pool", providerId: "flood-oidc" });
    const before = issuer.requests.length;
    for (let i = 0; i < 8; i++) {
      const r = await exchange(h, {
        audience: fed.audience,
        subject_token: await issuer.sign(
          { sub: "x", aud: fed.audience },
          { kid: `rogue-${i}`, key: issuer.rogue },
        ),
      });
      assert.equal(r.status, 400, r.text);
      assert.match((r.body as { error_description: string }).error_description, /does not trust/);
    }
    const fetched = issuer.requests.slice(before);
    assert.deepEqual(fetched, ["/.well-known/openid-configuration", "/jwks"], JSON.stringify(fetched));
    const ok = await exchange(h, {
      audience: fed.audience,
      subject_token: await issuer.sign({ sub: "x", aud: fed.audience }),
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(issuer.requests.length - before, 2, "the genuine token used the cached keys");
  });

  test("an issuer that is down is asked once per 10 s, not once per exchange", async () => {
    let hits = 0;
    const down = createServer((_req, res) => {
      hits++;
      res.writeHead(503).end();
    });
    await new Promise<void>((ok) => down.listen(0, "127.0.0.1", ok));
    const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
    try {
      const p = await h.call(
        "POST",
        `${wipBase()}/flood-pool/providers?workloadIdentityPoolProviderId=down-oidc`,
        {
          body: { attributeMapping: { "google.subject": "assertion.sub" }, oidc: { issuerUri: url } },
        },
      );
      assert.equal(p.status, 200, p.text);
      const audience = `//iam.googleapis.com/${p.body.response.name as string}`;
      for (let i = 0; i < 6; i++) {
        const r = await exchange(h, {
          audience,
          subject_token: await issuer.sign({ iss: url, sub: "x", aud: audience }),
        });
        assert.equal(r.status, 400, r.text);
        assert.match(
          (r.body as { error_description: string }).error_description,
          /signing keys could not be obtained.*503/,
        );
      }
      assert.equal(hits, 1);
    } finally {
      await new Promise((ok) => down.close(ok));
    }
  });

  test("an issuer streaming an endless discovery document is cut off at 256 KiB", async () => {
    let sent = 0;
    const endless = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return res.once("drain", pump);
        }
        res.end();
      };
      res.on("close", () => {
        sent = Number.POSITIVE_INFINITY;
      });
      pump();
    });
    await new Promise<void>((ok) => endless.listen(0, "127.0.0.1", ok));
    const url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}`;
    try {
      const p = await h.call(
        "POST",
        `${wipBase()}/flood-pool/providers?workloadIdentityPoolProviderId=endless-oidc`,
        {
          body: { attributeMapping: { "google.subject": "assertion.sub" }, oidc: { issuerUri: url } },
        },
      );
      assert.equal(p.status, 200, p.text);
      const audience = `//iam.googleapis.com/${p.body.response.name as string}`;
      const r = await exchange(h, {
        audience,
        subject_token: await issuer.sign({ iss: url, sub: "x", aud: audience }),
      });
      assert.equal(r.status, 400, r.text);
      assert.match((r.body as { error_description: string }).error_description, /larger than 262144 bytes/);
    } finally {
      endless.closeAllConnections();
      await new Promise((ok) => endless.close(ok));
    }
  });
});
