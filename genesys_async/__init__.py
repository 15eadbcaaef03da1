"""Export Genesys Cloud CX conversation analytics at the API rate limit."""

__all__: list[str] = []
