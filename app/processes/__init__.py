"""The process supervisor behind `sentimentops up/down/status/doctor`: which processes make up
the platform on one machine, how to tell they are ready, and how to stop exactly them."""
