"""The pull-request report: diff of two offline previews, policy comparison, cost estimate
and architecture diagram."""
