import { group } from "../../spec.js";
import copy from "./copy.js";
import reseal from "./reseal.js";

export default group({
  name: "datastore",
  summary: "move an installation's state between datastores",
  description:
    "Warrant keeps its state in the embedded SQLite file of a state directory by default, or in PostgreSQL " +
    "(`warrant serve --datastore=postgres://…`; see docs/datastore.md). These commands work on the stores " +
    "directly; they need no running server.",
  children: [copy, reseal],
});
