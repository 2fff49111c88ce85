import { group } from "../../../spec.js";
import addIamPolicyBinding from "./add-iam-policy-binding.js";
import create from "./create.js";
import del from "./delete.js";
import describe from "./describe.js";
import disable from "./disable.js";
import enable from "./enable.js";
import getIamPolicy from "./get-iam-policy.js";
import keys from "./keys/index.js";
import list from "./list.js";
import removeIamPolicyBinding from "./remove-iam-policy-binding.js";
import setIamPolicy from "./set-iam-policy.js";
import undelete from "./undelete.js";
import update from "./update.js";

export default group({
  name: "service-accounts",
  summary: "create and manage service accounts and who may act as them",
  children: [
    create,
    list,
    describe,
    update,
    disable,
    enable,
    del,
    undelete,
    getIamPolicy,
    setIamPolicy,
    addIamPolicyBinding,
    removeIamPolicyBinding,
    keys,
  ],
});
