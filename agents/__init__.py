"""LangGraph agents (planner, data curator, training executor, deployment sentry) that write plans
made of typed tool calls, and their LLM backends (a deterministic rule-based planner by default,
any OpenAI-compatible endpoint in scale-out). Arrives with the agents issue."""
