"""AWS policies, one module per family (inputs use the provider's camelCase wire names)."""
