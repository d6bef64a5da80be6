package sentimentops.tools_test

import rego.v1

import data.sentimentops.tools

human(roles, tenant) := {"subject": "alice", "kind": "human", "roles": roles, "tenant": tenant}

# The deployment sentry workflow: an agent by kind, none of the LangGraph agents (no `agent`).
agent(tenant) := {"subject": "planner", "kind": "agent", "roles": ["agent"], "tenant": tenant}

named_agent(name) := {"subject": sprintf("agent:%v", [name]), "kind": "agent", "roles": ["agent"], "tenant": "acme", "agent": name}

planner := named_agent("planner")

executor := named_agent("training-executor")

plan_hash := "a1b2"

# What the plan workflow passes once `approvers` approved plan `approved_hash`.
approved(approvers, approved_hash) := {
	"plan_hash": plan_hash,
	"requested_by": "human:carol",
	"plan_approved_by": [{"approver": a, "plan_hash": approved_hash} | some a in approvers],
}

agent_reason(tool) := sprintf("agents may call %v only with a human approval: agent plans need one before any step that changes state", [tool])

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

test_agent_read_only_tool_runs_without_approval if {
	d := tools.decision with input as {"principal": agent("acme"), "tenant": "acme", "tool": "compare_models", "params": {}}
	d.allow
	not d.needs_approval
}

test_agent_outside_read_only_list_needs_approval if {
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
		agent_reason("rollback_model"),
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

# --- Plans proposed by the LangGraph agents ----------------------------------------------------

test_planner_reads_without_approval if {
	every tool in ["get_service_metrics", "detect_drift", "compare_models", "score_texts"] {
		d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": tool, "params": {"task": "sarcasm"}}
		d.allow
		not d.needs_approval
	}
}

test_every_state_changing_planner_step_waits_for_the_plan_approval if {
	every tool in ["validate_dataset", "train_model", "evaluate_model", "set_canary", "rollback_model"] {
		d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": tool, "params": {"task": "sarcasm"}}
		d.allow
		d.needs_approval
		d.reasons == [agent_reason(tool)]
	}
}

test_staging_promotion_waits_for_the_plan_approval if {
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "promote_model", "params": {"target": "staging"}, "context": approved([], plan_hash)}
	d.needs_approval
	d.reasons == [agent_reason("promote_model")]
}

test_an_approval_of_this_plan_lets_its_later_steps_run if {
	every tool in ["set_canary", "train_model", "rollback_model"] {
		d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": tool, "params": {"task": "sarcasm"}, "context": approved(["human:bob"], plan_hash)}
		d.allow
		not d.needs_approval
	}
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "promote_model", "params": {"target": "staging"}, "context": approved(["human:bob"], plan_hash)}
	not d.needs_approval
}

test_an_approval_of_an_earlier_plan_hash_does_not_count if {
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "set_canary", "params": {}, "context": approved(["human:bob"], "old0")}
	d.needs_approval
	d.reasons == [agent_reason("set_canary")]
}

test_an_agents_approval_does_not_count if {
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "set_canary", "params": {}, "context": approved(["agent:sentry"], plan_hash)}
	d.needs_approval
}

test_the_requesters_approval_does_not_count if {
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "set_canary", "params": {}, "context": approved(["human:carol"], plan_hash)}
	d.needs_approval
}

test_the_requesters_approval_counts_where_config_allows_it if {
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "set_canary", "params": {}, "context": approved(["human:carol"], plan_hash)}
		with data.sentimentops.config.requester_may_approve_agent_plans as true
	not d.needs_approval
}

test_approvals_without_a_plan_hash_do_not_count if {
	context := {"plan_approved_by": [{"approver": "human:bob", "plan_hash": plan_hash}]}
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "set_canary", "params": {}, "context": context}
	d.needs_approval
}

test_other_approval_reasons_still_ask_after_the_plan_approval if {
	production := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "promote_model", "params": {"target": "production"}, "context": approved(["human:bob"], plan_hash)}
	production.allow
	production.reasons == ["promotion to production needs a human approval"]
	deep := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "rollback_model", "params": {"steps": 3}, "context": approved(["human:bob"], plan_hash)}
	deep.reasons == ["rolling back 3 versions needs a human approval"]
	admin := object.union(planner, {"roles": ["tenant_admin"]})
	deletion := tools.decision with input as {"principal": admin, "tenant": "acme", "tool": "delete_dataset", "params": {}, "context": approved(["human:bob"], plan_hash)}
	deletion.reasons == ["delete_dataset always needs a human approval"]
}

