package sentimentops.approvals_test

import rego.v1

import data.sentimentops.approvals

bob := {"subject": "bob", "actor": "human:bob", "kind": "human", "roles": ["approver"]}

carol := {"subject": "carol", "actor": "human:carol", "kind": "human", "roles": ["approver"]}

# A plan the planner proposed because carol asked for it.
agent_plan := {"requester": "agent:planner-acme", "requester_kind": "agent", "requested_by": "human:carol"}

# A plan alice proposed herself.
person_plan := {"requester": "alice", "requester_kind": "human", "requested_by": null}

test_another_person_approves_an_agent_plan if {
	d := approvals.decision with input as {"approver": bob, "request": agent_plan}
	d.allow
	d.reasons == []
}

test_the_person_who_asked_the_agent_cannot_approve if {
	d := approvals.decision with input as {"approver": carol, "request": agent_plan}
	not d.allow
	d.reasons == ["the person who asked the agent for this plan cannot approve it"]
}

test_the_requester_is_recognised_by_subject_too if {
	by_subject := object.union(agent_plan, {"requested_by": "carol"})
	d := approvals.decision with input as {"approver": carol, "request": by_subject}
	not d.allow
}

test_config_may_let_the_requester_approve if {
	d := approvals.decision with input as {"approver": carol, "request": agent_plan}
		with data.sentimentops.config.requester_may_approve_agent_plans as true
	d.allow
}

test_an_agent_account_never_approves if {
	sentry := {"subject": "s1", "actor": "agent:s1", "kind": "agent", "roles": ["approver"]}
	d := approvals.decision with input as {"approver": sentry, "request": person_plan}
	not d.allow
	d.reasons == ["an agent can never approve a plan"]
}

test_an_account_holding_the_agent_role_never_approves if {
	bot := {"subject": "bot", "actor": "service:bot", "kind": "service", "roles": ["approver", "agent"]}
	d := approvals.decision with input as {"approver": bot, "request": agent_plan}
	not d.allow
	d.reasons == ["an agent can never approve a plan"]
}

test_the_agent_never_approves_its_own_plan if {
	planner := {"subject": "planner-acme", "actor": "agent:planner-acme", "kind": "agent", "roles": ["agent"]}
	d := approvals.decision with input as {"approver": planner, "request": agent_plan}
	d.reasons == ["an agent can never approve a plan", "the proposer of a plan cannot approve it"]
}

test_the_proposer_cannot_approve if {
	alice := {"subject": "alice", "actor": "human:alice", "kind": "human", "roles": ["approver"]}
	d := approvals.decision with input as {"approver": alice, "request": person_plan}
	not d.allow
	d.reasons == ["the proposer of a plan cannot approve it"]
}

test_a_service_account_approves_a_persons_plan if {
	checker := {"subject": "c1", "actor": "service:c1", "kind": "service", "roles": ["approver"]}
	d := approvals.decision with input as {"approver": checker, "request": person_plan}
	d.allow
}

test_an_unnamed_approver_is_refused if {
	d := approvals.decision with input as {"request": person_plan}
	not d.allow
	d.reasons == ["the approver is unknown"]
}
