"""The pure core: appliances, VO mappings, ports and the use cases."""
