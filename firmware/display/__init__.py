"""The meter display: LCD model, display lists, push button, renderers and LCD drivers."""
