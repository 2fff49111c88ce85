import { seg } from "../../api.js";

export const USER_POSITIONAL = { name: "EMAIL", help: "E-mail address of the user, e.g. alice@example.com." };

export const userPath = (email: string) => `/warrant/v1/users/${seg(email)}`;

export const USER_COLUMNS = "email, displayName:label='DISPLAY NAME', state, createTime:label=CREATED";
