import { group } from "../../spec.js";
import print from "./print.js";

export default group({
  name: "ca",
  summary: "the local certificate authority behind Warrant's HTTPS and interception proxy",
  children: [print],
});
