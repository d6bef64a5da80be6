"""The Slack app: chat with the planner in a Slack thread, approve plans with buttons, and the
Slack notifier. It sits on the approvals floor; what it needs from the floors above (the agents'
threads, the plans' progress) comes in through the ports in approvals/slack/ports.py, which the
app layer (app/slack.py) fills."""
