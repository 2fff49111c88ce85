import { seg } from "../../api.js";

export const GROUP_POSITIONAL = { name: "GROUP", help: "E-mail address of the group, e.g. sre@example.com." };

export const groupPath = (email: string) => `/warrant/v1/groups/${seg(email)}`;

export const GROUP_COLUMNS =
  "email, displayName:label='DISPLAY NAME', members.len():label=MEMBERS, createTime:label=CREATED";

export const MEMBER_FLAG = {
  name: "member",
  type: "string",
  required: true,
  help: "The member: user:EMAIL, serviceAccount:EMAIL or group:EMAIL (a nested group).",
} as const;
