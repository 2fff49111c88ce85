import { group } from "../../spec.js";
import get from "./get.js";
import list from "./list.js";
import set from "./set.js";
import show from "./show.js";
import unset from "./unset.js";

export default group({
  name: "config",
  summary:
    "view and edit warrant CLI properties (project, endpoint, credential_file); show the serve configuration",
  description:
    "Properties are defaults for the --project, --endpoint and --credential-file flags. Precedence: flag, " +
    "then environment (WARRANT_PROJECT/CLOUDSDK_CORE_PROJECT, WARRANT_ENDPOINT, WARRANT_CREDENTIAL_FILE), " +
    "then property, then the running server's <state-dir>/server.json. `warrant config show` prints the " +
    "effective `warrant serve` configuration (flags, environment, warrant.yaml) with each setting's source.",
  children: [set, get, unset, list, show],
});
