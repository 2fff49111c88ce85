import { group } from "../../spec.js";
import addIamPolicyBinding from "./add-iam-policy-binding.js";
import create from "./create.js";
import describe from "./describe.js";
import getIamPolicy from "./get-iam-policy.js";
import importProject from "./import.js";
import list from "./list.js";
import removeIamPolicyBinding from "./remove-iam-policy-binding.js";
import setIamPolicy from "./set-iam-policy.js";

export default group({
  name: "projects",
  summary: "create and manage projects and their IAM policies",
  children: [
    create,
    list,
    describe,
    getIamPolicy,
    setIamPolicy,
    addIamPolicyBinding,
    removeIamPolicyBinding,
    importProject,
  ],
});
