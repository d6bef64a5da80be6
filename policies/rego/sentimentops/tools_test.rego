package sentimentops.tools_test

import rego.v1

import data.sentimentops.tools

human(roles, tenant) := {"subject": "alice", "kind": "human", "roles": roles, "tenant": tenant}

agent(tenant) := {"subject": "planner", "kind": "agent", "roles": ["agent"], "tenant": tenant}

test_engineer_may_train_in_own_tenant if {
	d := tools.decision with input as {"principal": human(["ml_engineer"], "acme"), "tenant": "acme", "tool": "train_model", "params": {}}
	d.allow
	not d.needs_approval
}

test_viewer_may_not_train if {
	d := tools.decision with input as {"principal": human(["viewer"], "acme"), "tenant": "acme", "tool": "train_model", "params": {}}
	not d.allow
	d.reasons == ["no role of alice may call train_model"]
}

test_other_tenant_is_denied if {
	d := tools.decision with input as {"principal": human(["tenant_admin"], "acme"), "tenant": "globex", "tool": "train_model", "params": {}}
	not d.allow
	d.reasons == ["alice belongs to tenant acme, not globex"]
}

test_platform_admin_crosses_tenants if {
	d := tools.decision with input as {"principal": human(["platform_admin"], "ops"), "tenant": "globex", "tool": "rollback_model", "params": {"steps": 2}}
	d.allow
	d.needs_approval
}

test_promotion_to_staging_needs_no_approval if {
	d := tools.decision with input as {"principal": human(["ml_engineer"], "acme"), "tenant": "acme", "tool": "promote_model", "params": {"target": "staging"}}
	d.allow
	not d.needs_approval
}

test_promotion_to_production_needs_approval if {
	d := tools.decision with input as {"principal": human(["ml_engineer"], "acme"), "tenant": "acme", "tool": "promote_model", "params": {"target": "production"}}
	d.allow
	d.needs_approval
	d.reasons == ["promotion to production needs a human approval"]
}

test_agent_safe_tool_runs_without_approval if {
	d := tools.decision with input as {"principal": agent("acme"), "tenant": "acme", "tool": "evaluate_model", "params": {}}
	d.allow
	not d.needs_approval
}

test_agent_outside_safe_list_needs_approval if {
	d := tools.decision with input as {"principal": agent("acme"), "tenant": "acme", "tool": "set_canary", "params": {}}
	d.allow
	d.needs_approval
}

test_rollback_of_one_version_needs_no_approval if {
	d := tools.decision with input as {"principal": human(["tenant_admin"], "acme"), "tenant": "acme", "tool": "rollback_model", "params": {}}
	d.allow
	not d.needs_approval
}

test_rollback_beyond_one_version_needs_approval if {
	d := tools.decision with input as {"principal": human(["ml_engineer"], "acme"), "tenant": "acme", "tool": "rollback_model", "params": {"steps": 2}}
	d.allow
	d.needs_approval
	d.reasons == ["rolling back 2 versions needs a human approval"]
}

test_deleting_data_needs_approval if {
	d := tools.decision with input as {"principal": human(["tenant_admin"], "acme"), "tenant": "acme", "tool": "delete_dataset", "params": {}}
	d.allow
	d.needs_approval
	d.reasons == ["delete_dataset always needs a human approval"]
}

test_approver_may_not_promote if {
	d := tools.decision with input as {"principal": human(["approver"], "acme"), "tenant": "acme", "tool": "promote_model", "params": {"target": "staging"}}
	not d.allow
}

test_unknown_tool_is_denied if {
	d := tools.decision with input as {"principal": human(["tenant_admin"], "acme"), "tenant": "acme", "tool": "rm_rf", "params": {}}
	not d.allow
}

test_missing_principal_is_denied if {
	d := tools.decision with input as {"tenant": "acme", "tool": "train_model"}
	not d.allow
}

test_agent_may_roll_back_one_version_without_approval if {
	d := tools.decision with input as {"principal": agent("acme"), "tenant": "acme", "tool": "rollback_model", "params": {"task": "sarcasm", "steps": 1}}
	d.allow
	not d.needs_approval
}

test_agent_rollback_beyond_one_version_needs_approval if {
	d := tools.decision with input as {"principal": agent("acme"), "tenant": "acme", "tool": "rollback_model", "params": {"task": "sarcasm", "steps": 2}}
	d.allow
	d.needs_approval
	d.reasons == [
		"agents may call rollback_model only with a human approval",
		"rolling back 2 versions needs a human approval",
	]
}

test_agent_within_its_hourly_budget_is_allowed if {
	d := tools.decision with input as {"principal": agent("acme"), "tenant": "acme", "tool": "score_texts", "params": {}, "context": {"agent_actions_last_hour": 119}}
	d.allow
}

test_agent_over_its_hourly_budget_is_denied if {
	d := tools.decision with input as {"principal": agent("acme"), "tenant": "acme", "tool": "score_texts", "params": {}, "context": {"agent_actions_last_hour": 120}}
	not d.allow
	d.reasons == ["agent planner reached its limit of 120 tool calls per hour"]
}

test_humans_have_no_hourly_budget if {
	d := tools.decision with input as {"principal": human(["ml_engineer"], "acme"), "tenant": "acme", "tool": "train_model", "params": {}, "context": {"agent_actions_last_hour": 10000}}
	d.allow
}
