/** Who is calling. Built by authentication; read by authorization. */
export type Principal =
  | { kind: "anonymous" }
  | { kind: "user"; email: string; groups: readonly string[] }
  | { kind: "serviceAccount"; email: string; projectNumber?: string; groups: readonly string[] };

export const ANONYMOUS: Principal = { kind: "anonymous" };

export function userPrincipal(email: string, groups: readonly string[] = []): Principal {
  return { kind: "user", email: email.toLowerCase(), groups };
}

export function serviceAccountPrincipal(email: string, projectNumber?: string): Principal {
  return {
    kind: "serviceAccount",
    email: email.toLowerCase(),
    groups: [],
    ...(projectNumber ? { projectNumber } : {}),
  };
}

/** The member string that names this principal in a policy (`user:a@b`, `serviceAccount:…`, `allUsers`). */
export function memberOf(p: Principal): string {
  switch (p.kind) {
    case "anonymous":
      return "allUsers";
    case "user":
      return `user:${p.email}`;
    case "serviceAccount":
      return `serviceAccount:${p.email}`;
  }
}

/** Parses `user:x`/`serviceAccount:x` back into a principal (the token subject format). */
export function principalFromMember(member: string): Principal | null {
  const i = member.indexOf(":");
  if (i < 0) return null;
  const type = member.slice(0, i);
  const email = member.slice(i + 1);
  if (!email.includes("@")) return null;
  if (type === "user") return userPrincipal(email);
  if (type === "serviceAccount") return serviceAccountPrincipal(email);
  return null;
}
