"""Problem messages of geo.validate (zh, en), merged into geo.messages.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