test_before_the_plan_approval_both_reasons_show if {
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "promote_model", "params": {"target": "production"}}
	d.allow
	d.reasons == [agent_reason("promote_model"), "promotion to production needs a human approval"]
}

test_the_plan_approval_does_not_change_a_persons_plan if {
	d := tools.decision with input as {"principal": human(["ml_engineer"], "acme"), "tenant": "acme", "tool": "promote_model", "params": {"target": "production"}, "context": approved(["human:bob"], plan_hash)}
	d.reasons == ["promotion to production needs a human approval"]
}

test_the_sentry_workflows_routine_rollback_needs_no_approval if {
	# Its principal carries no agent name (absent, or null as Python serialises it).
	every principal in [agent("acme"), object.union(agent("acme"), {"agent": null})] {
		d := tools.decision with input as {"principal": principal, "tenant": "acme", "tool": "rollback_model", "params": {"task": "sarcasm", "steps": 1}}
		not d.needs_approval
	}
}

test_the_sentry_agents_rollback_waits_for_a_human if {
	d := tools.decision with input as {"principal": named_agent("deployment-sentry"), "tenant": "acme", "tool": "rollback_model", "params": {"task": "sarcasm", "steps": 1}}
	d.needs_approval
	d.reasons == [agent_reason("rollback_model")]
}

# --- The training executor: staging yes, production never ---------------------------------------

test_training_executor_never_promotes_to_production if {
	every context in [{}, approved(["human:bob"], plan_hash)] {
		d := tools.decision with input as {"principal": executor, "tenant": "acme", "tool": "promote_model", "params": {"target": "production"}, "context": context}
		not d.allow
		d.reasons == ["the training-executor agent may never promote to production"]
	}
}

test_training_executor_promotes_to_staging_once_its_plan_is_approved if {
	waiting := tools.decision with input as {"principal": executor, "tenant": "acme", "tool": "promote_model", "params": {"target": "staging"}}
	waiting.allow
	waiting.reasons == [agent_reason("promote_model")]
	d := tools.decision with input as {"principal": executor, "tenant": "acme", "tool": "promote_model", "params": {"target": "staging"}, "context": approved(["human:bob"], plan_hash)}
	d.allow
	not d.needs_approval
}

test_the_planner_may_ask_for_production if {
	d := tools.decision with input as {"principal": planner, "tenant": "acme", "tool": "promote_model", "params": {"target": "production"}}
	d.allow
}

# The Data Curation agent's relabeling proposal: its project waits for a human approval of the
# plan; a curator may make one directly; a viewer or an annotator may not.
curator := named_agent("data-curation")

test_the_curation_agents_relabel_project_waits_for_a_human if {
	d := tools.decision with input as {"principal": curator, "tenant": "acme", "tool": "create_relabel_project", "params": {}, "context": {"plan_hash": plan_hash}}
	d.allow
	d.needs_approval
	d.reasons == [agent_reason("create_relabel_project")]
}

test_the_curation_agents_relabel_project_runs_once_its_plan_is_approved if {
	d := tools.decision with input as {"principal": curator, "tenant": "acme", "tool": "create_relabel_project", "params": {}, "context": approved(["human:dana"], plan_hash)}
	d.allow
	not d.needs_approval
}

test_a_curator_may_create_a_relabel_project if {
	d := tools.decision with input as {"principal": human(["analyst"], "acme"), "tenant": "acme", "tool": "create_relabel_project", "params": {}}
	d.allow
	not d.needs_approval
}

test_annotators_and_viewers_may_not_create_relabel_projects if {
	every role in ["viewer", "annotator", "approver"] {
		d := tools.decision with input as {"principal": human([role], "acme"), "tenant": "acme", "tool": "create_relabel_project", "params": {}}
		not d.allow
	}
}

test_feedback_accuracy_is_read_only_for_agents_and_the_sentry if {
	every principal in [planner, agent("acme"), named_agent("deployment-sentry")] {
		d := tools.decision with input as {"principal": principal, "tenant": "acme", "tool": "feedback_accuracy", "params": {"task": "sarcasm"}}
		d.allow
		not d.needs_approval
	}
}

test_feedback_accuracy_by_role if {
	every role in ["analyst", "ml_engineer", "tenant_admin"] {
		d := tools.decision with input as {"principal": human([role], "acme"), "tenant": "acme", "tool": "feedback_accuracy", "params": {"task": "sarcasm"}}
		d.allow
	}
	every role in ["viewer", "annotator", "approver"] {
		d := tools.decision with input as {"principal": human([role], "acme"), "tenant": "acme", "tool": "feedback_accuracy", "params": {"task": "sarcasm"}}
		not d.allow
	}
}
