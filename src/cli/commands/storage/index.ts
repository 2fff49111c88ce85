import { group } from "../../spec.js";
import buckets from "./buckets.js";
import cat from "./cat.js";
import cp from "./cp.js";
import ls from "./ls.js";
import rm from "./rm.js";

export default group({
  name: "storage",
  summary: "list, copy and delete Cloud Storage objects and buckets",
  description:
    "gcloud storage's everyday commands against Warrant's Cloud Storage API. On an instance " +
    '(`eval "$(warrant env --instance NAME)"`) they run as the instance\'s service account with no login.',
  children: [buckets, ls, cp, cat, rm],
});
