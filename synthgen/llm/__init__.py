"""The client engine: one async client over the openai SDK, its cache, limits and costs."""
