"""Classification: what a flow's wire record and outcome mean for the clients that saw it."""
