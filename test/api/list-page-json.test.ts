/**
 * List pages answered from cached renderings (src/server/http/json-text.ts): the bytes are those
 * JSON.stringify gives for the same body, and a cached rendering follows the document's stored text.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JsonBytes, jsonWithItems, RenderedJson } from "../../src/server/http/json-text.js";

const enc = (v: unknown) => Buffer.from(JSON.stringify(v));

describe("list page JSON", () => {
  it("writes the bytes JSON.stringify writes, field order kept", () => {
    const items = [{ a: 1, n: 'é\u2028"x' }, { b: [1, 2] }, {}];
    const cases: [Record<string, unknown>, unknown[] | undefined, Record<string, unknown>][] = [
      [{ kind: "k", prefixes: ["a/", "b/"] }, items, { nextPageToken: "t" }],
      [{ kind: "k" }, items, {}],
      [{ kind: "k", id: "i" }, [], { selfLink: "s" }],
      [{ kind: "k" }, undefined, { nextPageToken: "t" }],
      [{}, items, {}],
      [{}, undefined, {}],
    ];
    for (const [head, list, tail] of cases) {
      const body = jsonWithItems(head, "items", list?.map(enc), tail);
      const expected = JSON.stringify({ ...head, ...(list ? { items: list } : {}), ...tail });
      assert.equal(body.bytes.toString("utf8"), expected);
      // Serialized inside another body (a batch part), it is the same value.
      assert.equal(JSON.stringify({ body }), JSON.stringify({ body: JSON.parse(expected) }));
      assert.ok(body instanceof JsonBytes);
    }
  });

  it("renders a stored document once per base and again when its text changes", () => {
    let renders = 0;
    const r = new RenderedJson<{ name: string }>((d, base) => {
      renders++;
      return { self: `${base}/${d.name}`, name: d.name };
    });
    const v1 = { key: "k1", text: JSON.stringify({ name: "a" }) };
    assert.equal(r.of(v1, "http://x").toString(), JSON.stringify({ self: "http://x/a", name: "a" }));
    // The same text as a fresh string (as each read of the datastore gives): still a hit.
    const again = { key: "k1", text: JSON.stringify({ name: "a" }) };
    assert.equal(r.of(again, "http://x").toString(), JSON.stringify({ self: "http://x/a", name: "a" }));
    assert.equal(renders, 1);
    assert.equal(r.of(v1, "http://y").toString(), JSON.stringify({ self: "http://y/a", name: "a" }));
    // The same key with another text (the document changed): rendered again, never the old bytes.
    const v2 = { key: "k1", text: JSON.stringify({ name: "b" }) };
    assert.equal(r.of(v2, "http://x").toString(), JSON.stringify({ self: "http://x/b", name: "b" }));
    assert.equal(renders, 3);
    assert.equal(r.of(v1, "http://x").toString(), JSON.stringify({ self: "http://x/a", name: "a" }));
    assert.equal(renders, 4, "changed back: the text decides, not the key");
  });

  it("stays within its size bound", () => {
    let renders = 0;
    const r = new RenderedJson<{ n: number }>((d) => {
      renders++;
      return d;
    }, 200);
    for (let i = 0; i < 50; i++) r.of({ key: `k${i}`, text: JSON.stringify({ n: i }) }, "b");
    assert.equal(renders, 50);
    // The first ones were dropped when the cache filled: rendered again, still correct.
    assert.equal(r.of({ key: "k0", text: JSON.stringify({ n: 0 }) }, "b").toString(), '{"n":0}');
    assert.equal(renders, 51);
  });
});
