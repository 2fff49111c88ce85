import { group } from "../../../../spec.js";
import createOidc from "./create-oidc.js";
import describe from "./describe.js";
import list from "./list.js";

export default group({
  name: "providers",
  summary: "manage a workload identity pool's OIDC providers",
  children: [createOidc, describe, list],
});
