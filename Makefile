# The two commands of the README, plus small conveniences. Each target runs scripts/setup first,
# which installs only what is missing.
.PHONY: up test setup down status doctor

up: setup
	.venv/bin/sentimentops up

test:
	scripts/test

setup:
	scripts/setup

down:
	.venv/bin/sentimentops down

status:
	.venv/bin/sentimentops status

doctor:
	.venv/bin/sentimentops doctor
