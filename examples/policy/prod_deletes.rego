# No delete in prod without a label: a deployctl plan JSON policy for conftest or OPA.
#
# A plan for environment prod may delete or replace a deployment only if the config it was
# last applied with says allow_delete: "true". Label it (apply that), then remove it. Deletes
# of deployments already gone from their target (delete_because_gone: only the state changes)
# pass; any other delete or replace is denied, whatever action_reason a later deployctl adds.
#
#   conftest test --policy examples/policy prod.plan.json
#   opa eval --fail-defined -d examples/policy -i prod.plan.json 'data.main.deny[msg]'
package main

import rego.v1

deny contains msg if {
	input.environment == "prod"
	some rc in input.resource_changes
	rc.type == "mlflow_deployment"
	rc.mode == "managed"
	"delete" in rc.change.actions # ["delete"], or ["delete", "create"]: a replace
	rc.action_reason != "delete_because_gone"
	not labelled(rc)
	msg := sprintf(
		"%s: %s in prod (%s: %s) needs allow_delete: \"true\" in its applied config; apply that label first",
		[rc.address, verb(rc), rc.action_reason, rc.action_reason_text],
	)
}

labelled(rc) if rc.change.before.config.allow_delete in {"true", true}

verb(rc) := "replace" if {
	"create" in rc.change.actions
} else := "delete"
