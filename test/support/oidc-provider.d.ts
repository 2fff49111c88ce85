/** oidc-provider ships no types; the tests use a handful of its members, typed where they are used. */
declare module "oidc-provider" {
  const Provider: new (
    issuer: string,
    configuration: Record<string, unknown>,
  ) => { callback(): (req: unknown, res: unknown) => void };
  export default Provider;
}
